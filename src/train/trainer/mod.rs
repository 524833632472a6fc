//! The trainer: G, D, Gs and their Adam state on the GPU, and one training iteration of the
//! official recipe ([`Trainer::step`], in `step.rs`), entirely recorded on the GPU: a D step
//! (logistic loss + R1 on reals) then a G step (non-saturating loss), each with Adam
//! (beta1 0, beta2 0.99, eps 1e-8); style-mixing regularization; `dlatent_avg` tracking;
//! Gs as the moving average of G. Losses stay on the GPU until the caller reads them.
//!
//! Progressive growing follows the official `training_loop.py` (`crate::train::schedule`, an
//! Adam reset whenever lod crosses an integer), with the minibatch of the resolution being
//! trained (`TrainConfig::batch_per_res`, the release's `minibatch_dict`; [`Trainer::batch`]).
//!
//! All randomness of step `k` comes from RNGs seeded by `(seed, k)`: the style-mixing decision
//! and crossover from the step's stream, each image's latents and noise maps from its own
//! stream keyed by `(seed, k, phase, index in the minibatch)` (`draws.rs`). So a run resumed
//! from a snapshot continues exactly as if it had never stopped, and a step split over ranks
//! (`crate::dist`, `reduce.rs`) computes what one process computes. `snapshot.rs` writes and
//! reads the whole state; `adam_state.rs` holds the optimizer moments.

mod adam_state;
mod draws;
mod reduce;
mod snapshot;
mod step;

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::dist::{shard_rows, Collective, Solo};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::config::Config;
use crate::nn::discriminator::Discriminator;
use crate::nn::generator::Generator;
use crate::nn::params::{discriminator_specs, generator_specs, init_host, HostWeights};
use crate::ops;
use crate::tape::Var;
use crate::train::config::TrainConfig;
use crate::train::schedule::LodSchedule;
use adam_state::AdamState;

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
    g_opt: AdamState,
    d_opt: AdamState,
    pub state: TrainState,
    /// The ranks this trainer shares its steps with (`Solo` unless `distribute`d).
    comm: Rc<dyn Collective>,
    /// Global minibatch indices of the images this rank computes, in its order, for a global
    /// minibatch of `rows_batch` (the next step's; `sync_batch` follows the schedule).
    rows: Vec<usize>,
    /// The training set's labels, which a class-conditional G step draws its classes from.
    label_pool: Option<Vec<u32>>,
    rows_batch: usize,
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
        cfg.validate()?;
        crate::nn::memory::check_weights_fit(&cfg, Some(gpu.max_tensor_bytes()))?;
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
        tc.validate()?;
        // Minibatch stddev takes groups of min(group, n) images, so a batch smaller than the
        // group is one valid group, and a larger one must split into whole groups: every
        // minibatch of the schedule.
        if tc.batch == 0 {
            return Err(Error::Invalid("--batch 0: must be at least 1".into()));
        }
        tc.check_batches(cfg)?;
        let blocks = cfg.log2_res().saturating_sub(2);
        if tc.freeze_d > blocks {
            return Err(Error::Invalid(format!(
                "--freeze-d {}: a {r}x{r} discriminator has {blocks} block(s) above 4x4, the \
                 most that can be frozen",
                tc.freeze_d,
                r = cfg.resolution
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
        let (mut g_opt, d_opt) = (AdamState::new(&g.params)?, AdamState::new(&d.params)?);
        let noise =
            |v: f32, rest: f32| move |name: &str| if is_noise_strength(name) { v } else { rest };
        g_opt.set_lr_mul(&g.params, noise(tc.noise_lrmul, 1.0));
        g_opt.set_decay(&g.params, noise(tc.noise_decay, 0.0));
        let n = tc.batch_at(tc.schedule(cfg, state.cur_nimg).resolution);
        Ok(Trainer {
            comm: Rc::new(Solo),
            rows: (0..n).collect(),
            label_pool: None,
            rows_batch: n,
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
    ///
    /// Every minibatch of the schedule (`TrainConfig::batch_for_ranks` at each resolution the
    /// run trains) is checked here, so a split that cannot work fails now rather than hours
    /// later; the split is exact when it is exact at every one.
    pub fn distribute(&mut self, comm: Rc<dyn Collective>) -> Result<bool> {
        let group = self.cfg.mbstd_group_size;
        let mut exact = true;
        for res in self.tc.resolutions(&self.cfg) {
            let n = self.tc.batch_for_ranks(res, comm.size(), group);
            let (_, e) =
                shard_rows(n, group, comm.rank(), comm.size()).map_err(|e| {
                    match self.tc.batch_per_res.get(&res) {
                        Some(entry) => Error::Invalid(format!(
                            "--batch-per-res {res}:{entry} (the minibatch at {res}x{res}): {e}"
                        )),
                        None => e,
                    }
                })?;
            exact &= e;
        }
        self.comm = comm;
        self.rows_batch = 0;
        self.sync_batch()?;
        Ok(exact)
    }

    /// The global minibatch of the next step: `TrainConfig::batch_for_ranks` at the
    /// resolution being trained (`batch` unless `batch_per_res` varies it). `step` takes this
    /// rank's `rows()` of a minibatch of this many reals.
    pub fn batch(&self) -> usize {
        self.tc.batch_for_ranks(
            self.schedule().resolution,
            self.comm.size(),
            self.cfg.mbstd_group_size,
        )
    }

    /// Brings `rows` to the next step's minibatch (`batch`) and returns it.
    fn sync_batch(&mut self) -> Result<usize> {
        let n = self.batch();
        if n != self.rows_batch {
            let (rows, _) = shard_rows(
                n,
                self.cfg.mbstd_group_size,
                self.comm.rank(),
                self.comm.size(),
            )?;
            self.rows = rows;
            self.rows_batch = n;
        }
        Ok(n)
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

    /// Global minibatch indices of this rank's images of the next step's minibatch (of
    /// `batch()` images): `step` takes their reals in this order.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// The labels of the training set (one class per image), which the G step of a
    /// class-conditional run draws its classes from, so that class frequencies follow the
    /// data. An error for an unconditional model, an empty list or a class out of range.
    pub fn set_training_labels(&mut self, labels: &[u32]) -> Result<()> {
        let k = self.cfg.label_size;
        if k == 0 {
            return Err(Error::Invalid(
                "training labels given to an unconditional model (label_size 0)".into(),
            ));
        }
        if labels.is_empty() {
            return Err(Error::Invalid("the training set has no labels".into()));
        }
        if let Some(c) = labels.iter().find(|&&c| c as usize >= k) {
            return Err(Error::Invalid(format!(
                "the training set has class {c}; the model has {k} classes (0-{})",
                k - 1
            )));
        }
        self.label_pool = Some(labels.to_vec());
        Ok(())
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
            let (ranks, group) = (self.comm.size(), self.cfg.mbstd_group_size);
            let prev_nimg = self
                .tc
                .previous_step_nimg(&self.cfg, self.state.cur_nimg, |res| {
                    self.tc.batch_for_ranks(res, ranks, group)
                });
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
}

/// Whether G's variable `name` is a noise strength (`G_synthesis/<res>/<layer>/Noise/weight`),
/// the variables `TrainConfig::noise_lrmul` and `TrainConfig::noise_decay` act on.
pub fn is_noise_strength(name: &str) -> bool {
    name.ends_with("/Noise/weight")
}
