//! The random draws of a training step's G forwards and the forward itself: every image's
//! latents and noise from its own stream, so neither passes nor ranks change a minibatch.

use rand::Rng;

use super::step::rows;
use super::Trainer;
use crate::error::Result;
use crate::gpu::Tensor;
use crate::nn::generator::{Generator, NoiseMode};
use crate::nn::params::layer_side;
use crate::ops;
use crate::tape::{grad_enabled, no_grad, Var};

impl Trainer {
    /// The random draws of one training forward of G (phase 0: D step, 1: G step) for this
    /// rank's images: the style-mixing decision and crossover from the step's stream `rng`
    /// (the same on every rank), then each image's latents, second latents when mixing, and
    /// noise maps from its own stream, keyed by its global index. Drawn once and sliced per
    /// pass, so neither passes nor ranks change what the minibatch computes.
    pub(super) fn draw_g(&self, rng: &mut crate::rng::Seeded, phase: u64) -> GDraws {
        let (k, layers) = (self.cfg.latent_size, self.cfg.num_layers());
        let mix = rng.random::<f32>() < self.tc.style_mixing_prob && layers > 1;
        let crossover = mix.then(|| rng.random_range(1..layers));
        let n = self.rows.len();
        let mut z = Vec::with_capacity(n * k);
        let mut z2 = Vec::with_capacity(if mix { n * k } else { 0 });
        let mut noise: Vec<Vec<f32>> = (0..layers)
            .map(|i| Vec::with_capacity(n * layer_side(i) * layer_side(i)))
            .collect();
        for &i in &self.rows {
            let seed =
                crate::rng::splitmix::image_key(self.tc.seed, self.state.step, phase, i as u64);
            let mut r = crate::rng::seeded(seed);
            z.extend(crate::rng::std_normal(&mut r, k));
            if mix {
                z2.extend(crate::rng::std_normal(&mut r, k));
            }
            for (l, maps) in noise.iter_mut().enumerate() {
                let s = layer_side(l);
                maps.extend(crate::rng::std_normal(&mut r, s * s));
            }
        }
        GDraws {
            z,
            mix: crossover.map(|c| (z2, c)),
            noise,
        }
    }

    /// G forward as in training (`is_training`: no truncation, style mixing, random noise) on
    /// the images `idx` of the minibatch. Also returns the sum over these images of their w
    /// (before mixing), for `dlatent_avg`.
    pub(super) fn g_pass(&self, draws: &GDraws, idx: &[usize], lod: f32) -> Result<(Var, Var)> {
        let (k, d, p) = (self.cfg.latent_size, self.cfg.dlatent_size, idx.len());
        let latents = |z: &[f32]| -> Result<Var> {
            let t = Tensor::from_slice(&self.gpu, &[p, k], &rows(z, k, idx))?;
            Ok(Var::constant(t))
        };
        let maps = draws
            .noise
            .iter()
            .enumerate()
            .map(|(i, full)| {
                let s = layer_side(i);
                let t = Tensor::from_slice(&self.gpu, &[p, 1, s, s], &rows(full, s * s, idx))?;
                Ok(Var::constant(t))
            })
            .collect::<Result<Vec<_>>>()?;
        if !grad_enabled() {
            return self.g_pass_no_grad(draws, idx, lod, maps);
        }
        let w = self.g.mapping(&latents(&draws.z)?)?;
        let w_sum = no_grad(|| -> Result<Var> {
            let w0 = ops::slice_channels(&w.detach(), 0, 1)?;
            ops::sum_to(&ops::reshape(&w0, &[p, d])?, &[1, d], 1.0)
        })?;
        let w = match &draws.mix {
            Some((z2, crossover)) => {
                let w2 = self.g.mapping(&latents(z2)?)?;
                Generator::mix(&w, &w2, *crossover)?
            }
            None => w,
        };
        let images = self.g.synthesis_lod(&w, NoiseMode::Explicit(maps), lod)?;
        Ok((images, w_sum))
    }

    /// `g_pass` when nothing records history (the D phase's fakes): the same values with fewer
    /// dispatches. Each layer's style input is w (or the mixing w2) itself, as the copies that
    /// broadcasting, mixing and slicing make hold the same values; with mixing both latents
    /// go through the mapping as one batch, which computes each row on its own (a row of a
    /// matmul does not depend on the other rows).
    fn g_pass_no_grad(
        &self,
        draws: &GDraws,
        idx: &[usize],
        lod: f32,
        maps: Vec<Var>,
    ) -> Result<(Var, Var)> {
        let (k, d, p) = (self.cfg.latent_size, self.cfg.dlatent_size, idx.len());
        let layers = self.cfg.num_layers();
        let mut z = rows(&draws.z, k, idx);
        if let Some((z2, _)) = &draws.mix {
            z.extend(rows(z2, k, idx));
        }
        let zt = Tensor::from_slice(&self.gpu, &[z.len() / k, k], &z)?;
        let w_all = self.g.mapping_w(&Var::constant(zt))?;
        let w = Var::constant(w_all.value().part(0, &[p, d])?);
        let w_sum = ops::sum_to(&w, &[1, d], 1.0)?;
        let ws: Vec<Var> = match &draws.mix {
            Some((_, crossover)) => {
                let w2 = Var::constant(w_all.value().part(p * d, &[p, d])?);
                (0..layers)
                    .map(|i| {
                        if i < *crossover {
                            w.clone()
                        } else {
                            w2.clone()
                        }
                    })
                    .collect()
            }
            None => vec![w; layers],
        };
        let images = self
            .g
            .synthesis_layers(&ws, NoiseMode::Explicit(maps), lod)?;
        Ok((images, w_sum))
    }
}

/// The random draws of one training forward of G (see `Trainer::draw_g`).
pub(super) struct GDraws {
    /// Latents `[n, latent_size]`.
    z: Vec<f32>,
    /// Second latents and the crossover layer, when this forward mixes styles.
    mix: Option<(Vec<f32>, usize)>,
    /// Noise maps `[n, 1, s, s]` of each synthesis layer.
    noise: Vec<Vec<f32>>,
}
