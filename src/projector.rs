//! Projection of a real image into W: find the `w` (and noise maps) whose image matches a
//! target, by gradient descent through the synthesis network. This follows
//! stylegan2-ada-pytorch's `projector.py` and its constants:
//!
//! - w statistics from 10,000 `z` (`numpy.random.RandomState(123)`) through the mapping
//!   network: `w_avg` and `w_std = sqrt(Σ ‖w − w_avg‖² / N)`. One `w`, broadcast to every
//!   layer, starts at `w_avg` (`--w-plus`: one per layer, all starting there); every noise map
//!   is optimized too, starting from N(0, 1).
//! - Adam (β 0.9, 0.999, ε 1e-8) at `0.1 · ramp`, the ramp a cosine down over the last 25 %
//!   of the steps and linear up over the first 5 %; Gaussian noise of strength
//!   `w_std · 0.05 · max(0, 1 − t/0.75)²` added to `w` before synthesis.
//! - Loss: the image distance plus `1e5 ×` the noise regularization ([`noise_regularization`]);
//!   after each step every noise map is renormalized to zero mean and unit variance.
//!
//! The distance is LPIPS-VGG16 as the official projector (images area-downsampled to 256²
//! when larger, gray repeated to RGB), or, without VGG16 weights, the summed squared pixel
//! error plus the evaluation classifier's unit-normalized feature distance ([`Distance`]).
//!
//! Our Adam is TF's form (the ε added to `√v` rather than to `√v̂`): with ε = 1e-8 the two
//! differ only while `√v` is below ~1e-6.

use crate::rng::Seeded;

use crate::autodiff::grad_scalar;
use crate::error::{Error, Result};
use crate::eval::classifier::Classifier;
use crate::eval::lpips::Lpips;
use crate::gpu::Tensor;
use crate::nn::generator::{Generator, NoiseMode};
use crate::nn::params::layer_side;
use crate::ops;
use crate::rng::{std_normal, NumpyRandomState};
use crate::tape::{no_grad, Var};
use crate::train::optim::{adam_step, AdamConfig, AdamSlot};

/// The projector's constants (stylegan2-ada-pytorch's `project()` defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectorConfig {
    pub steps: usize,
    /// `z` samples for `w_avg` and `w_std` (drawn with `RandomState(123)`).
    pub w_avg_samples: usize,
    pub initial_learning_rate: f32,
    /// Strength of the noise added to `w`, in units of `w_std`, at the start.
    pub initial_noise_factor: f32,
    /// Fractions of the run over which the learning rate falls (cosine) and rises (linear).
    pub lr_rampdown_length: f32,
    pub lr_rampup_length: f32,
    /// Fraction of the run after which no noise is added to `w`.
    pub noise_ramp_length: f32,
    pub regularize_noise_weight: f32,
    /// Seed of the initial noise maps and of the noise added to `w`.
    pub seed: u64,
    /// One `w` per layer (W+) instead of one for all.
    pub w_plus: bool,
    /// Class-conditional models: the class whose samples give `w_avg` and `w_std` (where the
    /// projection starts and how much noise it adds); `None` spreads the samples over every
    /// class (sample `i` of class `i mod label_size`). Must be `None` for unconditional models.
    pub class: Option<u32>,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        ProjectorConfig {
            steps: 1000,
            w_avg_samples: 10_000,
            initial_learning_rate: 0.1,
            initial_noise_factor: 0.05,
            lr_rampdown_length: 0.25,
            lr_rampup_length: 0.05,
            noise_ramp_length: 0.75,
            regularize_noise_weight: 1e5,
            seed: 303,
            w_plus: false,
            class: None,
        }
    }
}

impl ProjectorConfig {
    /// The `w` statistics this projection starts from: [`w_stats_class`] with
    /// `w_avg_samples` and `class`.
    pub fn w_stats(&self, g: &Generator) -> Result<WStats> {
        w_stats_class(g, self.w_avg_samples, self.class)
    }

    /// The learning rate of step `step` (0-based) of `steps`.
    pub fn learning_rate(&self, step: usize) -> f32 {
        let t = step as f64 / self.steps as f64;
        let down = ((1.0 - t) / self.lr_rampdown_length as f64).min(1.0);
        let ramp = 0.5 - 0.5 * (down * std::f64::consts::PI).cos();
        let ramp = ramp * (t / self.lr_rampup_length as f64).min(1.0);
        (self.initial_learning_rate as f64 * ramp) as f32
    }

    /// The standard deviation of the noise added to `w` at step `step`.
    pub fn w_noise_scale(&self, w_std: f32, step: usize) -> f32 {
        let t = step as f64 / self.steps as f64;
        let fade = (1.0 - t / self.noise_ramp_length as f64).max(0.0);
        (w_std as f64 * self.initial_noise_factor as f64 * fade * fade) as f32
    }
}

/// How far the synthesized image is from the target.
pub enum Distance<'a> {
    /// LPIPS-VGG16, the official projector's.
    Lpips(&'a Lpips),
    /// Squared pixel error summed over the image (values in [-1, 1]) plus `feature_weight`
    /// times the squared distance of the classifier's unit-normalized features: for models
    /// without VGG16 weights, such as the 1-channel Fashion-MNIST one. Summed, not averaged:
    /// against the mean the fixed `1e5` noise regularization holds the noise maps white and
    /// the projections lose detail (on the default model, 21.5 vs 22.5 dB after 1000 steps).
    PixelFeatures {
        classifier: Option<&'a Classifier>,
        feature_weight: f32,
    },
}

impl Distance<'_> {
    /// What the output should say the loss was.
    pub fn describe(&self) -> String {
        match self {
            Distance::Lpips(_) => "LPIPS-VGG16".into(),
            Distance::PixelFeatures {
                classifier: Some(_),
                feature_weight,
            } => format!(
                "summed squared pixel error + {feature_weight} x the evaluation classifier's \
                 feature distance (no VGG16 weights given, so not LPIPS)"
            ),
            Distance::PixelFeatures {
                classifier: None, ..
            } => "summed squared pixel error (no VGG16 weights given, so not LPIPS)".into(),
        }
    }
}

/// `w_avg` (`[dlatent_size]`) and `w_std` of the mapping network's output.
#[derive(Clone, Debug)]
pub struct WStats {
    pub avg: Vec<f32>,
    pub std: f32,
}

/// `w` statistics of `samples` latents `RandomState(123).randn(samples, latent_size)`, mapped
/// in the generator's batches (accumulated in f64). A class-conditional model maps sample `i`
/// with class `i mod label_size` (every class alike); see [`w_stats_class`].
pub fn w_stats(g: &Generator, samples: usize) -> Result<WStats> {
    w_stats_class(g, samples, None)
}

/// [`w_stats`] of one class of a class-conditional model (`Some(class)`: every sample that
/// class) or, with `None`, of all classes alike; a class on an unconditional model, or one out
/// of range, is an error naming the model's classes.
pub fn w_stats_class(g: &Generator, samples: usize, class: Option<u32>) -> Result<WStats> {
    if samples == 0 {
        return Err(Error::Invalid(
            "w statistics need at least one sample".into(),
        ));
    }
    let (k, d) = (g.cfg.latent_size, g.cfg.dlatent_size);
    if let Some(c) = class {
        if !g.cfg.is_conditional() {
            return Err(Error::Invalid(format!(
                "class {c}: this model is unconditional (label_size 0); its w statistics take \
                 no class"
            )));
        }
        if c as usize >= g.cfg.label_size {
            return Err(Error::Invalid(format!(
                "class {c} is not one of this model's {} classes: {}",
                g.cfg.label_size,
                g.cfg.class_list()
            )));
        }
    }
    let z: Vec<f32> = NumpyRandomState::new(123)
        .randn(samples * k)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let index: Vec<u32> = (0..samples as u32).collect();
    let classes = crate::nn::labels::classes_of_seeds(&g.cfg, &index, class)?;
    let batch = g.images_per_pass()?.max(1);
    let mut ws = Vec::with_capacity(samples * d);
    for (i, chunk) in z.chunks(batch * k).enumerate() {
        let rows = chunk.len() / k;
        let zt = Tensor::from_slice(g.gpu(), &[rows, k], chunk)?;
        let c = classes.as_ref().map(|c| &c[i * batch..i * batch + rows]);
        let labels = crate::nn::labels::class_labels(g.gpu(), &g.cfg, c)?;
        ws.extend(no_grad(|| {
            g.mapping_w_labels(&Var::constant(zt), labels.as_ref())?
                .to_vec()
        })?);
    }
    let mut avg = vec![0f64; d];
    for row in ws.chunks(d) {
        for (a, &v) in avg.iter_mut().zip(row) {
            *a += v as f64;
        }
    }
    avg.iter_mut().for_each(|a| *a /= samples as f64);
    let ss: f64 = ws
        .chunks(d)
        .map(|row| {
            row.iter()
                .zip(&avg)
                .map(|(&v, a)| (v as f64 - a).powi(2))
                .sum::<f64>()
        })
        .sum();
    Ok(WStats {
        avg: avg.iter().map(|&a| a as f32).collect(),
        std: (ss / samples as f64).sqrt() as f32,
    })
}

/// The official noise regularization: for each map `[1, 1, s, s]`, the squared mean of its
/// product with itself rolled by one pixel along each axis, repeated after each 2x2 average
/// pooling down to 8x8 (maps of 8x8 and smaller are taken once). A scalar `[1]`.
pub fn noise_regularization(maps: &[Var]) -> Result<Var> {
    let mut total: Option<Var> = None;
    for map in maps {
        let mut v = map.clone();
        loop {
            for (dy, dx) in [(0, 1), (1, 0)] {
                let m = ops::mean(&ops::mul(&v, &ops::roll(&v, dy, dx)?)?)?;
                let sq = ops::square(&m)?;
                total = Some(match total {
                    Some(t) => ops::add(&t, &sq)?,
                    None => sq,
                });
            }
            if v.shape()[2] <= 8 {
                break;
            }
            v = ops::avg_pool2d(&v, 2, 2, 0, true)?;
        }
    }
    total.ok_or_else(|| Error::Invalid("noise regularization: no noise maps".into()))
}

/// PSNR in dB of two images in [-1, 1] after the official 8-bit quantization (peak 255), as the
/// projector's outputs report it.
pub fn psnr_u8(a: &[f32], b: &[f32]) -> f64 {
    use crate::io::images::to_u8;
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (to_u8(x) as f64 - to_u8(y) as f64).powi(2))
        .sum::<f64>()
        / a.len().max(1) as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}

/// `f / sqrt(Σ f² + 1e-20)` per row of `[N, D]` features.
fn unit_rows(f: &Var) -> Result<Var> {
    let s = f.shape().to_vec();
    let ss = ops::sum_to(&ops::square(f)?, &[s[0], 1], 1.0)?;
    let inv = ops::rsqrt(&ops::affine(&ss, 1.0, 1e-20)?)?;
    ops::mul(f, &ops::broadcast_to(&inv, &s)?)
}

/// The losses of one step, read back from the GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLosses {
    /// `dist + regularize_noise_weight * reg`.
    pub loss: f32,
    pub dist: f32,
    pub reg: f32,
}

/// One projection in progress. [`Projector::step`] runs one optimization step;
/// [`Projector::dlatents`], [`Projector::noise_maps`] and [`Projector::image`] read the result
/// so far.
pub struct Projector<'a> {
    g: &'a Generator,
    cfg: ProjectorConfig,
    distance: Distance<'a>,
    target: Var,
    /// LPIPS features or the classifier's unit-normalized features of the target.
    target_features: Vec<Var>,
    stats: WStats,
    /// `[1, 1, D]`, or `[1, L, D]` in W+.
    w: Var,
    noise: Vec<Var>,
    slots: Vec<AdamSlot>,
    rng: Seeded,
    step: usize,
}

impl<'a> Projector<'a> {
    /// Starts a projection of `target` (`[num_channels, resolution, resolution]` values in
    /// [-1, 1], the generator's own range and layout), with `stats` from [`w_stats`].
    pub fn new(
        g: &'a Generator,
        target: &[f32],
        distance: Distance<'a>,
        stats: WStats,
        cfg: ProjectorConfig,
    ) -> Result<Projector<'a>> {
        let (c, r, d, l) = (
            g.cfg.num_channels,
            g.cfg.resolution,
            g.cfg.dlatent_size,
            g.cfg.num_layers(),
        );
        if target.len() != c * r * r {
            return Err(Error::Shape {
                op: "projector",
                msg: format!(
                    "the target has {} values; the model makes {c}x{r}x{r} images",
                    target.len()
                ),
            });
        }
        if let Some(i) = target.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!(
                "projector: target value {i} is {}",
                target[i]
            )));
        }
        if cfg.steps == 0 {
            return Err(Error::Invalid("projector: steps must be at least 1".into()));
        }
        // The class only chose the statistics; one the model cannot take is still refused.
        crate::nn::labels::classes_of_seeds(&g.cfg, &[], cfg.class)
            .map_err(|e| Error::Invalid(format!("projector: {e}")))?;
        if stats.avg.len() != d {
            return Err(Error::Shape {
                op: "projector",
                msg: format!("w_avg has {} values, dlatent_size is {d}", stats.avg.len()),
            });
        }
        let gpu = g.gpu();
        let target = Var::constant(Tensor::from_slice(gpu, &[1, c, r, r], target)?);
        let mut rng = crate::rng::seeded(cfg.seed);
        let rows = if cfg.w_plus { l } else { 1 };
        let w0: Vec<f32> = (0..rows).flat_map(|_| stats.avg.iter().copied()).collect();
        let w = Var::param(Tensor::from_slice(gpu, &[1, rows, d], &w0)?);
        let noise = (0..l)
            .map(|i| {
                let s = layer_side(i);
                let v = std_normal(&mut rng, s * s);
                Ok(Var::param(Tensor::from_slice(gpu, &[1, 1, s, s], &v)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let slots = std::iter::once(&w)
            .chain(&noise)
            .map(|v| AdamSlot::zeros(v.value()))
            .collect::<Result<Vec<_>>>()?;
        let mut p = Projector {
            g,
            cfg,
            distance,
            target: target.clone(),
            target_features: Vec::new(),
            stats,
            w,
            noise,
            slots,
            rng,
            step: 0,
        };
        p.target_features = no_grad(|| p.features(&target))?
            .into_iter()
            .map(|f| f.detach())
            .collect();
        Ok(p)
    }

    pub fn config(&self) -> &ProjectorConfig {
        &self.cfg
    }

    pub fn w_stats(&self) -> &WStats {
        &self.stats
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn done(&self) -> bool {
        self.step >= self.cfg.steps
    }

    /// What the distance compares of an image `[1, C, R, R]` in [-1, 1].
    fn features(&self, x: &Var) -> Result<Vec<Var>> {
        match &self.distance {
            Distance::Lpips(lp) => {
                let s = x.shape().to_vec();
                let mut y = if s[1] == 1 {
                    ops::broadcast_to(x, &[s[0], 3, s[2], s[3]])?
                } else {
                    x.clone()
                };
                if s[2] > 256 {
                    let k = s[2] / 256;
                    y = ops::avg_pool2d(&y, k, k, 0, true)?;
                }
                lp.features(&y)
            }
            Distance::PixelFeatures {
                classifier: Some(cl),
                ..
            } => {
                let s = x.shape().to_vec();
                let mut y = if s[1] == 1 {
                    x.clone()
                } else {
                    ops::sum_to(x, &[s[0], 1, s[2], s[3]], 1.0 / s[1] as f32)?
                };
                let side = cl.config().side;
                if s[2] != side {
                    y = ops::resize_bilinear(&y, side, side)?;
                }
                Ok(vec![unit_rows(&cl.forward(&y)?.features)?])
            }
            Distance::PixelFeatures {
                classifier: None, ..
            } => Ok(Vec::new()),
        }
    }

    /// The distance of `x` to the target, a scalar `[1]`.
    fn distance(&self, x: &Var) -> Result<Var> {
        let f = self.features(x)?;
        match &self.distance {
            Distance::Lpips(lp) => ops::sum(&lp.feature_distance(&f, &self.target_features)?),
            Distance::PixelFeatures { feature_weight, .. } => {
                let mse = ops::sum(&ops::square(&ops::sub(x, &self.target)?)?)?;
                match (f.first(), self.target_features.first()) {
                    (Some(a), Some(b)) => {
                        let fd = ops::sum(&ops::square(&ops::sub(a, b)?)?)?;
                        ops::axpby(&mse, &fd, 1.0, *feature_weight)
                    }
                    _ => Ok(mse),
                }
            }
        }
    }

    /// `w` broadcast to `[1, L, D]` (plus `offset`, the noise added during optimization).
    fn ws(&self, offset: Option<&Var>) -> Result<Var> {
        let w = match offset {
            Some(o) => ops::add(&self.w, o)?,
            None => self.w.clone(),
        };
        let (l, d) = (self.g.cfg.num_layers(), self.g.cfg.dlatent_size);
        if self.cfg.w_plus {
            Ok(w)
        } else {
            ops::broadcast_to(&w, &[1, l, d])
        }
    }

    /// One optimization step; the losses are read back (a GPU round trip) only when `report`.
    pub fn step(&mut self, report: bool) -> Result<Option<StepLosses>> {
        if self.done() {
            return Err(Error::Invalid(format!(
                "projector: all {} steps have run",
                self.cfg.steps
            )));
        }
        let gpu = self.g.gpu().clone();
        let scale = self.cfg.w_noise_scale(self.stats.std, self.step);
        let shape = self.w.shape().to_vec();
        let offset: Vec<f32> = std_normal(&mut self.rng, self.w.value().numel())
            .into_iter()
            .map(|v| v * scale)
            .collect();
        let offset = Var::constant(Tensor::from_slice(&gpu, &shape, &offset)?);
        let image = self.g.synthesis(
            &self.ws(Some(&offset))?,
            NoiseMode::Explicit(self.noise.clone()),
        )?;
        let dist = self.distance(&image)?;
        let reg = noise_regularization(&self.noise)?;
        let loss = ops::axpby(&dist, &reg, 1.0, self.cfg.regularize_noise_weight)?;
        let params: Vec<Var> = std::iter::once(self.w.clone())
            .chain(self.noise.iter().cloned())
            .collect();
        let grads = grad_scalar(&loss, &params, false)?;
        let adam = AdamConfig {
            lr: self.cfg.learning_rate(self.step),
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            decay: 0.0,
        };
        let t = self.step as u64 + 1;
        for ((p, g), slot) in params.iter().zip(&grads).zip(&self.slots) {
            // A noise map the loss does not reach (none here) would simply keep its value.
            if let Some(g) = g {
                adam_step(p.value(), g.value(), slot, &adam, t)?;
            }
        }
        // Zero mean, unit variance for every noise map, as after each official step.
        self.noise = no_grad(|| {
            self.noise
                .iter()
                .map(|n| {
                    let s = n.shape().to_vec();
                    let all = |v: &Var| ops::broadcast_to(&ops::reshape(v, &[1, 1, 1, 1])?, &s);
                    let c = ops::sub(n, &all(&ops::mean(n)?)?)?;
                    let inv = ops::rsqrt(&ops::mean(&ops::square(&c)?)?)?;
                    Ok(Var::param(ops::mul(&c, &all(&inv)?)?.value().clone()))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        self.step += 1;
        if !report {
            gpu.flush()?;
            return Ok(None);
        }
        let read = |v: &Var| -> Result<f32> { Ok(v.to_vec()?[0]) };
        Ok(Some(StepLosses {
            loss: read(&loss)?,
            dist: read(&dist)?,
            reg: read(&reg)?,
        }))
    }

    /// The projected dlatents `[1, L, D]` (row-major): `w` without the optimization's noise.
    pub fn dlatents(&self) -> Result<Vec<f32>> {
        no_grad(|| self.ws(None)?.to_vec())
    }

    /// The optimized noise maps, one `[s * s]` per layer.
    pub fn noise_maps(&self) -> Result<Vec<Vec<f32>>> {
        self.noise.iter().map(|n| n.to_vec()).collect()
    }

    /// The image of the projection so far, `[C, R, R]` in [-1, 1] (unclipped): the dlatents
    /// with the optimized noise maps.
    pub fn image(&self) -> Result<Vec<f32>> {
        no_grad(|| {
            self.g
                .synthesis(&self.ws(None)?, NoiseMode::Explicit(self.noise.clone()))?
                .to_vec()
        })
    }
}
