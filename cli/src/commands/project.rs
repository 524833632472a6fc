//! `stylegan project`: the latent (and noise) of a real image, as stylegan2-ada-pytorch's
//! projector finds it (`stylegan_wgpu::projector`).

use crate::commands::flags;
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::GpuArgs;
use super::feature_net::LpipsArgs;
use super::gen_common::{class_flag, load_generator, Noise, SynthArgs};
use super::progress::Bar;
use stylegan_wgpu::data::load_image_fitted;
use stylegan_wgpu::data::Transform;
use stylegan_wgpu::io::atomic::write_atomic;
use stylegan_wgpu::io::images::save_png;
use stylegan_wgpu::io::npy::write_npy;
use stylegan_wgpu::io::safetensors::save_tensors;
use stylegan_wgpu::io::tensors::fmnist_classifier;
use stylegan_wgpu::nn::generator::Cutoff;
use stylegan_wgpu::nn::params::{layer_side, HostTensor};
use stylegan_wgpu::projector::{psnr_u8, Distance, Projector, ProjectorConfig};

/// Project a real image into W: the w (and noise maps) whose image matches it.
///
/// As stylegan2-ada-pytorch's projector.py, with its constants: w_avg and w_std from 10,000
/// z of RandomState(123); Adam at 0.1 with a 5 % ramp-up and 25 % cosine ramp-down; noise on
/// w fading out by 75 % of the steps; noise-map regularization 1e5; noise maps renormalized
/// after every step.
///
/// The loss is LPIPS-VGG16 with --lpips and --lpips-lin, as the official projector's.
/// Without them it is the summed squared pixel error plus, for 1-channel models, the embedded Fashion-MNIST
/// evaluation network's feature distance (--feature-weight; 0 for pixels only); the output
/// says which. The target is fitted to the model's resolution, in gray or RGB as the model
/// makes: a target that fits inside it is padded, centred on black, as training pads 28x28
/// digits to 32x32 (stretching it would change the shape the model has to find); a larger one
/// is centre-cropped to a square and resized with Lanczos3. --transform chooses.
///
/// Writes to --outdir: target.png (the fitted target), proj.png, projected_w.npy (and NVIDIA's
/// projected_w.npz)
/// [1, num_layers, dlatent_size], projected_noise.safetensors (the optimized noise maps),
/// project.json (losses, PSNR, time) and with --save-video proj.mp4 (target | projection over
/// the optimization; through ffmpeg when it is on PATH, else proj.gif). `stylegan generate --dlatents projected_w.npy --noise-maps
/// projected_noise.safetensors` makes proj.png again, pixel for pixel.
///
/// Examples:
///   stylegan project --target shirt.png --outdir proj          (embedded model)
///   stylegan project --target digit28.png --outdir proj       (28x28: padded to 32x32)
///   stylegan project --model ffhq.safetensors --target face.jpg --outdir proj \
///       --lpips vgg16-397923af.pth --lpips-lin vgg.pth --save-video
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct ProjectArgs {
    /// Model (.safetensors or official .pkl); default: the embedded model.
    #[arg(long, visible_alias = "network")]
    pub model: Option<PathBuf>,
    /// The image to project (PNG, JPEG, GIF).
    #[arg(long)]
    pub target: PathBuf,
    /// How the target is fitted to the model's resolution: pad, center-crop or
    /// center-crop-wide[:HEIGHT]. Default: pad when it fits inside the model's size, else
    /// center-crop.
    #[arg(long, value_parser = flags::transform)]
    pub transform: Option<Transform>,
    /// Where the outputs go (created if missing).
    #[arg(long)]
    pub outdir: PathBuf,
    /// Optimization steps.
    #[arg(long, visible_alias = "num-steps", value_parser = flags::positive_count, default_value_t = 1000)]
    pub steps: usize,
    /// Seed of the initial noise maps and of the noise added to w.
    #[arg(long, value_parser = flags::seed, default_value_t = 303)]
    pub seed: u64,
    /// One w per layer (W+) instead of one w for all: matches more closely, but the result
    /// can leave the region of W the model was trained on (edits behave less well).
    #[arg(long)]
    pub w_plus: bool,
    /// Weight of the classifier's feature distance beside the pixel MSE (without --lpips;
    /// 1-channel models only).
    #[arg(long, value_parser = flags::weight, default_value_t = 10.0)]
    pub feature_weight: f32,
    /// Class-conditional models: take w_avg and w_std (the start and the noise scale) from
    /// this class's samples: a number or a class name. [default: the samples spread over every
    /// class, sample i of class i mod label_size]
    #[arg(long)]
    pub class: Option<String>,
    /// z samples for w_avg and w_std.
    #[arg(long, value_parser = flags::samples, default_value_t = 10_000)]
    pub w_avg_samples: usize,
    /// Also write proj.mp4 (as stylegan2-ada's projector; through ffmpeg when it is on PATH,
    /// else proj.gif): target and projection side by side, 100 frames over the steps.
    #[arg(long)]
    pub save_video: bool,
    /// Repeat every pixel of the video N x N times (nearest neighbour), so a tiny model's
    /// frames are watchable.
    #[arg(long, value_parser = flags::upscale, default_value_t = 1, requires = "save_video")]
    pub upscale: usize,
    #[command(flatten)]
    pub lpips: LpipsArgs,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

pub fn run(a: &ProjectArgs) -> Result<()> {
    if a.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if a.w_avg_samples == 0 {
        bail!("--w-avg-samples must be at least 1");
    }
    if !a.feature_weight.is_finite() || a.feature_weight < 0.0 {
        bail!("--feature-weight must be a finite number >= 0");
    }
    std::fs::create_dir_all(&a.outdir)
        .with_context(|| format!("--outdir {}: cannot create", a.outdir.display()))?;
    let gpu = a.gpu.open()?;
    let synth = SynthArgs {
        model: a.model.clone(),
        trunc: 1.0,
        trunc_cutoff: Cutoff::Model,
        noise_mode: Noise::Const,
        noise_seed: 0,
        noise_maps: None,
        batch: 16,
        gpu: a.gpu.clone(),
    };
    let (mut g, _) = load_generator(&gpu, &synth)?;
    let (c, r, l, d) = (
        g.cfg.num_channels,
        g.cfg.resolution,
        g.cfg.num_layers(),
        g.cfg.dlatent_size,
    );
    let fitted = load_image_fitted(&a.target, c, r, a.transform)
        .with_context(|| format!("--target {}", a.target.display()))?;
    if (fitted.width, fitted.height) != (r, r) {
        eprintln!(
            "target {}x{} fitted to the model's {r}x{r} by {}{}",
            fitted.width,
            fitted.height,
            fitted.transform,
            match (fitted.transform, a.transform) {
                (Transform::Pad, None) => " (centred on black, as training pads small images)",
                _ => "",
            }
        );
    }
    let target = fitted.data;
    save_png(a.outdir.join("target.png"), &target, c, r, r)?;

    let lpips = a.lpips.load(&gpu)?;
    let classifier = if lpips.is_none() && c == 1 && a.feature_weight > 0.0 {
        Some(fmnist_classifier(&gpu)?)
    } else {
        None
    };
    let distance = match &lpips {
        Some(lp) => Distance::Lpips(lp),
        None => Distance::PixelFeatures {
            classifier: classifier.as_ref(),
            feature_weight: a.feature_weight,
        },
    };
    let describe = distance.describe();
    eprintln!(
        "projecting {} ({c}x{r}x{r}) on {}",
        a.target.display(),
        gpu.describe()
    );
    eprintln!("loss: {describe}");
    if lpips.is_none() && c == 3 {
        eprintln!(
            "note: RGB models project far better with LPIPS: --lpips vgg16-397923af.pth \
             --lpips-lin vgg.pth"
        );
    }

    let class = class_flag(&g.cfg, a.class.as_deref())?;
    let cfg = ProjectorConfig {
        steps: a.steps,
        w_avg_samples: a.w_avg_samples,
        seed: a.seed,
        w_plus: a.w_plus,
        class,
        ..ProjectorConfig::default()
    };
    let t0 = std::time::Instant::now();
    let stats = cfg.w_stats(&g)?;
    let of = match (g.cfg.is_conditional(), class) {
        (false, _) => String::new(),
        (true, Some(c)) => format!(" of class {c} ({})", g.cfg.class_name(c)),
        (true, None) => format!(
            " over all {n} classes (sample i of class i mod {n}; --class for one class's)",
            n = g.cfg.label_size
        ),
    };
    eprintln!(
        "w statistics of {} samples{of}: w_std {:.4} ({:.1} s)",
        a.w_avg_samples,
        stats.std,
        t0.elapsed().as_secs_f64()
    );
    let mut p = Projector::new(&g, &target, distance, stats, cfg)?;
    let pb = Bar::new(a.steps, "projecting", "steps");
    let every = (a.steps / 100).max(1);
    let mut frames = Vec::new();
    let mut last = None;
    let t1 = std::time::Instant::now();
    super::stop::install_or_warn();
    let mut interrupted = false;
    // The losses every 10 steps (each read waits for the GPU) and at the last step.
    let mut history = Vec::new();
    while !p.done() {
        // On SIGINT/SIGTERM this step is the last: it reports, and its result is written.
        interrupted = super::stop::received().is_some();
        let report = p.steps_done() % 10 == 9 || p.steps_done() + 1 == a.steps || interrupted;
        if let Some(losses) = p.step(report)? {
            pb.set_message(format!(
                "projecting: dist {:.5} loss {:.5}",
                losses.dist, losses.loss
            ));
            history.push(serde_json::json!({
                "step": p.steps_done(),
                "loss": losses.loss,
                "dist": losses.dist,
                "noise_reg": losses.reg,
            }));
            last = Some(losses);
        }
        pb.inc(1);
        if a.save_video && (p.steps_done() % every == 0 || p.done() || interrupted) {
            frames.push(side_by_side(&target, &p.image()?, c, r));
        }
        if interrupted {
            break;
        }
    }
    let steps_done = p.steps_done();
    pb.finish_and_clear();
    let secs = t1.elapsed().as_secs_f64();
    let losses = last.expect("the last step reports");
    let dlatents = p.dlatents()?;
    let noise = p.noise_maps()?;
    drop(p);

    // proj.png through the same path as `generate --dlatents --noise-maps`, so the two match.
    let maps: Vec<(String, HostTensor)> = noise
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let s = layer_side(i);
            (
                format!("noise{i}"),
                HostTensor {
                    shape: vec![1, 1, s, s],
                    data,
                },
            )
        })
        .collect();
    g.set_noise_maps(&maps.iter().cloned().collect(), "the projected noise")?;
    let proj = g
        .synthesize_dlatents(&dlatents, stylegan_wgpu::NoiseMode::Const)?
        .remove(0)
        .data;
    save_png(a.outdir.join("proj.png"), &proj, c, r, r)?;
    write_npy(a.outdir.join("projected_w.npy"), &[1, l, d], &dlatents)?;
    // NVIDIA's layout too (stylegan2-ada's projector: np.savez(..., w=[1, num_ws, w_dim])).
    stylegan_wgpu::io::npz::write_npz(
        a.outdir.join("projected_w.npz"),
        &[(
            "w",
            &[1, l, d],
            stylegan_wgpu::io::npz::NpzData::F32(&dlatents),
        )],
        false,
    )?;
    let mut meta = BTreeMap::new();
    meta.insert("format".into(), "stylegan-wgpu projected noise maps".into());
    save_tensors(&a.outdir.join("projected_noise.safetensors"), &maps, &meta)?;
    let mut video = None;
    if a.save_video {
        // 60 ms a frame, as the GIF always had.
        let fps = 1000.0 / 60.0;
        let mp4 = a.outdir.join("proj.mp4");
        video = Some(super::video::write_video(
            &mp4,
            &frames,
            c,
            r,
            2 * r,
            fps,
            a.upscale,
        )?);
    }
    let psnr = psnr_u8(&proj, &target);
    let summary = serde_json::json!({
        "target": a.target.display().to_string(),
        "steps": a.steps,
        "steps_done": steps_done,
        "interrupted": interrupted,
        "w_plus": a.w_plus,
        "loss": losses.loss,
        "dist": losses.dist,
        "noise_reg": losses.reg,
        "distance": describe,
        "psnr_db": psnr,
        "seconds": secs,
        "steps_per_second": steps_done as f64 / secs,
        "losses": history,
    });
    write_atomic(
        &a.outdir.join("project.json"),
        format!("{summary:#}\n").as_bytes(),
    )?;
    let mut files: Vec<String> = [
        "target.png",
        "proj.png",
        "projected_w.npy",
        "projected_w.npz",
        "projected_noise.safetensors",
        "project.json",
    ]
    .map(String::from)
    .into();
    // proj.mp4 through ffmpeg, else proj.gif.
    if let Some(name) = video.as_deref().and_then(|v| v.file_name()) {
        files.push(name.to_string_lossy().into_owned());
    }
    println!(
        "{steps_done} steps in {secs:.1} s ({:.1} steps/s): dist {:.5}, PSNR {psnr:.2} dB; wrote \
         {} to {}",
        steps_done as f64 / secs,
        losses.dist,
        files.join(", "),
        a.outdir.display()
    );
    if interrupted {
        super::stop::exit_if_received(&format!(
            "wrote the projection after {steps_done} of {} steps (project.json: \"interrupted\": true)",
            a.steps
        ));
    }
    Ok(())
}

/// `[C, R, 2R]`: `a` left of `b`.
fn side_by_side(a: &[f32], b: &[f32], c: usize, r: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(2 * a.len());
    for ch in 0..c {
        for y in 0..r {
            let row = (ch * r + y) * r;
            out.extend_from_slice(&a[row..row + r]);
            out.extend_from_slice(&b[row..row + r]);
        }
    }
    out
}
