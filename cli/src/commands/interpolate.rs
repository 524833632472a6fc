//! `stylegan interpolate`: frames along a path through key seeds, in Z (slerp) or W (lerp).

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::gen_common::{
    check_finite_images, class_flag, describe_classes, load_generator, map_all, map_all_labels,
    synthesize_each, SynthArgs,
};
use super::progress::Bar;
use super::stop;
use super::video::{save_gif_upscaled, write_video};
use stylegan_wgpu::io::images::save_png;
use stylegan_wgpu::nn::labels::{blend_classes, classes_of_seeds};
use stylegan_wgpu::rng::{parse_seeds, slerp, NumpyRandomState};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum Space {
    /// Spherical interpolation of the latents z, each frame mapped to w.
    Z,
    /// Linear interpolation of the (truncated) dlatents w of the key seeds.
    W,
}

/// Interpolation video frames between seeds.
///
/// The frames are spread evenly over the segments between consecutive seeds (and from the last
/// back to the first with --loop, so the sequence repeats seamlessly). The first frame is the
/// first seed; without --loop the last frame is the last seed.
///
/// Examples:
///   stylegan interpolate --model ffhq.pkl --seeds 1,2,3 --frames 90 --outdir frames --gif walk.gif --loop
///   stylegan interpolate --model m.safetensors --seeds 0-3 --frames 60 --space w --trunc 0.7 --outdir frames
///   stylegan interpolate --seeds 1,2,3 --loop --outdir frames --video walk.mp4 --upscale 8
///
/// On a class-conditional model --class gives every frame that class; without it each key
/// seed s has its own, class s mod label_size, and the frames between two keys of different
/// classes blend their labels as they go (in z: the label row (1 - t) * one_hot(a) + t *
/// one_hot(b), which the mapping network's linear label embedding takes as the same blend;
/// in w: the lerp of the keys' w, each mapped with its own class).
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct InterpolateArgs {
    /// Key seeds in order, at least two, e.g. "1,2,3".
    #[arg(long)]
    pub seeds: String,
    /// Number of frames in all.
    #[arg(long, value_parser = flags::frames, default_value_t = 60)]
    pub frames: usize,
    /// Interpolate in z (slerp) or w (lerp).
    #[arg(long, value_enum, default_value = "z")]
    pub space: Space,
    /// Return from the last seed to the first.
    #[arg(long = "loop")]
    pub looped: bool,
    /// Write the frames here as frame0000.png, frame0001.png, ...
    #[arg(long)]
    pub outdir: PathBuf,
    /// Also write the frames as a looping animated GIF.
    #[arg(long, value_parser = flags::out_gif)]
    pub gif: Option<PathBuf>,
    /// Also write the frames as an H.264 MP4 through ffmpeg when it is on PATH (else a GIF
    /// of the same name with .gif, and a note).
    #[arg(long, value_parser = flags::out_mp4, value_name = "OUT.mp4")]
    pub video: Option<PathBuf>,
    /// GIF and video frame rate (GIF timing is in 10 ms steps, so rates above 100 are capped).
    #[arg(long, value_parser = flags::fps, default_value_t = 20.0)]
    pub fps: f64,
    /// Repeat every pixel of the GIF and the video N x N times (nearest neighbour), so a tiny
    /// model's 32x32 frames are watchable; the PNG frames keep the model's size.
    #[arg(long, value_parser = flags::upscale, default_value_t = 1)]
    pub upscale: usize,
    /// Class of every frame on a class-conditional model: a number or a class name.
    /// [default: key seed s has class s mod label_size]
    #[arg(long)]
    pub class: Option<String>,
    #[command(flatten)]
    pub synth: SynthArgs,
}

/// Where each frame lies: `(segment, t in [0, 1])`, with `segments` segments between keys.
/// Without `looped` the last frame lands exactly on the last key; with it, the frame after the
/// last would be the first key again, so it is left out.
pub fn frame_positions(frames: usize, segments: usize, looped: bool) -> Vec<(usize, f64)> {
    let span = if looped {
        frames
    } else {
        frames.saturating_sub(1).max(1)
    };
    (0..frames)
        .map(|f| {
            let u = f as f64 * segments as f64 / span as f64;
            let s = (u.floor() as usize).min(segments - 1);
            (s, u - s as f64)
        })
        .collect()
}

pub fn run(a: &InterpolateArgs) -> Result<()> {
    if a.synth.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let seeds = parse_seeds(&a.seeds).map_err(|e| anyhow::anyhow!("--seeds: {e}"))?;
    if seeds.len() < 2 {
        bail!(
            "--seeds {:?}: need at least two key seeds to interpolate between",
            a.seeds
        );
    }
    // A folder, FIFO or device where the GIF or video should go is refused now, not after
    // the work.
    for (flag, path) in [("--gif", &a.gif), ("--video", &a.video)] {
        if let Some(path) = path {
            stylegan_wgpu::io::atomic::resolve_target(path).context(flag)?;
        }
    }
    let keep = a.gif.is_some() || a.video.is_some();
    std::fs::create_dir_all(&a.outdir)
        .with_context(|| format!("--outdir {}: cannot create", a.outdir.display()))?;
    let gpu = a.synth.gpu.open_short()?;
    let (g, net) = load_generator(&gpu, &a.synth)?;
    let cfg = g.cfg.clone();
    let (l, d, k) = (cfg.num_layers(), cfg.dlatent_size, cfg.latent_size);
    eprintln!(
        "{} on {} (network {net}, {}x{}); {} frames through {} seeds in {:?}",
        super::common::model_name(a.synth.model.as_deref()),
        gpu.describe(),
        cfg.resolution,
        cfg.resolution,
        a.frames,
        seeds.len(),
        a.space
    );
    a.synth.describe_truncation(&g);
    let class = class_flag(&cfg, a.class.as_deref())?;
    describe_classes(&cfg, class, "key seed s");
    // The class of each key (none on an unconditional model).
    let key_classes = classes_of_seeds(&cfg, &seeds, class)?;

    let segments = if a.looped {
        seeds.len()
    } else {
        seeds.len() - 1
    };
    let pos = frame_positions(a.frames, segments, a.looped);
    let next = |s: usize| (s + 1) % seeds.len();
    let zkeys: Vec<Vec<f64>> = seeds
        .iter()
        .map(|&s| NumpyRandomState::new(s).randn(k))
        .collect();
    let n = a.frames;
    let ws: Vec<f32> = match a.space {
        Space::Z => {
            // slerp returns unit directions; scaling by sqrt(k) gives them the norm of a typical
            // N(0, I) draw. The mapping's pixel norm would undo any scale, but saved or
            // inspected latents then look like the seeds' own. A conditional model normalizes
            // z together with its label embedding, so there the scale matters: the frames take
            // the keys' own norms, blended, and every key frame is its seed's image.
            let norm = |z: &[f64]| z.iter().map(|v| v * v).sum::<f64>().sqrt();
            let norms: Vec<f64> = zkeys.iter().map(|z| norm(z)).collect();
            let scale = |s: usize, t: f64| {
                if cfg.is_conditional() {
                    (1.0 - t) * norms[s] + t * norms[next(s)]
                } else {
                    (k as f64).sqrt()
                }
            };
            let mut zs = Vec::with_capacity(n * k);
            // Label rows blended from one key's class to the next's (conditional models).
            let mut labels = Vec::new();
            for &(s, t) in &pos {
                let z = slerp(&zkeys[s], &zkeys[next(s)], t)?;
                let scale = scale(s, t);
                zs.extend(z.iter().map(|v| (v * scale) as f32));
                if let Some(c) = &key_classes {
                    labels.extend(blend_classes(c[s], c[next(s)], t as f32, cfg.label_size)?);
                }
            }
            map_all_labels(
                &g,
                &zs,
                None,
                key_classes.as_ref().map(|_| &labels[..]),
                &a.synth.truncation(),
                &|f| format!("frame{f:04}.png"),
            )?
        }
        Space::W => {
            // Truncation is affine in w, so lerping truncated keys equals truncating the lerp.
            let zs: Vec<f32> = zkeys.iter().flatten().map(|&v| v as f32).collect();
            let keys = map_all(
                &g,
                &zs,
                key_classes.as_deref(),
                &a.synth.truncation(),
                &|i| format!("seed {}", seeds[i]),
            )?;
            let per = l * d;
            let mut ws = Vec::with_capacity(n * per);
            for &(s, t) in &pos {
                let (w0, w1) = (
                    &keys[s * per..(s + 1) * per],
                    &keys[next(s) * per..(next(s) + 1) * per],
                );
                let t = t as f32;
                ws.extend(w0.iter().zip(w1).map(|(x, y)| x + t * (y - x)));
            }
            ws
        }
    };

    let (c, r) = (cfg.num_channels, cfg.resolution);
    if keep {
        // Every frame is held until the GIF and the video are written.
        stylegan_wgpu::limits::check_host_bytes(
            &format!("--gif/--video ({n} frames of {c}x{r}x{r})"),
            stylegan_wgpu::limits::image_bytes(n, c, r),
        )?;
    }
    g.seed_noise(a.synth.noise_seed);
    stop::install_or_warn();
    let pb = Bar::new(n, "frames", "frames");
    let mut frames = Vec::new();
    // Frames are written as each batch is made: a stopped run keeps them.
    let done = synthesize_each(
        &g,
        &ws,
        a.synth.batch,
        a.synth.noise_mode,
        &pb,
        &mut |first, images| {
            for (i, img) in images.iter().enumerate() {
                if img.data.iter().all(|v| v.is_finite()) {
                    save_png(
                        a.outdir.join(format!("frame{:04}.png", first + i)),
                        &img.data,
                        c,
                        r,
                        r,
                    )?;
                }
            }
            if keep {
                frames.extend(images.into_iter().map(|im| im.data));
            }
            Ok(())
        },
    )?;
    pb.finish_and_clear();
    let made = done.made;
    println!(
        "wrote {} to {}",
        super::progress::count(made, "frame"),
        a.outdir.display()
    );
    check_finite_images(
        &done,
        &|f| format!("frame{f:04}.png"),
        " (the finite ones were written)",
    )?;
    if let Some(path) = &a.gif {
        let delay_ms = (1000.0 / a.fps).round().clamp(10.0, u32::MAX as f64) as u32;
        save_gif_upscaled(path, &frames, c, r, r, a.fps, a.upscale)?;
        println!(
            "wrote {} ({made} frames, {delay_ms} ms each)",
            path.display()
        );
    }
    if let Some(path) = &a.video {
        let wrote = write_video(path, &frames, c, r, r, a.fps, a.upscale)?;
        println!("wrote {} ({made} frames at {} fps)", wrote.display(), a.fps);
    }
    if done.stopped {
        stop::exit_if_received(&format!("wrote the {made} of {n} frames made"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::frame_positions;

    #[test]
    fn positions_cover_the_path() {
        // 3 keys, no loop: 2 segments, 5 frames at u = 0, 0.5, 1, 1.5, 2.
        let p = frame_positions(5, 2, false);
        assert_eq!(p, vec![(0, 0.0), (0, 0.5), (1, 0.0), (1, 0.5), (1, 1.0)]);
        // Looped: 3 segments, 6 frames at u = 0, 0.5, ..., 2.5; never reaches u = 3 (= frame 0).
        let p = frame_positions(6, 3, true);
        assert_eq!(p.last(), Some(&(2, 0.5)));
        assert_eq!(frame_positions(1, 2, false), vec![(0, 0.0)]);
    }
}
