//! How many images the networks can take in one GPU pass: every tensor must fit one storage
//! binding of the adapter (`Gpu::max_tensor_bytes`; 128 MiB on lavapipe, WebGPU's default, and
//! common on DX12 and Metal), and a batch's largest activation grows with the batch. Runners
//! (`Generator`'s inference entry points, `Trainer::step`) split a batch into passes that fit,
//! so any `--batch` runs on any adapter; the results equal the unsplit ones up to the order of
//! floating-point sums.

use crate::error::{Error, Result};
use crate::nn::config::Config;

/// Bytes of the largest tensor one image needs in G's or D's forward or backward pass: at each
/// side `s = 2^r` the layers hold `nf(r-1)` channels and the image `num_channels`; where a
/// resampling conv is not fused, `nf(r-2)` channels also live at side `s` (G's unfused up-path
/// upsamples its input before the conv, D's unfused down-path convolves before the box
/// filter). Gradients have the shapes of their activations; weight-gradient partial sums do not
/// grow with the image count and are far smaller.
pub fn activation_bytes_per_image(cfg: &Config) -> u64 {
    (2..=cfg.log2_res())
        .map(|r| {
            let s = 1usize << r;
            let unfused = r >= 3 && (!cfg.fused_up(s) || !cfg.fused_down(s));
            let c = cfg
                .nf(r - 1)
                .max(if unfused { cfg.nf(r - 2) } else { 0 })
                .max(cfg.num_channels);
            4 * c as u64 * (s * s) as u64
        })
        .max()
        .unwrap_or(0)
}

/// The largest `fmap_base` (halving the config's) with which `images` images fit one pass of
/// `max_tensor_bytes`: the flag value an error can suggest. Channels at high resolutions come
/// from `fmap_base` (`nf(s) = fmap_base / 2^s`), not from `fmap_max`.
pub fn fitting_fmap_base(cfg: &Config, max_tensor_bytes: u64, images: u64) -> Option<usize> {
    let mut c = cfg.clone();
    while c.fmap_base > 1 {
        c.fmap_base /= 2;
        if activation_bytes_per_image(&c).saturating_mul(images) <= max_tensor_bytes {
            return Some(c.fmap_base);
        }
    }
    None
}

/// "--fmap-base N" when a smaller network would fit, for error messages.
pub(crate) fn cure(cfg: &Config, max_tensor_bytes: u64, images: u64) -> String {
    match fitting_fmap_base(cfg, max_tensor_bytes, images) {
        Some(b) => format!("fewer channels (--fmap-base {b} fits)"),
        None => "a lower resolution (not even the image's own channels fit)".into(),
    }
}

/// The most images one pass may hold so that no tensor exceeds `max_tensor_bytes`; an error
/// when not even one image fits.
pub fn images_per_pass(cfg: &Config, max_tensor_bytes: u64) -> Result<usize> {
    let per = activation_bytes_per_image(cfg).max(1);
    let n = max_tensor_bytes / per;
    if n == 0 {
        return Err(Error::OutOfMemory {
            bytes: per,
            what: format!(
                "one {}x{} image's largest activation: the adapter's largest storage binding \
                 holds {} MiB, so no batch size fits; use {} or an adapter with larger bindings",
                cfg.resolution,
                cfg.resolution,
                max_tensor_bytes >> 20,
                cure(cfg, max_tensor_bytes, 1)
            ),
        });
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Refuses, before anything is allocated, a config whose weights cannot be held: the largest
/// weight tensor must fit one storage binding of `max_tensor_bytes` (when given: an adapter's
/// limit), and G, Gs and D together half of the host's available memory
/// (`limits::check_host_bytes`). Widths come from flags and files (`--latent-size`,
/// `--fmap-base`, a model's config), and a few of them multiply: a 65536-wide mapping layer
/// alone is 16 GiB.
pub fn check_weights_fit(cfg: &Config, max_tensor_bytes: Option<u64>) -> Result<()> {
    use crate::nn::params::{discriminator_specs, generator_specs};
    let bytes = |shape: &[usize]| shape.iter().fold(4u64, |b, &d| b.saturating_mul(d as u64));
    let (g, d) = (generator_specs(cfg), discriminator_specs(cfg));
    let total_g: u64 = g
        .iter()
        .map(|s| bytes(&s.shape))
        .fold(0, u64::saturating_add);
    let total_d: u64 = d
        .iter()
        .map(|s| bytes(&s.shape))
        .fold(0, u64::saturating_add);
    if let Some(limit) = max_tensor_bytes {
        if let Some(big) = g.iter().chain(&d).max_by_key(|s| bytes(&s.shape)) {
            let b = bytes(&big.shape);
            if b > limit {
                return Err(Error::OutOfMemory {
                    bytes: b,
                    what: format!(
                        "weight {} {:?} (more than the adapter's largest storage binding, {} \
                         MiB): use smaller widths (--latent-size, --fmap-base, --fmap-max)",
                        big.name,
                        big.shape,
                        limit >> 20
                    ),
                });
            }
        }
    }
    crate::limits::check_host_bytes(
        "the network's weights (G, Gs and D)",
        total_g.saturating_mul(2).saturating_add(total_d),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_that_no_binding_holds_are_refused_before_allocation() {
        let limit = Some(128u64 << 20);
        // The official 1024² networks' largest weight is 9 MiB (3x3x512x512).
        assert!(check_weights_fit(&Config::preset("ffhq").unwrap(), limit).is_ok());
        let mut cfg = Config::preset("tiny").unwrap();
        cfg.latent_size = 65536;
        cfg.mapping_fmaps = 65536;
        let e = check_weights_fit(&cfg, limit).unwrap_err().to_string();
        assert!(
            e.contains("G_mapping/Dense0/weight [65536, 65536]") && e.contains("--latent-size"),
            "{e}"
        );
    }

    #[test]
    fn official_widths_on_a_128_mib_binding() {
        let mib = 1u64 << 20;
        let mut cfg = Config::preset("ffhq").unwrap();
        // 1024²: 16 channels (nf(9)) at 1024², fused up-conv: 64 MiB per image.
        assert_eq!(activation_bytes_per_image(&cfg), 4 * 16 * 1024 * 1024);
        assert_eq!(images_per_pass(&cfg, 128 * mib).unwrap(), 2);
        // 256²: 64 channels at 256² (16 MiB), and 512 at 64², unfused (8 MiB).
        cfg.resolution = 256;
        assert_eq!(activation_bytes_per_image(&cfg), 4 * 64 * 256 * 256);
        assert_eq!(images_per_pass(&cfg, 128 * mib).unwrap(), 8);
        // Unfused everywhere, the up-path holds nf(r-2) at every side: 128 channels at 256².
        cfg.fused_scale = crate::nn::config::FusedScale::Off;
        assert_eq!(activation_bytes_per_image(&cfg), 4 * 128 * 256 * 256);
        cfg.fused_scale = crate::nn::config::FusedScale::Auto;
        cfg.resolution = 4096;
        let e = images_per_pass(&cfg, 128 * mib).unwrap_err().to_string();
        assert!(
            e.contains("no batch size fits") && e.contains("4096x4096"),
            "{e}"
        );
        // 4096² RGB: the image alone is 192 MiB.
        assert!(e.contains("lower resolution"), "{e}");
        // 2048² with twice the official base: 16 channels at 2048², 256 MiB; the official
        // base fits.
        cfg.resolution = 2048;
        cfg.fmap_base = 16384;
        let e = images_per_pass(&cfg, 128 * mib).unwrap_err().to_string();
        assert!(e.contains("--fmap-base 8192 fits"), "{e}");
        cfg.fmap_base = 8192;
        assert_eq!(images_per_pass(&cfg, 128 * mib).unwrap(), 1);
    }
}
