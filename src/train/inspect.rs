//! The official losses evaluated once on fixed inputs, with every parameter gradient, for
//! checking an implementation against another (ours against the official TensorFlow code, or a
//! change against the previous version): `stylegan losses` and `stylegan discriminate`.
//!
//! Everything is a sum over the batch (not the mean training uses), so the numbers do not
//! depend on how a caller would average them. No truncation, no style mixing, no EMA: G and D
//! exactly as stored.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};

use crate::autodiff::grad_scalar;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::config::Config;
use crate::nn::discriminator::Discriminator;
use crate::nn::generator::{Generator, NoiseMode};
use crate::nn::params::{HostTensor, HostWeights};
use crate::ops;
use crate::tape::{no_grad, Var};
use crate::train::loss::{d_loss_lod, g_loss_lod};

/// What `evaluate_losses` computes, on the host.
#[derive(Clone, Debug)]
pub struct LossReport {
    /// Raw scores `D(x)` and `D(G(z))`, one per sample.
    pub d_real: Vec<f32>,
    pub d_fake: Vec<f32>,
    /// `Σ softplus(-D(G(z)))`.
    pub g_loss: f32,
    /// `Σ softplus(D(G(z))) + Σ softplus(-D(x))`.
    pub d_loss: f32,
    /// `||∂(Σ D(x))/∂x_i||²`, one per sample.
    pub r1_penalty: Vec<f32>,
    /// `d_loss + (gamma/2) Σ r1_penalty`.
    pub d_loss_r1: f32,
    pub gamma: f32,
    /// `∂g_loss/∂v` for every trainable G variable, in spec order.
    pub g_grads: Vec<(String, HostTensor)>,
    /// `∂d_loss_r1/∂v` for every trainable D variable (fakes held constant), in spec order.
    pub d_grads: Vec<(String, HostTensor)>,
}

impl LossReport {
    /// Every output as `(name, shape, values)`: `d_real`, `d_fake` `[N, 1]`, `g_loss`,
    /// `d_loss`, `d_loss_r1` `[1]`, `r1_penalty` `[N]`, `grad/G/<name>`, `grad/D/<name>`.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let n = self.d_real.len();
        let mut v = vec![
            ("d_real".to_string(), vec![n, 1], self.d_real.clone()),
            ("d_fake".to_string(), vec![n, 1], self.d_fake.clone()),
            ("g_loss".to_string(), vec![1], vec![self.g_loss]),
            ("d_loss".to_string(), vec![1], vec![self.d_loss]),
            ("r1_penalty".to_string(), vec![n], self.r1_penalty.clone()),
            ("d_loss_r1".to_string(), vec![1], vec![self.d_loss_r1]),
        ];
        for (net, grads) in [("G", &self.g_grads), ("D", &self.d_grads)] {
            for (name, t) in grads {
                v.push((
                    format!("grad/{net}/{name}"),
                    t.shape.clone(),
                    t.data.clone(),
                ));
            }
        }
        v
    }

    /// A safetensors file of `tensors()` (f32, names as they are: no network prefix scheme),
    /// with gamma and N in the metadata.
    pub fn to_safetensors_bytes(&self) -> Result<Vec<u8>> {
        let tensors = self.tensors();
        let bytes: Vec<&[u8]> = tensors
            .iter()
            .map(|(_, _, d)| bytemuck::cast_slice(d))
            .collect();
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .zip(&bytes)
            .map(|((name, shape, _), b)| {
                TensorView::new(Dtype::F32, shape.clone(), b).map(|v| (name.clone(), v))
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Invalid(format!("safetensors: {e}")))?;
        let meta: HashMap<String, String> = [
            ("format".to_string(), "stylegan-wgpu losses".to_string()),
            ("gamma".to_string(), self.gamma.to_string()),
            ("n".to_string(), self.d_real.len().to_string()),
        ]
        .into_iter()
        .collect();
        safetensors::tensor::serialize(views, Some(meta))
            .map_err(|e| Error::Invalid(format!("safetensors: {e}")))
    }
}

/// Checks that a minibatch of `n` can go through minibatch stddev as one batch: groups of
/// `min(group, n)` must tile it.
pub fn check_mbstd_batch(cfg: &Config, n: usize, what: &str) -> Result<()> {
    if n == 0 {
        return Err(Error::Invalid(format!("{what}: no samples")));
    }
    let g = cfg.mbstd_group_size.min(n);
    if cfg.mbstd_group_size > 1 && !n.is_multiple_of(g) {
        return Err(Error::Invalid(format!(
            "{what}: {n} samples do not split into the discriminator's minibatch-stddev groups of {g} \
             (mbstd_group_size {}): use a multiple of {g}, or fewer than {} samples",
            cfg.mbstd_group_size, cfg.mbstd_group_size
        )));
    }
    Ok(())
}

/// Splits `n` samples into batches of at most `batch` that minibatch stddev accepts: full
/// batches of `batch` (which must itself be valid), then the remainder as a multiple of the
/// group size and a last piece smaller than the group (always valid: it is one group).
pub fn mbstd_batches(cfg: &Config, n: usize, batch: usize) -> Result<Vec<usize>> {
    if batch == 0 {
        return Err(Error::Invalid("batch size must be at least 1".into()));
    }
    check_mbstd_batch(cfg, batch, &format!("batch size {batch}"))?;
    let g = cfg.mbstd_group_size.max(1);
    let mut out = vec![batch; n / batch];
    let rest = n % batch;
    for piece in [rest / g * g, rest % g] {
        if piece > 0 {
            out.push(piece);
        }
    }
    Ok(out)
}

/// Raw scores `D(images)` of `images` (flat NCHW, `[N, C, R, R]` in [-1, 1]) in batches from
/// `mbstd_batches`. Minibatch stddev makes a score depend on the other images of its batch,
/// so the same images scored in a different batching give different scores. A
/// class-conditional D takes the class of each image (`classes`), and scores it for that class.
pub fn discriminate_batched(
    gpu: &Gpu,
    d: &Discriminator,
    images: &[f32],
    classes: Option<&[u32]>,
    batch: usize,
) -> Result<Vec<f32>> {
    let c = &d.cfg;
    let per = c.num_channels * c.resolution * c.resolution;
    if !images.len().is_multiple_of(per) {
        return Err(Error::Invalid(format!(
            "discriminate: {} values are not a whole number of {}x{}x{} images",
            images.len(),
            c.num_channels,
            c.resolution,
            c.resolution
        )));
    }
    let n = images.len() / per;
    if let Some(cl) = classes {
        if cl.len() != n {
            return Err(Error::Invalid(format!(
                "discriminate: {} classes for {n} images",
                cl.len()
            )));
        }
    }
    let mut scores = Vec::with_capacity(n);
    let mut start = 0;
    for b in mbstd_batches(c, n, batch)? {
        let x = Tensor::from_slice(
            gpu,
            &[b, c.num_channels, c.resolution, c.resolution],
            &images[start * per..(start + b) * per],
        )?;
        let y = crate::nn::labels::class_labels(gpu, c, classes.map(|cl| &cl[start..start + b]))?;
        let s = no_grad(|| d.forward_labels(&Var::constant(x), y.as_ref(), 0.0))?;
        scores.extend(s.to_vec()?);
        start += b;
    }
    Ok(scores)
}

fn host_grads(vars: &[(String, Var)], grads: &[Option<Var>]) -> Result<Vec<(String, HostTensor)>> {
    vars.iter()
        .zip(grads)
        .map(|((name, v), g)| {
            let shape = v.shape().to_vec();
            // None: the loss does not depend on the variable (e.g. noise strengths without
            // noise); its gradient is zero.
            let data = match g {
                Some(g) => g.to_vec()?,
                None => vec![0.0; shape.iter().product()],
            };
            Ok((name.clone(), HostTensor { shape, data }))
        })
        .collect()
}

fn scalar(v: &Var) -> Result<f32> {
    Ok(v.to_vec()?[0])
}

/// The official losses on fixed `z` (`[N, latent_size]`) and `reals` (`[N, C, R, R]` in
/// [-1, 1]) as one minibatch, with the gradients of `g_loss` with respect to G's trainable
/// variables and of `d_loss_r1` with respect to D's. `NoiseMode::Random` draws from the
/// generator's RNG seeded with 0, so repeated runs agree. A class-conditional network takes
/// the class of each image in `classes`: the fakes are made for them and D scores reals and
/// fakes with them (in training G draws its own; here one set serves both losses).
#[allow(clippy::too_many_arguments)]
pub fn evaluate_losses(
    gpu: &Gpu,
    cfg: &Config,
    g_weights: &HostWeights,
    d_weights: &HostWeights,
    z: &[f32],
    classes: Option<&[u32]>,
    reals: &[f32],
    noise: NoiseMode,
    gamma: f32,
) -> Result<LossReport> {
    let k = cfg.latent_size;
    if z.is_empty() || !z.len().is_multiple_of(k) {
        return Err(Error::Invalid(format!(
            "losses: {} latent values are not a whole number of rows of {k}",
            z.len()
        )));
    }
    let n = z.len() / k;
    let shape = [n, cfg.num_channels, cfg.resolution, cfg.resolution];
    if reals.len() != shape.iter().product::<usize>() {
        return Err(Error::Invalid(format!(
            "losses: {} latents need {} reals {:?}, got {} values",
            n,
            n,
            &shape,
            reals.len()
        )));
    }
    check_mbstd_batch(cfg, n, "losses")?;
    if !gamma.is_finite() {
        return Err(Error::Invalid(format!(
            "losses: gamma {gamma} is not finite"
        )));
    }
    let g = Generator::new(gpu, cfg, g_weights)?;
    let d = Discriminator::new(gpu, cfg, d_weights)?;
    if let Some(c) = classes {
        if c.len() != n {
            return Err(Error::Invalid(format!(
                "losses: {} classes for {n} latents",
                c.len()
            )));
        }
    }
    let labels = crate::nn::labels::class_labels(gpu, cfg, classes)?;
    let zv = Var::constant(Tensor::from_slice(gpu, &[n, k], z)?);
    let fakes = g.generate_lod(&zv, labels.as_ref(), 1.0, 0, noise, 0.0)?;

    // G: gradient through D into G (D's variables are not asked for, so not computed).
    let (_, gl) = g_loss_lod(&d, &fakes, labels.as_ref(), 0.0)?;
    let g_sum = ops::sum(&gl)?;
    let g_vars = g.params.trainable();
    let gv: Vec<Var> = g_vars.iter().map(|(_, v)| v.clone()).collect();
    let g_grads = host_grads(&g_vars, &grad_scalar(&g_sum, &gv, false)?)?;
    let g_loss_value = scalar(&g_sum)?;
    drop(gl);

    // D: the same fakes, detached, so nothing flows into G.
    let x = Var::param(Tensor::from_slice(gpu, &shape, reals)?);
    let dl = d_loss_lod(&d, &x, &fakes.detach(), labels.as_ref(), gamma, 0.0)?;
    let total = ops::sum(&dl.total)?;
    let d_vars = d.params.trainable();
    let dv: Vec<Var> = d_vars.iter().map(|(_, v)| v.clone()).collect();
    let d_grads = host_grads(&d_vars, &grad_scalar(&total, &dv, false)?)?;
    let logistic = no_grad(|| ops::sum(&dl.logistic.detach()))?;

    Ok(LossReport {
        d_real: dl.d_real.to_vec()?,
        d_fake: dl.d_fake.to_vec()?,
        g_loss: g_loss_value,
        d_loss: scalar(&logistic)?,
        r1_penalty: dl.r1.to_vec()?,
        d_loss_r1: scalar(&total)?,
        gamma,
        g_grads,
        d_grads,
    })
}
