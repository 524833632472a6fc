//! `stylegan losses`: the official losses and every parameter gradient on fixed inputs.

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::check_finite_input;
use super::common::{load_model, GpuArgs};
use super::gen_common::Noise;
use stylegan_wgpu::io::atomic::write_atomic;
use stylegan_wgpu::io::npy::read_npy;
use stylegan_wgpu::train::inspect::evaluate_losses;

/// The official losses and every parameter gradient, on fixed latents and reals.
///
/// G and D as stored (no truncation, mixing or EMA), for comparison with another
/// implementation.
///
/// Writes f32 tensors: d_real, d_fake [N,1]; g_loss = Σ softplus(-D(G(z))) [1];
/// d_loss = Σ softplus(D(G(z))) + Σ softplus(-D(x)) [1]; r1_penalty [N];
/// d_loss_r1 = d_loss + gamma/2 Σ r1_penalty [1]; grad/G/<name> = ∂g_loss/∂(variable);
/// grad/D/<name> = ∂d_loss_r1/∂(variable), fakes held constant.
///
/// Example:
///   stylegan losses --model m.safetensors --latents z.npy --reals reals.npy --out grads.safetensors
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct LossesArgs {
    /// Model file with G and D: our .safetensors or an official .pkl.
    #[arg(long, visible_alias = "network")]
    pub model: PathBuf,
    /// Latents z as .npy [N, latent_size].
    #[arg(long)]
    pub latents: PathBuf,
    /// Real images as float32 NCHW .npy [N, C, R, R] in [-1, 1].
    #[arg(long)]
    pub reals: PathBuf,
    /// Class of each latent's image on a class-conditional model, in order, e.g. 0,3,sneaker
    /// or 0-3 (numbers or class names; one per row of --latents): G makes the fakes of these
    /// classes and D scores reals and fakes with them.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<String>,
    /// Noise of G (random: a fixed stream, seed 0).
    #[arg(long, value_enum, default_value = "const")]
    pub noise_mode: Noise,
    /// R1 weight (finite, >= 0).
    #[arg(long, value_parser = flags::weight, default_value_t = 10.0)]
    pub gamma: f32,
    /// Output .safetensors.
    #[arg(long, value_parser = flags::out_safetensors)]
    pub out: PathBuf,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

pub fn run(a: &LossesArgs) -> Result<()> {
    if !(a.gamma.is_finite() && a.gamma >= 0.0) {
        bail!("--gamma {}: must be a finite number >= 0", a.gamma);
    }
    let m = load_model(&a.model)?;
    let cfg = &m.config;
    let net = |name: &str| {
        m.nets.get(name).with_context(|| {
            format!(
                "{}: holds no {name} network (no {name}/ tensors)",
                a.model.display()
            )
        })
    };
    let (gw, dw) = (net("G")?, net("D")?);
    let (k, c, r) = (cfg.latent_size, cfg.num_channels, cfg.resolution);
    let z = read_npy(&a.latents)?;
    if z.shape.len() != 2 || z.shape[1] != k || z.shape[0] == 0 {
        bail!(
            "--latents {}: shape {:?}, the model needs [N, {k}]",
            a.latents.display(),
            z.shape
        );
    }
    check_finite_input("--latents", &a.latents, &z.data, k)?;
    let n = z.shape[0];
    let x = read_npy(&a.reals)?;
    if x.shape != [n, c, r, r] {
        bail!(
            "--reals {}: shape {:?}, expected [{n}, {c}, {r}, {r}] (N from --latents)",
            a.reals.display(),
            x.shape
        );
    }
    check_finite_input("--reals", &a.reals, &x.data, c * r * r)?;
    let classes = super::common::classes_per_row(
        &a.model,
        cfg,
        a.classes.as_deref(),
        n,
        "rows of --latents",
    )?;
    let gpu = a.gpu.open_short()?;
    eprintln!(
        "{} on {} ({n} samples, gamma {})",
        a.model.display(),
        gpu.describe(),
        a.gamma
    );
    let rep = evaluate_losses(
        &gpu,
        cfg,
        gw,
        dw,
        &z.data,
        classes.as_deref(),
        &x.data,
        a.noise_mode.mode(),
        a.gamma,
    )
    .with_context(|| format!("{}", a.model.display()))?;
    write_atomic(&a.out, &rep.to_safetensors_bytes()?)?;
    println!(
        "g_loss {:.6}  d_loss {:.6}  d_loss_r1 {:.6}  (sums over {n} samples)",
        rep.g_loss, rep.d_loss, rep.d_loss_r1
    );
    println!(
        "wrote {} ({} tensors)",
        a.out.display(),
        rep.tensors().len()
    );
    Ok(())
}
