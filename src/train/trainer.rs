//! One training iteration of the official recipe, entirely recorded on the GPU: a D step
//! (logistic loss + R1 on reals) then a G step (non-saturating loss), each with Adam
//! (beta1 0, beta2 0.99, eps 1e-8); style-mixing regularization; `dlatent_avg` tracking;
//! Gs as the moving average of G. Losses stay on the GPU until the caller reads them.
//!
//! Progressive growing follows the official `training_loop.py` (`lod_schedule`,
//! `process_reals_lod`, an Adam reset whenever lod crosses an integer), with one difference:
//! the minibatch size stays `batch` at every resolution (the official recipe varies it).
//!
//! All randomness of step `k` comes from RNGs seeded by `(seed, k)`: the style-mixing decision
//! and crossover from the step's stream, each image's latents and noise maps from its own
//! stream keyed by `(seed, k, phase, index in the minibatch)`. So a run resumed from a snapshot
//! continues exactly as if it had never stopped, and a step split over ranks (`dist`)
//! computes what one process computes.

use std::rc::Rc;
use std::time::Instant;

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::autodiff::grad;
use crate::dist::{group_rows, shard_rows, Collective, Solo};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::io::safetensors::Checkpoint;
use crate::nn::config::Config;
use crate::nn::discriminator::Discriminator;
use crate::nn::generator::{Generator, NoiseMode};
use crate::nn::params::{
    discriminator_specs, generator_specs, init_host, layer_side, HostTensor, HostWeights, ParamSet,
};
use crate::ops;
use crate::tape::{no_grad, Var};
use crate::train::loss::{d_loss_lod, g_loss_lod};
use crate::train::optim::{adam_step, lerp_to, AdamConfig, AdamSlot};

/// Hyper-parameters of a run (stored in snapshots).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub batch: usize,
    /// R1 weight.
    pub gamma: f32,
    /// Learning rate; `None` = the official per-resolution rates.
    pub lr: Option<f32>,
    pub style_mixing_prob: f32,
    /// Half-life of the Gs moving average in thousands of images.
    pub g_ema_kimg: f32,
    pub seed: u64,
    pub mirror: bool,
    /// Progressive growing (official `structure = 'linear'`): start at 4x4 and fade in each
    /// higher resolution; the network config must then be progressive too.
    pub progressive: bool,
    /// Thousands of images shown per resolution before fading in the next (official 600).
    pub lod_training_kimg: f32,
    /// Thousands of images over which the next resolution fades in (official 600).
    pub lod_transition_kimg: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch: 16,
            gamma: 10.0,
            lr: None,
            style_mixing_prob: 0.9,
            g_ema_kimg: 10.0,
            seed: 0,
            mirror: false,
            progressive: false,
            lod_training_kimg: 600.0,
            lod_transition_kimg: 600.0,
        }
    }
}

impl TrainConfig {
    /// Official learning rate at `resolution` (FFHQ config): 0.0015 at 128, 0.002 at 256,
    /// 0.003 at 512 and 1024, else 0.001.
    pub fn learning_rate(&self, resolution: usize) -> f32 {
        self.lr.unwrap_or(match resolution {
            128 => 0.0015,
            256 => 0.002,
            512 | 1024 => 0.003,
            _ => 0.001,
        })
    }

    /// Level of detail and training resolution after `cur_nimg` images: the official schedule
    /// when progressive, else `lod = 0` at the full resolution.
    pub fn schedule(&self, cfg: &Config, cur_nimg: u64) -> LodSchedule {
        if self.progressive {
            lod_schedule(
                cfg.log2_res(),
                cur_nimg,
                self.lod_training_kimg as f64,
                self.lod_transition_kimg as f64,
            )
        } else {
            LodSchedule {
                lod: 0.0,
                resolution: cfg.resolution,
            }
        }
    }

    /// Gs moving-average coefficient per minibatch: `0.5^(batch / (g_ema_kimg * 1000))`.
    pub fn ema_beta(&self) -> f32 {
        if self.g_ema_kimg <= 0.0 {
            0.0
        } else {
            0.5f64.powf(self.batch as f64 / (self.g_ema_kimg as f64 * 1000.0)) as f32
        }
    }
}

/// Where progressive training stands: `lod` (0 = full resolution) and the resolution being
/// trained, `2^(R - floor(lod))`, which picks the learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LodSchedule {
    pub lod: f64,
    pub resolution: usize,
}

/// The official progressive schedule (`training_loop.py`, `TrainingSchedule`, with
/// `lod_initial_resolution = 4`) after `cur_nimg` images, for a network of side `2^log2_res`:
/// stages of `training_kimg` at a fixed lod, each followed by `transition_kimg` of fading
/// lod down by one, from `R - 2` to 0. In f64, as the official Python computes it.
pub fn lod_schedule(
    log2_res: usize,
    cur_nimg: u64,
    training_kimg: f64,
    transition_kimg: f64,
) -> LodSchedule {
    let kimg = cur_nimg as f64 / 1000.0;
    let phase_dur = training_kimg + transition_kimg;
    let phase_idx = if phase_dur > 0.0 {
        (kimg / phase_dur).floor()
    } else {
        0.0
    };
    let phase_kimg = kimg - phase_idx * phase_dur;
    let mut lod = log2_res as f64 - 2.0;
    lod -= phase_idx;
    if transition_kimg > 0.0 {
        lod -= (phase_kimg - training_kimg).max(0.0) / transition_kimg;
    }
    let lod = lod.max(0.0);
    let resolution = 1usize << (log2_res - (lod.floor() as usize).min(log2_res));
    LodSchedule { lod, resolution }
}

/// The official `process_reals` fade for level of detail `lod`, on full-resolution reals
/// `[N, C, R, R]`: average down to side `R / 2^floor(lod)` (2x2 boxes, what the official
/// per-lod dataset holds, without its 8-bit rounding), blend with its own 2x2 box average
/// (upscaled) by `lod - floor(lod)`, and upscale back to `R` (nearest).
pub fn process_reals_lod(x: &Var, lod: f32) -> Result<Var> {
    if lod == 0.0 {
        return Ok(x.clone());
    }
    if !lod.is_finite() || lod < 0.0 {
        return Err(Error::Invalid(format!(
            "process_reals: lod {lod} must be finite and >= 0"
        )));
    }
    let levels = lod.floor() as usize;
    let side = *x.shape().last().unwrap_or(&0);
    if side >> levels == 0 || (lod > levels as f32 && side >> levels < 2) {
        return Err(Error::Shape {
            op: "process_reals",
            msg: format!("lod {lod} is too large for reals {:?}", x.shape()),
        });
    }
    let mut y = x.clone();
    for _ in 0..levels {
        y = ops::downsample2(&y, 0.25)?;
    }
    let frac = lod - levels as f32;
    if frac > 0.0 {
        let low = ops::upsample2(&ops::downsample2(&y, 0.25)?, 1.0)?;
        y = ops::axpby(&y, &low, 1.0 - frac, frac)?;
    }
    for _ in 0..levels {
        y = ops::upsample2(&y, 1.0)?;
    }
    Ok(y)
}

/// Losses of one step, still on the GPU (each `[1]`): minibatch means.
pub struct StepLosses {
    pub g_loss: Var,
    pub d_loss: Var,
    pub r1: Var,
    pub d_real: Var,
    pub d_fake: Var,
}

impl StepLosses {
    /// Reads the values back (one sync): `[g_loss, d_loss, r1, d_real, d_fake]`.
    pub fn read(&self) -> Result<[f32; 5]> {
        let all = ops::concat_channels(
            &ops::concat_channels(
                &ops::concat_channels(&self.g_loss.reshape2()?, &self.d_loss.reshape2()?)?,
                &ops::concat_channels(&self.r1.reshape2()?, &self.d_real.reshape2()?)?,
            )?,
            &self.d_fake.reshape2()?,
        )?;
        let v = all.to_vec()?;
        Ok([v[0], v[1], v[2], v[3], v[4]])
    }
}

trait Reshape2 {
    fn reshape2(&self) -> Result<Var>;
}
impl Reshape2 for Var {
    fn reshape2(&self) -> Result<Var> {
        ops::reshape(&self.detach(), &[1, 1])
    }
}

struct Optim {
    slots: Vec<AdamSlot>,
    names: Vec<String>,
}

impl Optim {
    fn new(p: &ParamSet) -> Result<Optim> {
        let tr = p.trainable();
        Ok(Optim {
            slots: tr
                .iter()
                .map(|(_, v)| AdamSlot::zeros(v.value()))
                .collect::<Result<_>>()?,
            names: tr.into_iter().map(|(n, _)| n).collect(),
        })
    }

    fn step(&self, p: &ParamSet, grads: &[Option<Var>], c: &AdamConfig, t: u64) -> Result<()> {
        for ((name, slot), g) in self.names.iter().zip(&self.slots).zip(grads) {
            if let Some(g) = g {
                adam_step(p.get(name)?.value(), g.value(), slot, c, t)?;
            }
        }
        Ok(())
    }

    /// Zeroes the moments (the official `reset_optimizer_state`).
    fn reset(&mut self) -> Result<()> {
        for s in self.slots.iter_mut() {
            *s = AdamSlot::zeros(&s.m)?;
        }
        Ok(())
    }

    fn download(&self) -> Result<(HostWeights, HostWeights)> {
        let (mut m, mut v) = (HostWeights::new(), HostWeights::new());
        for (name, s) in self.names.iter().zip(&self.slots) {
            m.insert(
                name.clone(),
                HostTensor {
                    shape: s.m.shape().to_vec(),
                    data: s.m.to_vec()?,
                },
            );
            v.insert(
                name.clone(),
                HostTensor {
                    shape: s.v.shape().to_vec(),
                    data: s.v.to_vec()?,
                },
            );
        }
        Ok((m, v))
    }

    fn upload(&mut self, gpu: &Gpu, m: &HostWeights, v: &HostWeights, what: &str) -> Result<()> {
        for (name, s) in self.names.iter().zip(self.slots.iter_mut()) {
            let get = |w: &HostWeights, k: &str| {
                w.get(name)
                    .filter(|t| t.shape == s.m.shape())
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "snapshot: optimizer state {what}_{k}/{name} missing or misshapen"
                        ))
                    })
                    .cloned()
            };
            let (mt, vt) = (get(m, "m")?, get(v, "v")?);
            s.m = Tensor::from_slice(gpu, &mt.shape, &mt.data)?;
            s.v = Tensor::from_slice(gpu, &vt.shape, &vt.data)?;
        }
        Ok(())
    }
}

/// Progress counters stored in snapshots.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed iterations.
    pub step: u64,
    /// Real images shown to D so far.
    pub cur_nimg: u64,
    /// The step at which the Adam state was last reset (progressive training resets it
    /// whenever lod crosses an integer); Adam's bias correction counts from there.
    #[serde(default)]
    pub opt_reset_step: u64,
}

pub struct Trainer {
    pub gpu: Gpu,
    pub cfg: Config,
    pub tc: TrainConfig,
    pub g: Generator,
    pub d: Discriminator,
    pub gs: Generator,
    g_opt: Optim,
    d_opt: Optim,
    pub state: TrainState,
    /// The ranks this trainer shares its steps with (`Solo` unless `distribute`d).
    comm: Rc<dyn Collective>,
    /// Global minibatch indices of the images this rank computes, in its order.
    rows: Vec<usize>,
    /// Time and bytes of the gradient all-reduces so far.
    pub comm_stats: CommStats,
}

/// What the gradient all-reduces of a distributed run have cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommStats {
    /// All-reduce calls (two per step: D, then G).
    pub calls: u64,
    /// Bytes each rank contributed.
    pub bytes: u64,
    /// Seconds inside the all-reduces proper (all ranks already there).
    pub reduce_seconds: f64,
    /// Seconds waiting for the slowest rank to finish its share of the phase.
    pub wait_seconds: f64,
    /// Seconds reading the gradients back and uploading the sums (after the phase's GPU work
    /// has finished).
    pub transfer_seconds: f64,
}

impl Trainer {
    /// A fresh run with the official initialization (`Gs` starts as a copy of `G`).
    pub fn new(gpu: &Gpu, cfg: &Config, tc: &TrainConfig) -> Result<Trainer> {
        let mut cfg = cfg.clone();
        cfg.progressive |= tc.progressive;
        let g = init_host(&generator_specs(&cfg), tc.seed.wrapping_add(1));
        let d = init_host(&discriminator_specs(&cfg), tc.seed.wrapping_add(2));
        Trainer::from_weights(gpu, &cfg, tc, &g, &d, &g, TrainState::default())
    }

    fn from_weights(
        gpu: &Gpu,
        cfg: &Config,
        tc: &TrainConfig,
        g: &HostWeights,
        d: &HostWeights,
        gs: &HostWeights,
        state: TrainState,
    ) -> Result<Trainer> {
        // Minibatch stddev takes groups of min(group, n) images, so a batch smaller than the
        // group is one valid group, and a larger one must split into whole groups.
        let n = tc.batch;
        let group = cfg.mbstd_group_size;
        if n == 0 {
            return Err(Error::Invalid("--batch 0: must be at least 1".into()));
        }
        if group > 1 && n > group && !n.is_multiple_of(group) {
            return Err(Error::Invalid(format!(
                "--batch {n}: must be 1 to {group} or a multiple of {group} (the discriminator's \
                 minibatch-stddev groups are min({group}, batch) images)"
            )));
        }
        if tc.progressive && !cfg.progressive {
            return Err(Error::Invalid(
                "progressive training needs a progressive network config (with the lower-lod ToRGB/FromRGB layers)".into(),
            ));
        }
        let g = Generator::new(gpu, cfg, g)?;
        let d = Discriminator::new(gpu, cfg, d)?;
        let gs = Generator::new(gpu, cfg, gs)?;
        let (g_opt, d_opt) = (Optim::new(&g.params)?, Optim::new(&d.params)?);
        Ok(Trainer {
            comm: Rc::new(Solo),
            rows: (0..n).collect(),
            comm_stats: CommStats::default(),
            gpu: gpu.clone(),
            cfg: cfg.clone(),
            tc: tc.clone(),
            g,
            d,
            gs,
            g_opt,
            d_opt,
            state,
        })
    }

    /// Shares this run's steps with the other ranks of `comm`: from now on `step` takes this
    /// rank's images of each minibatch (`rows`, from `shard_rows`) and sums gradients over the
    /// ranks. Every rank must start from the same state (`Trainer::shared` broadcasts it).
    /// Returns whether the split is exact (each rank holds whole minibatch-stddev groups, so
    /// the step equals the single-process one up to the order of sums).
    pub fn distribute(&mut self, comm: Rc<dyn Collective>) -> Result<bool> {
        let (rows, exact) = shard_rows(
            self.tc.batch,
            self.cfg.mbstd_group_size,
            comm.rank(),
            comm.size(),
        )?;
        self.rows = rows;
        self.comm = comm;
        Ok(exact)
    }

    /// A trainer that every rank of `comm` holds identically: rank 0 builds it with `make`
    /// (a fresh run or a resumed snapshot) and broadcasts its snapshot, the other ranks resume
    /// from that, and all are then `distribute`d. A failure on rank 0 ends every rank.
    pub fn shared(
        gpu: &Gpu,
        comm: Rc<dyn Collective>,
        make: impl FnOnce() -> Result<Trainer>,
    ) -> Result<(Trainer, bool)> {
        let mut bytes = Vec::new();
        let mine = if comm.rank() == 0 {
            let t = make();
            if let Ok(t) = &t {
                bytes = crate::io::safetensors::to_bytes(&t.snapshot()?)?;
            }
            comm.broadcast(&mut bytes)?;
            Some(t?)
        } else {
            comm.broadcast(&mut bytes)?;
            None
        };
        let mut t = match mine {
            Some(t) => t,
            None if bytes.is_empty() => {
                return Err(Error::Invalid(
                    "rank 0 could not set up the run (its error is in its output)".into(),
                ))
            }
            None => Trainer::resume(
                gpu,
                &crate::io::safetensors::from_bytes(&bytes, "the state broadcast by rank 0")?,
            )?,
        };
        let exact = t.distribute(comm)?;
        Ok((t, exact))
    }

    /// The ranks this trainer's steps are shared with.
    pub fn comm(&self) -> &Rc<dyn Collective> {
        &self.comm
    }

    /// Global minibatch indices of this rank's images: `step` takes their reals in this order.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// The schedule for the next step.
    pub fn schedule(&self) -> LodSchedule {
        self.tc.schedule(&self.cfg, self.state.cur_nimg)
    }

    /// The level of detail of the next step (0 unless progressive).
    pub fn lod(&self) -> f32 {
        self.schedule().lod as f32
    }

    /// Progressive bookkeeping before a step at `lod`: the official optimizer reset when the
    /// floor or ceiling of lod changes from the previous step's, and the networks' stored `lod`
    /// variables (Gs copies G's with the other non-trainables).
    fn enter_lod(&mut self, lod: f64) -> Result<()> {
        if !self.tc.progressive {
            return Ok(());
        }
        if self.state.step > 0 {
            let prev_nimg = self.state.cur_nimg.saturating_sub(self.tc.batch as u64);
            let prev = self.tc.schedule(&self.cfg, prev_nimg).lod;
            if prev.floor() != lod.floor() || prev.ceil() != lod.ceil() {
                self.g_opt.reset()?;
                self.d_opt.reset()?;
                self.state.opt_reset_step = self.state.step;
            }
        }
        let v = |lod: f64| -> Result<Var> {
            Ok(Var::constant(Tensor::from_slice(
                &self.gpu,
                &[1],
                &[lod as f32],
            )?))
        };
        self.g.params.set("G_synthesis/lod", v(lod)?)?;
        self.d.params.set("lod", v(lod)?)?;
        Ok(())
    }

    /// The random draws of one training forward of G (phase 0: D step, 1: G step) for this
    /// rank's images: the style-mixing decision and crossover from the step's stream `rng`
    /// (the same on every rank), then each image's latents, second latents when mixing, and
    /// noise maps from its own stream, keyed by its global index. Drawn once and sliced per
    /// pass, so neither passes nor ranks change what the minibatch computes.
    fn draw_g(&self, rng: &mut crate::rng::Seeded, phase: u64) -> GDraws {
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
    fn g_pass(&self, draws: &GDraws, idx: &[usize], lod: f32) -> Result<(Var, Var)> {
        let (k, d, p) = (self.cfg.latent_size, self.cfg.dlatent_size, idx.len());
        let latents = |z: &[f32]| -> Result<Var> {
            let t = Tensor::from_slice(&self.gpu, &[p, k], &rows(z, k, idx))?;
            Ok(Var::constant(t))
        };
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
        let images = self.g.synthesis_lod(&w, NoiseMode::Explicit(maps), lod)?;
        Ok((images, w_sum))
    }

    /// `dlatent_avg <- lerp(batch mean of w, dlatent_avg, beta)` from the summed w of a step's
    /// passes.
    fn track_dlatent_avg(&self, w_sum: &Var, n: usize) -> Result<()> {
        let mean = no_grad(|| ops::scale(w_sum, 1.0 / n as f32))?;
        lerp_to(
            self.g.params.get("dlatent_avg")?.value(),
            mean.value(),
            self.cfg.dlatent_avg_beta,
        )
    }

    /// GPU passes a step of this run's minibatch takes (1 unless its activations exceed the
    /// adapter's largest storage binding; see `passes`).
    pub fn passes_per_step(&self) -> Result<usize> {
        Ok(self.passes(self.rows.len())?.len())
    }

    /// How a minibatch of `n` is split into GPU passes: all of it when its activations fit one
    /// storage binding (`nn::memory`), else passes of whole minibatch-stddev groups. Group `m`
    /// is images `m, m + M, m + 2M, ...` (`M = n / G`); a pass of groups `m0..m1` lists them
    /// as `[m0..m1] + 0M, [m0..m1] + 1M, ...`, which is exactly how D groups the pass itself,
    /// so every image sees the same group statistics as in the whole batch.
    fn passes(&self, n: usize) -> Result<Vec<Vec<usize>>> {
        let per = crate::nn::memory::images_per_pass(&self.cfg, self.gpu.max_tensor_bytes())?;
        if per >= n {
            return Ok(vec![(0..n).collect()]);
        }
        let g = self.cfg.mbstd_group_size.min(n).max(1);
        let m = n / g;
        let groups = per / g;
        if groups == 0 {
            let bytes = crate::nn::memory::activation_bytes_per_image(&self.cfg) * g as u64;
            return Err(Error::OutOfMemory {
                bytes,
                what: format!(
                    "a minibatch-stddev group of {g} images at {r}x{r}, which must be in one GPU \
                     pass: the adapter's largest storage binding holds {} MiB (one pass fits \
                     {per} images); train with {} or on an adapter with larger bindings",
                    self.gpu.max_tensor_bytes() >> 20,
                    crate::nn::memory::cure(&self.cfg, self.gpu.max_tensor_bytes(), g as u64),
                    r = self.cfg.resolution
                ),
            });
        }
        Ok((0..m)
            .step_by(groups)
            .map(|m0| group_rows(n, g, m0, (m0 + groups).min(m)))
            .collect())
    }

    /// One iteration on a minibatch of reals `[batch, C, R, R]` in [-1, 1] (distributed: this
    /// rank's images `[rows().len(), C, R, R]`, in `rows()` order). A minibatch whose
    /// activations do not fit the adapter's largest storage binding runs in passes
    /// (`passes`): losses and gradients are summed over them, then each optimizer steps once,
    /// so the result equals the unsplit step up to the order of the sums.
    pub fn step(&mut self, reals: &[f32]) -> Result<StepLosses> {
        let c = &self.cfg;
        let n = self.tc.batch;
        let local = self.rows.len();
        let image = [c.num_channels, c.resolution, c.resolution];
        let image_len: usize = image.iter().product();
        if reals.len() != local * image_len {
            return Err(Error::Invalid(format!(
                "train step: reals hold {} values, expected [{local}, {}, {}, {}]",
                reals.len(),
                image[0],
                image[1],
                image[2]
            )));
        }
        let passes = self.passes(local)?;
        let mut rng = crate::rng::seeded(crate::rng::splitmix::key(self.tc.seed, self.state.step));
        let sched = self.schedule();
        self.enter_lod(sched.lod)?;
        let lod = sched.lod as f32;
        let adam = AdamConfig {
            lr: self.tc.learning_rate(sched.resolution),
            ..AdamConfig::default()
        };
        let t = self.state.step + 1 - self.state.opt_reset_step;
        // Each pass adds its share of the minibatch means.
        let share = 1.0 / n as f32;
        let part = |v: &Var| ops::scale(&ops::sum(v)?, share);

        // D step (reals faded to the current lod first; R1 is taken with respect to those).
        let draws = self.draw_g(&mut rng, 0);
        let d_vars = trainable_vars(&self.d.params);
        let (mut d_grads, mut w_sum) = (Sums::default(), Sums::default());
        let (mut d_total, mut r1, mut d_real, mut d_fake) = (
            Sums::default(),
            Sums::default(),
            Sums::default(),
            Sums::default(),
        );
        for idx in &passes {
            let (fakes, ws) = no_grad(|| self.g_pass(&draws, idx, lod))?;
            w_sum.add(Some(ws))?;
            let x = Tensor::from_slice(
                &self.gpu,
                &[idx.len(), image[0], image[1], image[2]],
                &rows(reals, image_len, idx),
            )?;
            let x = Var::param(
                no_grad(|| process_reals_lod(&Var::constant(x), lod))?
                    .value()
                    .clone(),
            );
            let dl = d_loss_lod(&self.d, &x, &fakes.detach(), self.tc.gamma, lod)?;
            let total = part(&dl.total)?;
            let grads = grad(
                std::slice::from_ref(&total),
                &[ones(&self.gpu)?],
                &d_vars,
                false,
            )?;
            d_grads.add_all(grads)?;
            d_total.add(Some(total.detach()))?;
            no_grad(|| -> Result<()> {
                r1.add(Some(part(&dl.r1.detach())?))?;
                d_real.add(Some(part(&dl.d_real.detach())?))?;
                d_fake.add(Some(part(&dl.d_fake.detach())?))
            })?;
        }
        let mut d_sums = [
            d_total.one()?,
            r1.one()?,
            d_real.one()?,
            d_fake.one()?,
            w_sum.one()?,
        ];
        self.all_reduce(&mut d_grads.all, &d_vars, &mut d_sums)?;
        self.track_dlatent_avg(&d_sums[4], n)?;
        self.d_opt.step(&self.d.params, &d_grads.all, &adam, t)?;
        drop(d_grads);

        // G step.
        let draws = self.draw_g(&mut rng, 1);
        let g_vars = trainable_vars(&self.g.params);
        let (mut g_grads, mut w_sum, mut g_total) =
            (Sums::default(), Sums::default(), Sums::default());
        for idx in &passes {
            let (fakes, ws) = self.g_pass(&draws, idx, lod)?;
            w_sum.add(Some(ws))?;
            let (_, gl) = g_loss_lod(&self.d, &fakes, lod)?;
            let total = part(&gl)?;
            let grads = grad(
                std::slice::from_ref(&total),
                &[ones(&self.gpu)?],
                &g_vars,
                false,
            )?;
            g_grads.add_all(grads)?;
            g_total.add(Some(total.detach()))?;
        }
        let mut g_sums = [g_total.one()?, w_sum.one()?];
        self.all_reduce(&mut g_grads.all, &g_vars, &mut g_sums)?;
        self.track_dlatent_avg(&g_sums[1], n)?;
        self.g_opt.step(&self.g.params, &g_grads.all, &adam, t)?;
        drop(g_grads);

        // Gs <- lerp(G, Gs, beta); non-trainables (noise maps, dlatent_avg) are copied.
        let beta = self.tc.ema_beta();
        for spec in self.g.params.specs() {
            let src = self.g.params.get(&spec.name)?.value();
            let dst = self.gs.params.get(&spec.name)?.value();
            lerp_to(dst, src, if spec.trainable { beta } else { 0.0 })?;
        }
        self.state.step += 1;
        self.state.cur_nimg += n as u64;
        self.gpu.flush()?;
        let [g_loss, _] = g_sums;
        let [d_loss, r1, d_real, d_fake, _] = d_sums;
        Ok(StepLosses {
            g_loss,
            d_loss,
            r1,
            d_real,
            d_fake,
        })
    }

    /// Sums a phase's results over the ranks: its gradients (`None`: zeros of the variable's
    /// shape) and its summed scalars, read back as one buffer, all-reduced once and uploaded
    /// as one. Nothing happens in a single process.
    fn all_reduce(
        &mut self,
        grads: &mut [Option<Var>],
        vars: &[Var],
        sums: &mut [Var],
    ) -> Result<()> {
        if self.comm.size() == 1 {
            return Ok(());
        }
        // Finish the phase's GPU work first, so that the times below are the transfer's own.
        self.gpu.sync()?;
        let t0 = Instant::now();
        let mut tensors = grads
            .iter()
            .zip(vars)
            .map(|(g, v)| match g {
                Some(g) => Ok(g.value().clone()),
                None => Tensor::zeros(&self.gpu, v.shape()),
            })
            .collect::<Result<Vec<_>>>()?;
        tensors.extend(sums.iter().map(|v| v.value().clone()));
        let mut buf = Tensor::read_concat(&self.gpu, &tensors.iter().collect::<Vec<_>>())?;
        let t1 = Instant::now();
        // A one-value all-reduce as a barrier: what follows times the all-reduce alone.
        self.comm.any(false)?;
        let t_ready = Instant::now();
        self.comm.all_reduce_sum(&mut buf)?;
        let t2 = Instant::now();
        let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
        let mut back = Tensor::from_slices(&self.gpu, &shapes, &buf)?.into_iter();
        for g in grads.iter_mut() {
            *g = back.next().map(Var::constant);
        }
        for v in sums.iter_mut() {
            *v = Var::constant(back.next().expect("one tensor per sum"));
        }
        self.gpu.flush()?;
        let st = &mut self.comm_stats;
        st.calls += 1;
        st.bytes += buf.len() as u64 * 4;
        st.wait_seconds += (t_ready - t1).as_secs_f64();
        st.reduce_seconds += (t2 - t_ready).as_secs_f64();
        st.transfer_seconds += ((t1 - t0) + t2.elapsed()).as_secs_f64();
        Ok(())
    }

    /// Everything needed to continue exactly: G, D, Gs, Adam moments, counters, config.
    pub fn snapshot(&self) -> Result<Checkpoint> {
        let mut nets = BTreeMap::new();
        nets.insert("G".to_string(), self.g.params.download()?);
        nets.insert("D".to_string(), self.d.params.download()?);
        nets.insert("Gs".to_string(), self.gs.params.download()?);
        let (gm, gv) = self.g_opt.download()?;
        let (dm, dv) = self.d_opt.download()?;
        nets.insert("G_adam_m".to_string(), gm);
        nets.insert("G_adam_v".to_string(), gv);
        nets.insert("D_adam_m".to_string(), dm);
        nets.insert("D_adam_v".to_string(), dv);
        let mut metadata = BTreeMap::new();
        metadata.insert(
            "train_config".to_string(),
            serde_json::to_string(&self.tc).expect("serializes"),
        );
        metadata.insert(
            "train_state".to_string(),
            serde_json::to_string(&self.state).expect("serializes"),
        );
        Ok(Checkpoint {
            config: self.cfg.clone(),
            nets,
            metadata,
        })
    }

    /// Continues a run from `snapshot` (as written by `snapshot`).
    pub fn resume(gpu: &Gpu, snapshot: &Checkpoint) -> Result<Trainer> {
        let meta = |k: &str| {
            snapshot.metadata.get(k).ok_or_else(|| {
                Error::Invalid(format!("snapshot has no '{k}': not a training snapshot"))
            })
        };
        let tc: TrainConfig = serde_json::from_str(meta("train_config")?)
            .map_err(|e| Error::Invalid(format!("snapshot train_config: {e}")))?;
        let state: TrainState = serde_json::from_str(meta("train_state")?)
            .map_err(|e| Error::Invalid(format!("snapshot train_state: {e}")))?;
        let net = |k: &str| {
            snapshot
                .nets
                .get(k)
                .ok_or_else(|| Error::Invalid(format!("snapshot has no network '{k}'")))
        };
        let mut t = Trainer::from_weights(
            gpu,
            &snapshot.config,
            &tc,
            net("G")?,
            net("D")?,
            net("Gs")?,
            state,
        )?;
        t.g_opt
            .upload(gpu, net("G_adam_m")?, net("G_adam_v")?, "G_adam")?;
        t.d_opt
            .upload(gpu, net("D_adam_m")?, net("D_adam_v")?, "D_adam")?;
        Ok(t)
    }
}

/// The random draws of one training forward of G (see `Trainer::draw_g`).
struct GDraws {
    /// Latents `[n, latent_size]`.
    z: Vec<f32>,
    /// Second latents and the crossover layer, when this forward mixes styles.
    mix: Option<(Vec<f32>, usize)>,
    /// Noise maps `[n, 1, s, s]` of each synthesis layer.
    noise: Vec<Vec<f32>>,
}

/// Rows `idx` of `data`, rows of `len` values, in that order.
fn rows(data: &[f32], len: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| data[i * len..(i + 1) * len].iter().copied())
        .collect()
}

fn trainable_vars(p: &ParamSet) -> Vec<Var> {
    p.trainable().into_iter().map(|(_, v)| v).collect()
}

/// Sums of the passes of a step: one value, or one per variable.
#[derive(Default)]
struct Sums {
    all: Vec<Option<Var>>,
}

impl Sums {
    fn add(&mut self, v: Option<Var>) -> Result<()> {
        self.add_all(vec![v])
    }

    fn add_all(&mut self, vs: Vec<Option<Var>>) -> Result<()> {
        if self.all.is_empty() {
            self.all = vs;
            return Ok(());
        }
        for (acc, v) in self.all.iter_mut().zip(vs) {
            *acc = match (acc.take(), v) {
                (Some(a), Some(v)) => Some(no_grad(|| ops::add(&a, &v))?),
                (a, v) => a.or(v),
            };
        }
        Ok(())
    }

    /// The single summed value.
    fn one(&self) -> Result<Var> {
        self.all
            .first()
            .cloned()
            .flatten()
            .ok_or_else(|| Error::Invalid("train step: a minibatch without passes".into()))
    }
}

fn ones(gpu: &Gpu) -> Result<Var> {
    Ok(Var::constant(Tensor::from_slice(gpu, &[1], &[1.0])?))
}
