//! The random draws of a training step's G forwards and the forward itself: every image's
//! latents and noise from its own stream, so neither passes nor ranks change a minibatch.

use rand::Rng;

use super::step::rows;
use super::Trainer;
use crate::error::Result;
use crate::gpu::Tensor;
use crate::nn::generator::NoiseMode;
use crate::nn::labels::class_labels;
use crate::nn::params::layer_side;
use crate::ops;
use crate::tape::{grad_enabled, no_grad, Var};

impl Trainer {
    /// The random draws of one training forward of G (phase 0: D step, 1: G step) for this
    /// rank's images: the style-mixing decision and crossover from the step's stream `rng`
    /// (the same on every rank), then each image's latents, second latents when mixing, and
    /// noise maps from its own stream, keyed by its global index. Drawn once and sliced per
    /// pass, so neither passes nor ranks change what the minibatch computes.
    ///
    /// A class-conditional run also gives every image a class: `classes` (the minibatch's
    /// real labels, for the D step's fakes) or, when `None`, one drawn from the training
    /// set's labels (`Trainer::set_training_labels`) on the image's own stream after its
    /// noise, as the release's G loss draws `get_random_labels`.
    pub(super) fn draw_g(
        &self,
        rng: &mut crate::rng::Seeded,
        phase: u64,
        classes: Option<&[u32]>,
    ) -> Result<GDraws> {
        let (k, layers) = (self.cfg.latent_size, self.cfg.num_layers());
        let mix = rng.random::<f32>() < self.tc.style_mixing_prob && layers > 1;
        let crossover = mix.then(|| rng.random_range(1..layers));
        let n = self.rows.len();
        let mut z = Vec::with_capacity(n * k);
        let mut z2 = Vec::with_capacity(if mix { n * k } else { 0 });
        let mut noise: Vec<Vec<f32>> = (0..layers)
            .map(|i| Vec::with_capacity(n * layer_side(i) * layer_side(i)))
            .collect();
        let pool = match (self.cfg.is_conditional(), classes) {
            (false, _) | (true, Some(_)) => None,
            (true, None) => Some(self.label_pool.as_deref().ok_or_else(|| {
                crate::Error::Invalid(
                    "class-conditional training needs the training set's labels \
                     (Trainer::set_training_labels)"
                        .into(),
                )
            })?),
        };
        let mut drawn = Vec::with_capacity(if pool.is_some() { n } else { 0 });
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
            if let Some(pool) = pool {
                drawn.push(pool[r.random_range(0..pool.len())]);
            }
        }
        let classes = match (pool, classes) {
            (Some(_), _) => Some(drawn),
            (None, Some(c)) if self.cfg.is_conditional() => Some(c.to_vec()),
            _ => None,
        };
        Ok(GDraws {
            z,
            mix: crossover.map(|c| (z2, c)),
            noise,
            classes,
        })
    }

    /// G forward as in training (`is_training`: no truncation, style mixing, random noise) on
    /// the images `idx` of the minibatch. Also returns the sum over these images of their w
    /// (before mixing), for `dlatent_avg`, and on a class-conditional model their one-hot
    /// labels (for D). Mixing maps the second latents with the same labels.
    ///
    /// Each layer's style input is w (or the mixing w2) itself, not a slice of w broadcast to
    /// `[N, num_layers, D]` and mixed (the same values), and with mixing both latents go
    /// through the mapping as one batch (each row of the forward is computed on its own, so
    /// the images are the same). The gradients are the same up to float rounding: w's sums the
    /// layers' contributions in the order they arrive, and the mapping's weight gradients sum
    /// over both batches in one matmul rather than adding the two.
    pub(super) fn g_pass(
        &self,
        draws: &GDraws,
        idx: &[usize],
        lod: f32,
    ) -> Result<(Var, Var, Option<Var>)> {
        let (k, d, p) = (self.cfg.latent_size, self.cfg.dlatent_size, idx.len());
        let layers = self.cfg.num_layers();
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
        let mut z = rows(&draws.z, k, idx);
        if let Some((z2, _)) = &draws.mix {
            z.extend(rows(z2, k, idx));
        }
        let zt = Tensor::from_slice(&self.gpu, &[z.len() / k, k], &z)?;
        let classes = draws.classes.as_ref().map(|c| rows(c, 1, idx));
        let labels = class_labels(&self.gpu, &self.cfg, classes.as_deref())?;
        let w_all = match (&labels, &draws.mix) {
            (Some(_), Some(_)) => {
                let twice = classes.map(|c| [c.clone(), c].concat());
                let both = class_labels(&self.gpu, &self.cfg, twice.as_deref())?;
                self.g.mapping_w_labels(&Var::constant(zt), both.as_ref())?
            }
            _ => self
                .g
                .mapping_w_labels(&Var::constant(zt), labels.as_ref())?,
        };
        // Rows `h*p..(h+1)*p` of the batch: a view (or copy) where nothing is differentiated,
        // else a slice of `[1, 2, p*d]`.
        let half = |h: usize| -> Result<Var> {
            if !grad_enabled() {
                return Ok(Var::constant(w_all.value().part(h * p * d, &[p, d])?));
            }
            let halves = ops::reshape(&w_all, &[1, w_all.shape()[0] / p, p * d])?;
            ops::reshape(&ops::slice_channels(&halves, h, 1)?, &[p, d])
        };
        let w = match &draws.mix {
            Some(_) => half(0)?,
            None => w_all.clone(),
        };
        let w_sum = no_grad(|| ops::sum_to(&w.detach(), &[1, d], 1.0))?;
        let ws: Vec<Var> = match &draws.mix {
            Some((_, crossover)) => {
                let w2 = half(1)?;
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
        Ok((images, w_sum, labels))
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
    /// The class of each image (class-conditional models).
    classes: Option<Vec<u32>>,
}
