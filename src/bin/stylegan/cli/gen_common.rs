//! Shared by the image-making commands: loading the generator, turning seeds into latents,
//! running it in batches with a progress bar.

use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use stylegan_wgpu::gpu::Gpu;
use stylegan_wgpu::nn::generator::{Generator, NoiseMode, Truncation};

/// Flags every image-making command shares: the model, truncation, noise, batch, adapter.
#[derive(clap::Args, Debug, Clone)]
pub struct SynthArgs {
    /// Model file: our .safetensors or an official .pkl (default: the embedded Fashion-MNIST model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Truncation psi in W (1 = off; the official figures used 0.7).
    #[arg(long, default_value_t = 1.0)]
    pub trunc: f32,
    /// Layers truncated (default: all).
    #[arg(long)]
    pub trunc_cutoff: Option<usize>,
    #[arg(long, value_enum, default_value = "const")]
    pub noise_mode: Noise,
    /// Seed of the noise when --noise-mode random.
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    /// Images per GPU batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    #[command(flatten)]
    pub gpu: super::common::GpuArgs,
}

/// The generator of `--model` (or the embedded model): `Gs` (the moving average used for
/// images) when present, else `G`; and which of the two it is. Its inference batch is `batch`.
pub fn load_generator(
    gpu: &Gpu,
    model: Option<&Path>,
    batch: usize,
) -> Result<(Generator, &'static str)> {
    let m = super::common::load_model_or_default(model)?;
    let net = if m.networks().any(|n| n == "Gs") {
        "Gs"
    } else {
        "G"
    };
    let mut g = m.generator(gpu)?;
    g.set_batch(batch);
    let per_pass = g.images_per_pass()?;
    if per_pass < batch {
        eprintln!(
            "note: --batch {batch} runs in GPU passes of {per_pass} images (the adapter's largest \
             storage binding holds {} MiB)",
            gpu.max_tensor_bytes() >> 20
        );
    }
    Ok((g, net))
}

pub use stylegan_wgpu::rng::seed_latent;

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum Noise {
    /// The stored noise maps (official default for reproducible images).
    Const,
    /// Fresh random noise (seeded by --noise-seed).
    Random,
    /// No noise.
    None,
}

impl Noise {
    pub fn mode(self) -> NoiseMode {
        match self {
            Noise::Const => NoiseMode::Const,
            Noise::Random => NoiseMode::Random,
            Noise::None => NoiseMode::None,
        }
    }
}

pub fn progress(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Runs synthesis on `w` rows (`[n, L, D]` flattened) in batches; returns images CHW each.
pub fn synthesize_all(
    g: &Generator,
    ws: &[f32],
    batch: usize,
    noise: Noise,
    pb: &ProgressBar,
) -> Result<Vec<Vec<f32>>> {
    let row = g.cfg.num_layers() * g.cfg.dlatent_size;
    let mut out = Vec::with_capacity(ws.len() / row.max(1));
    for chunk in ws.chunks(batch.max(1) * row) {
        let images = g.synthesize_dlatents(chunk, noise.mode())?;
        pb.inc(images.len() as u64);
        out.extend(images.into_iter().map(|im| im.data));
    }
    Ok(out)
}

/// Maps latents `[n, latent]` to truncated dlatents `[n, L, D]` (host copy); `cutoff` layers
/// take `psi`.
pub fn map_all(g: &Generator, zs: &[f32], psi: f32, cutoff: usize) -> Result<Vec<f32>> {
    Ok(g.map_latents(zs, &Truncation::new(psi, cutoff))?)
}
