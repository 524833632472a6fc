//! Every numeric flag's parser, in one place: each wraps a `stylegan_wgpu::limits` parser (the
//! page uses the same ones), so a value that is not finite, not whole, negative or out of range
//! is refused while the command line is parsed, with clap naming the flag:
//! `invalid value 'nan' for '--lr <LR>': not a finite number`.

use std::path::PathBuf;

use stylegan_wgpu::data::Transform;
use stylegan_wgpu::io::format::FileFormat;
use stylegan_wgpu::limits;

/// Largest minibatch a flag accepts: far above any official setting (32 images per GPU), and
/// small enough that its host buffers are bounded before the dataset is read.
pub const MAX_BATCH: u64 = 4096;

/// Largest kimg of a training length: 10^6 kimg is a billion images, 40x the official runs.
const MAX_KIMG: f64 = 1e6;

/// The value `limits` parsed, or its error's reason without the "what \"value\": " prefix,
/// which clap's own message already gives.
fn why<T>(r: stylegan_wgpu::Result<T>, s: &str) -> Result<T, String> {
    r.map_err(|e| {
        let m = e.to_string();
        let prefix = format!("value {s:?}: ");
        m.strip_prefix(&prefix).map_or(m.clone(), str::to_string)
    })
}

fn count(s: &str, min: u64, max: u64) -> Result<usize, String> {
    why(limits::parse_count("value", s, min, max), s).map(|v| v as usize)
}

fn float(s: &str, min: f64, max: f64, positive: bool) -> Result<f64, String> {
    if positive {
        why(limits::parse_positive("value", s, max), s)
    } else {
        why(limits::parse_f64("value", s, min, max), s)
    }
}

/// A minibatch: 1 to [`MAX_BATCH`] images.
pub fn batch(s: &str) -> Result<usize, String> {
    count(s, 1, MAX_BATCH)
}

/// A count of at least 1 (images, steps, epochs, samples, iterations) up to 2^32 - 1.
pub fn positive_count(s: &str) -> Result<usize, String> {
    count(s, 1, u32::MAX as u64)
}

/// A seed: a whole number in [0, 2^64 - 1].
pub fn seed(s: &str) -> Result<u64, String> {
    why(limits::parse_count("value", s, 0, u64::MAX), s)
}

/// Samples of an average (the projector's --w-avg-samples, official 10,000): 1 to 10^6.
pub fn samples(s: &str) -> Result<usize, String> {
    count(s, 1, 1_000_000)
}

/// Interpolation frames: 2 to `limits::MAX_FRAMES`.
pub fn frames(s: &str) -> Result<usize, String> {
    count(s, 2, limits::MAX_FRAMES)
}

/// A network width or size from a flag (--fmap-base, --fmap-max, --latent-size): 1 to 65536,
/// 8x the official 8192 / 512; past it one layer's weights outgrow any GPU.
pub fn width(s: &str) -> Result<usize, String> {
    count(s, 1, 1 << 16)
}

/// Discriminator blocks to freeze: 0 to 16 (a 1024² D has 8 above 4x4; the trainer checks
/// the model's own count).
pub fn blocks(s: &str) -> Result<usize, String> {
    count(s, 0, 16)
}

/// A rate per resolution, `RES:RATE,...` (e.g. `128:0.0015,256:0.002`, the release's
/// `G_lrate_dict`): power-of-two resolutions from 4 to 8192, rates greater than 0 and at most
/// 10.
pub fn lr_per_res(s: &str) -> Result<std::collections::BTreeMap<usize, f32>, String> {
    per_res(s, "RES:RATE, e.g. 128:0.0015", lr)
}

/// A minibatch per resolution, `RES:N,...` (e.g. `4:512,8:256`, the release's
/// `minibatch_dict`): power-of-two resolutions from 4 to 8192, minibatches 1 to
/// [`MAX_BATCH`].
pub fn batch_per_res(s: &str) -> Result<std::collections::BTreeMap<usize, usize>, String> {
    per_res(s, "RES:N, e.g. 4:512", batch)
}

/// `RES:VALUE,...` pairs, each resolution once, each value parsed by `value`.
fn per_res<T>(
    s: &str,
    form: &str,
    value: impl Fn(&str) -> Result<T, String>,
) -> Result<std::collections::BTreeMap<usize, T>, String> {
    let mut out = std::collections::BTreeMap::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (res, v) = part
            .split_once(':')
            .ok_or_else(|| format!("{part:?}: expected {form}"))?;
        let res = resolution(res.trim()).map_err(|e| format!("{part:?}: {e}"))?;
        let v = value(v.trim()).map_err(|e| format!("{part:?}: {e}"))?;
        if out.insert(res, v).is_some() {
            return Err(format!("resolution {res} is given twice"));
        }
    }
    if out.is_empty() {
        let pairs = form.split(',').next().unwrap_or(form);
        return Err(format!("no {pairs} pairs"));
    }
    Ok(out)
}

/// Mapping layers: 1 to 64 (official 8).
pub fn layers(s: &str) -> Result<usize, String> {
    count(s, 1, 64)
}

/// A network's number of classes (`--label-size`): 0 (unconditional) to
/// `nn::config::MAX_LABEL_SIZE`.
pub fn label_size(s: &str) -> Result<usize, String> {
    count(s, 0, stylegan_wgpu::nn::config::MAX_LABEL_SIZE as u64)
}

/// Image channels: 1 to 4.
pub fn channels(s: &str) -> Result<usize, String> {
    count(s, 1, 4)
}

/// Channels of images written or read as a dataset: 1 (grayscale) or 3 (RGB).
pub fn image_channels(s: &str) -> Result<usize, String> {
    match count(s, 1, 3)? {
        2 => Err("must be 1 (grayscale) or 3 (RGB)".into()),
        c => Ok(c),
    }
}

/// A resolution: a power of two from 4 to 8192 (the official networks stop at 1024).
pub fn resolution(s: &str) -> Result<usize, String> {
    let r = count(s, 4, 8192)?;
    if !r.is_power_of_two() {
        return Err(format!("{r} is not a power of two"));
    }
    Ok(r)
}

/// `--transform`: how images are fitted to a resolution (`stylegan_wgpu::data::Transform`).
pub fn transform(s: &str) -> Result<Transform, String> {
    s.parse::<Transform>().map_err(|e| e.to_string())
}

/// A training length in kimg: greater than 0.
pub fn kimg(s: &str) -> Result<f64, String> {
    float(s, 0.0, MAX_KIMG, true)
}

/// A duration in kimg that may be 0 (an EMA half-life of 0 copies G; a schedule phase of 0
/// skips it).
pub fn kimg_or_zero(s: &str) -> Result<f32, String> {
    float(s, 0.0, MAX_KIMG, false).map(|v| v as f32)
}

/// A learning rate: greater than 0, at most 10.
pub fn lr(s: &str) -> Result<f32, String> {
    float(s, 0.0, 10.0, true).map(|v| v as f32)
}

/// A loss weight (R1 gamma, a feature weight): 0 to 10^6.
pub fn weight(s: &str) -> Result<f32, String> {
    float(s, 0.0, 1e6, false).map(|v| v as f32)
}

/// A probability of dropping a unit: 0 to 0.99.
pub fn dropout(s: &str) -> Result<f32, String> {
    float(s, 0.0, 0.99, false).map(|v| v as f32)
}

/// Frames per second: greater than 0, at most 100 (GIF delays are in hundredths of a second).
pub fn fps(s: &str) -> Result<f64, String> {
    float(s, 0.0, 100.0, true)
}

/// `fid --dims`: one of pytorch-fid's Inception feature widths, 64, 192, 768 or 2048.
pub fn fid_dims(s: &str) -> Result<usize, String> {
    let d = count(s, 1, 2048)?;
    if !stylegan_wgpu::eval::inception::DIMS.contains(&d) {
        return Err(format!("{d}: pytorch-fid's dims are 64, 192, 768 or 2048"));
    }
    Ok(d)
}

/// `--trunc`: a finite psi with `|psi| <= MAX_ABS_TRUNCATION_PSI`.
pub fn psi(s: &str) -> Result<f32, String> {
    why(limits::parse_psi("value", s), s)
}

/// An output path whose extension is one of `allowed` (`io::format::FileFormat::expect`
/// decides for every writer), checked while the command line is parsed.
fn out_path(s: &str, allowed: &[FileFormat]) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    FileFormat::expect(&p, "this flag", allowed).map_err(|e| e.to_string())?;
    Ok(p)
}

/// An image output: .png, .jpg or .jpeg.
pub fn out_image(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Png, FileFormat::Jpeg])
}

/// A GIF output: .gif.
pub fn out_gif(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Gif])
}

/// A video output: .mp4.
pub fn out_mp4(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Mp4])
}

/// `--upscale`: a whole factor from 1 to `frames::MAX_UPSCALE`.
pub fn upscale(s: &str) -> Result<usize, String> {
    count(s, 1, stylegan_wgpu::io::frames::MAX_UPSCALE as u64)
}

/// An array output: .npy.
pub fn out_npy(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Npy])
}

/// A numpy archive output: .npz.
pub fn out_npz(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Npz])
}

/// `fid --save-stats`: an .npz, with a hint for pytorch-fid's order (`--save-stats DATA OUT`),
/// which puts the data where the output belongs.
pub fn out_stats(s: &str) -> Result<PathBuf, String> {
    out_npz(s).map_err(|e| {
        format!(
            "{e} (pytorch-fid's `--save-stats DATA OUT.npz` is written `stylegan fid DATA \
             --save-stats OUT.npz` here)"
        )
    })
}

/// A report output: .json.
pub fn out_json(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Json])
}

/// A log a record is appended to: .jsonl (or .json).
pub fn out_jsonl(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Jsonl, FileFormat::Json])
}

/// A dataset archive output: .zip.
pub fn out_zip(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Zip])
}

/// A weights output: .safetensors.
pub fn out_safetensors(s: &str) -> Result<PathBuf, String> {
    out_path(s, &[FileFormat::Safetensors])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_refuses_what_it_must() {
        assert_eq!(batch("16"), Ok(16));
        assert_eq!(batch("0").unwrap_err(), "outside [1, 4096]");
        assert_eq!(batch("1073741824").unwrap_err(), "outside [1, 4096]");
        assert_eq!(batch("2.5").unwrap_err(), "must be a whole number");
        assert_eq!(frames("4294967295").unwrap_err(), "outside [2, 10000]");
        assert_eq!(kimg("nan").unwrap_err(), "not a finite number");
        assert_eq!(kimg("-1").unwrap_err(), "outside [0, 1000000]");
        assert_eq!(kimg("0").unwrap_err(), "must be greater than 0");
        assert_eq!(kimg_or_zero("nan").unwrap_err(), "not a finite number");
        assert_eq!(lr("-1").unwrap_err(), "outside [0, 10]");
        assert_eq!(weight("-1").unwrap_err(), "outside [0, 1000000]");
        assert_eq!(width("4294967295").unwrap_err(), "outside [1, 65536]");
        assert_eq!(resolution("48").unwrap_err(), "48 is not a power of two");
        assert_eq!(psi("1e30").unwrap_err(), "outside [-10, 10]");
        assert_eq!(seed("18446744073709551615"), Ok(u64::MAX));
        assert!(out_gif("x.png").unwrap_err().contains("writes .gif"));
        assert!(out_image("g.jpeg").is_ok());
        let m = lr_per_res("128:0.0015, 256:0.002").unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [(128, 0.0015), (256, 0.002)]
        );
        assert!(lr_per_res("48:0.1")
            .unwrap_err()
            .contains("not a power of two"));
        assert!(lr_per_res("64:nan")
            .unwrap_err()
            .contains("not a finite number"));
        assert!(lr_per_res("64").unwrap_err().contains("RES:RATE"));
        assert_eq!(lr_per_res("").unwrap_err(), "no RES:RATE pairs");
        let m = batch_per_res("4:512, 8:256,64:32").unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [(4, 512), (8, 256), (64, 32)]
        );
        assert!(batch_per_res("8:0")
            .unwrap_err()
            .contains("outside [1, 4096]"));
        assert!(batch_per_res("8:2.5").unwrap_err().contains("whole number"));
        assert!(batch_per_res("12:4")
            .unwrap_err()
            .contains("not a power of two"));
        assert!(batch_per_res("8:4,8:2")
            .unwrap_err()
            .contains("given twice"));
        assert!(batch_per_res("8").unwrap_err().contains("RES:N"));
        assert!(out_zip("d.tar").unwrap_err().contains("writes .zip"));
        assert_eq!(transform("pad"), Ok(Transform::Pad));
        assert!(transform("stretch").unwrap_err().contains("center-crop"));
    }
}
