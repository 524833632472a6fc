//! Shared by the image-making commands: loading the generator, turning seeds into latents,
//! running it in batches with a progress bar.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::gpu::{Gpu, Tensor};
use crate::graph::{no_grad, Var};
use crate::nn::generator::{Generator, NoiseMode};
use crate::rng::NumpyRandomState;

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

/// The generator of a model file: `Gs` (the moving average used for images) when present,
/// else `G`.
pub fn load_generator(gpu: &Gpu, model: Option<&Path>) -> Result<(Generator, &'static str)> {
    let m = super::common::load_model_or_default(model)?;
    let model = super::common::model_name(model);
    let (net, w) = if let Some(w) = m.nets.get("Gs") {
        ("Gs", w)
    } else if let Some(w) = m.nets.get("G") {
        ("G", w)
    } else {
        bail!("{model}: holds no generator (no Gs/ or G/ tensors)");
    };
    let g = Generator::new(gpu, &m.config, w).with_context(|| format!("{model}: network {net}"))?;
    Ok((g, net))
}

/// `numpy.random.RandomState(seed).randn(latent_size)` as f32, the official latent of a seed.
pub fn seed_latent(seed: u32, latent_size: usize) -> Vec<f32> {
    NumpyRandomState::new(seed)
        .randn(latent_size)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

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
    gpu: &Gpu,
    g: &Generator,
    ws: &[f32],
    n: usize,
    batch: usize,
    noise: Noise,
    pb: &ProgressBar,
) -> Result<Vec<Vec<f32>>> {
    let (l, d) = (g.cfg.num_layers(), g.cfg.dlatent_size);
    let per = g.cfg.num_channels * g.cfg.resolution * g.cfg.resolution;
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(batch.max(1)) {
        let b = batch.max(1).min(n - start);
        let imgs = no_grad(|| -> crate::Result<Vec<f32>> {
            let w = Var::constant(Tensor::from_slice(
                gpu,
                &[b, l, d],
                &ws[start * l * d..(start + b) * l * d],
            )?);
            g.synthesis(&w, noise.mode())?.to_vec()
        })?;
        out.extend(imgs.chunks(per).map(|c| c.to_vec()));
        pb.inc(b as u64);
    }
    Ok(out)
}

/// Maps latents `[n, latent]` to truncated dlatents `[n, L, D]` (host copy).
pub fn map_all(
    gpu: &Gpu,
    g: &Generator,
    zs: &[f32],
    n: usize,
    batch: usize,
    psi: f32,
    cutoff: usize,
) -> Result<Vec<f32>> {
    let k = g.cfg.latent_size;
    let mut out = Vec::new();
    for start in (0..n).step_by(batch.max(1)) {
        let b = batch.max(1).min(n - start);
        let w = no_grad(|| -> crate::Result<Vec<f32>> {
            let z = Var::constant(Tensor::from_slice(
                gpu,
                &[b, k],
                &zs[start * k..(start + b) * k],
            )?);
            let w = g.mapping(&z)?;
            let w = if psi != 1.0 && cutoff > 0 {
                g.truncate(&w, psi, cutoff)?
            } else {
                w
            };
            w.to_vec()
        })?;
        out.extend(w);
    }
    Ok(out)
}
