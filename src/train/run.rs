//! The training loop ([`run`]), as stylegan2-ada-pytorch's `training_loop.py`: build or resume
//! the trainer, then step through the dataset, log a line per tick to `log.jsonl`, write a
//! snapshot and a fake grid every `snapshot_kimg`, measure the metrics at each snapshot into
//! `metric-<name>.jsonl`, and stop cleanly when asked. Every rank of a distributed run calls
//! it; only rank 0 writes. It reports through an [`Observer`] and never prints: the command
//! line draws bars and handles signals, a test or an application observes what it needs.
//!
//! ```
//! use std::rc::Rc;
//! use std::sync::Arc;
//! use stylegan_wgpu::data::{DataOptions, Dataset};
//! use stylegan_wgpu::dist::Solo;
//! use stylegan_wgpu::progress::Progress;
//! use stylegan_wgpu::train::run::{run, Observer, Start, Tick, TrainingOptions};
//! use stylegan_wgpu::train::TrainConfig;
//! use stylegan_wgpu::{Config, Gpu};
//! # fn main() -> stylegan_wgpu::Result<()> {
//! # let tmp = std::env::temp_dir().join(format!("stylegan-doc-run-{}", std::process::id()));
//! # let data = tmp.join("data");
//! # std::fs::create_dir_all(&data).unwrap();
//! # for i in 0..8u8 {
//! #     let img: Vec<u8> = (0..64).map(|p| (p as u8).wrapping_mul(i + 1)).collect();
//! #     image::save_buffer(data.join(format!("{i}.png")), &img, 8, 8, image::ColorType::L8).unwrap();
//! # }
//! struct Losses(Vec<f32>);
//! impl Progress for Losses {}
//! impl Observer for Losses {
//!     fn tick(&mut self, t: &Tick) {
//!         self.0.push(t.losses[0]); // G loss
//!     }
//! }
//! let gpu = Gpu::new()?;
//! let ds = Arc::new(Dataset::open(&data, &DataOptions::default())?); // 8x8 grayscale
//! let cfg = Config { resolution: 8, num_channels: 1, ..Config::preset("tiny")? };
//! let opts = TrainingOptions {
//!     kimg: 0.016, // 4 steps of 4 images
//!     snapshot_kimg: 1.0,
//!     ..TrainingOptions::new(tmp.join("run"), Start::New { cfg, tc: TrainConfig { batch: 4, ..Default::default() } })
//! };
//! let mut seen = Losses(Vec::new());
//! let out = run(&opts, ds, &gpu, Rc::new(Solo), &mut seen)?;
//! assert_eq!(out.nimg, 16);
//! assert!(out.snapshot.unwrap().exists());
//! assert!(seen.0.iter().all(|l| l.is_finite()));
//! # std::fs::remove_dir_all(&tmp).ok();
//! # Ok(()) }
//! ```

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::data::{Dataset, Loader};
use crate::dist::Collective;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::jsonl::append_line;
use crate::io::safetensors::Checkpoint;
use crate::metrics::networks::NetChoice;
use crate::metrics::registry::MetricSpec;
use crate::metrics::runner::{FeatureNets, MetricResult, MetricRunner};
use crate::nn::config::Config;
use crate::progress::Progress;
use crate::train::outdir::{self, GRID_IMAGES};
use crate::train::trainer::CommStats;
use crate::train::{TrainConfig, Trainer};

/// How a run starts.
pub enum Start {
    /// A fresh run with the official initialization.
    New { cfg: Config, tc: TrainConfig },
    /// A run continued exactly from one of its snapshots (`name` says where it came from).
    Resume { snapshot: Checkpoint, name: String },
    /// Fine-tuning: a fresh run (kimg 0, fresh Adam state, the settings of `tc`) that starts
    /// from an existing model's G, D and Gs, e.g. an official pickle or its conversion
    /// (stylegan2-ada's `--resume=ffhq1024`). The dataset must have the model's resolution and
    /// channels. `name` says where the model came from.
    FineTune {
        model: Checkpoint,
        name: String,
        tc: TrainConfig,
    },
}

/// The metrics measured at each snapshot.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    pub specs: Vec<MetricSpec>,
    /// Their network; `None`: the default for the data's images (`NetChoice::default_for`).
    pub net: Option<NetChoice>,
    /// Where real features are cached (`None`: not cached).
    pub cache_dir: Option<PathBuf>,
}

/// What to train and for how long.
pub struct TrainingOptions {
    /// Where snapshots, fake grids and logs go.
    pub outdir: PathBuf,
    pub start: Start,
    /// Training length in thousands of real images shown.
    pub kimg: f64,
    /// A snapshot (and fake grid, and the metrics) every this many kimg, and at the end.
    pub snapshot_kimg: f64,
    pub metrics: Option<MetricsOptions>,
    /// A `log.jsonl` line every this many steps, and at the last.
    pub log_every: u64,
    /// Class-conditional training of a new run: `None` trains conditionally exactly when
    /// the dataset has labels (`label_size` = its number of classes, with their names where
    /// it has them); `Some(true)` requires labels; `Some(false)` ignores them. A resumed run
    /// or a fine-tuned model keeps its own `label_size`.
    pub cond: Option<bool>,
}

impl TrainingOptions {
    /// 1000 kimg from `start`, a snapshot every 50 kimg, a log line every 20 steps, no metrics.
    pub fn new(outdir: impl Into<PathBuf>, start: Start) -> TrainingOptions {
        TrainingOptions {
            outdir: outdir.into(),
            start,
            kimg: 1000.0,
            snapshot_kimg: 50.0,
            metrics: None,
            log_every: 20,
            cond: None,
        }
    }
}

/// One logging tick (what `log.jsonl` gets).
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub step: u64,
    pub kimg: f64,
    /// `[g_loss, d_loss, r1, d_real, d_fake]`, minibatch means.
    pub losses: [f32; 5],
    pub sec_per_kimg: f64,
    /// Level of detail of the step just taken.
    pub lod: f32,
    /// Global minibatch of the step just taken (`Trainer::batch`; with
    /// `TrainConfig::batch_per_res` it changes with the resolution).
    pub batch: usize,
    pub progressive: bool,
}

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The last snapshot (rank 0 only).
    pub snapshot: Option<PathBuf>,
    /// Stopped because [`Observer::should_stop`] said so, before `kimg` was reached.
    pub interrupted: bool,
    /// Images shown.
    pub nimg: u64,
    /// What the gradient all-reduces cost (distributed runs).
    pub comm: CommStats,
    pub ranks: usize,
}

/// Receives what the training loop does. Notes, warnings and the metrics' own progress come
/// through [`Progress`]; every method has a do-nothing default. Only rank 0's observer hears
/// about ticks, snapshots and results; every rank's is asked whether to stop.
pub trait Observer: Progress {
    /// The loop is about to start at `t`'s position; it ends at `total_nimg` images.
    fn started(&mut self, _t: &Trainer, _total_nimg: u64) {}
    /// A logging tick (also written to `log.jsonl`).
    fn tick(&mut self, _tick: &Tick) {}
    /// A snapshot was written at a `snapshot_kimg` boundary. The one written when the loop
    /// ends, which [`Outcome`] names, is not reported.
    fn snapshot(&mut self, _path: &Path) {}
    /// The metrics of a snapshot are about to be measured (they report their own progress).
    fn metrics_begin(&mut self) {}
    /// One metric's result (also appended to `metric-<name>.jsonl`).
    fn metric(&mut self, _r: &MetricResult) {}
    fn metrics_end(&mut self) {}
    /// Asked after every step: `true` stops the run after writing a snapshot (all ranks stop
    /// when one asks).
    fn should_stop(&mut self) -> bool {
        false
    }
    /// The run is stopping early; the last snapshot is written next.
    fn interrupted(&mut self) {}
    /// The loop is over (the last snapshot follows).
    fn finished(&mut self) {}
}

/// An observer that sees nothing and never stops.
impl Observer for crate::progress::Silent {}

/// The trainer `start` describes, checked against the data's image shape.
fn build(
    gpu: &Gpu,
    start: &Start,
    cond: Option<bool>,
    data: &Dataset,
    obs: &mut dyn Observer,
) -> Result<Trainer> {
    let info = data.info();
    match start {
        Start::New { cfg, tc } => {
            let mut cfg = conditioned(cfg, cond, data, obs)?;
            cfg.progressive |= tc.progressive;
            Trainer::new(gpu, &cfg, tc)
        }
        Start::FineTune { model, name, tc } => fine_tune(gpu, model, name, tc, data, obs),
        Start::Resume { snapshot, name } => {
            let t = Trainer::resume(gpu, snapshot).map_err(|e| context(name, e))?;
            if (t.cfg.num_channels, t.cfg.resolution) != (info.channels, info.resolution) {
                return Err(Error::Invalid(format!(
                    "{name}: the snapshot is for {}x{}x{} images, the dataset has {}x{}x{}",
                    t.cfg.num_channels,
                    t.cfg.resolution,
                    t.cfg.resolution,
                    info.channels,
                    info.resolution,
                    info.resolution
                )));
            }
            obs.note(&format!(
                "resumed at {:.1} kimg (step {})",
                t.state.cur_nimg as f64 / 1000.0,
                t.state.step
            ));
            Ok(t)
        }
    }
}

/// `cfg` made conditional on `data`'s classes or not, as `cond` says (`TrainingOptions::cond`),
/// with a note saying which. Class names in `cfg` (`train --class-names`) name the data's
/// classes, over the names the data has: one per class, at least as many as the data's largest
/// class + 1 (a subset may lack the last classes: `label_size` is then the number of names).
fn conditioned(
    cfg: &Config,
    cond: Option<bool>,
    data: &Dataset,
    obs: &mut dyn Observer,
) -> Result<Config> {
    let mut cfg = cfg.clone();
    let classes = data.num_classes();
    let source = &data.info().source;
    let named = !cfg.class_names.is_empty();
    match (cond, data.labels().is_some()) {
        (Some(false), _) if named => {
            return Err(Error::Invalid(
                "--class-names names the classes of a class-conditional run; --no-cond trains \
                 without them: drop one of the two"
                    .into(),
            ))
        }
        (Some(false), has) => {
            cfg.label_size = 0;
            cfg.class_names.clear();
            obs.note(&if has {
                format!("unconditional training (--no-cond): the {classes} classes of {source} are not used")
            } else {
                "unconditional training".to_string()
            });
        }
        (Some(true), false) => {
            return Err(Error::Invalid(format!(
                "--cond: {source} has no class labels; give them as an IDX label file beside \
                 the images, a dataset.json ({{\"labels\": [[\"img.png\", 3], ...]}}) or one \
                 subfolder per class"
            )))
        }
        (None, false) if named => {
            return Err(Error::Invalid(format!(
                "--class-names: {source} has no class labels to name; give them as an IDX label \
                 file beside the images, a dataset.json or one subfolder per class"
            )))
        }
        (None, false) => {}
        (_, true) => {
            if named {
                let n = cfg.class_names.len();
                if n < classes || (cfg.label_size != 0 && cfg.label_size != n) {
                    return Err(Error::Invalid(format!(
                        "--class-names gives {n} names; {source} has {classes} classes (labels \
                         0-{}){}: give one name per class",
                        classes - 1,
                        if cfg.label_size != 0 {
                            format!(" and the network label_size {}", cfg.label_size)
                        } else {
                            String::new()
                        }
                    )));
                }
                cfg.label_size = n;
            }
            if cfg.label_size == 0 {
                cfg.label_size = classes;
            } else if classes > cfg.label_size {
                return Err(Error::Invalid(format!(
                    "{source} has {classes} classes; the network has label_size {}",
                    cfg.label_size
                )));
            }
            if cfg.class_names.is_empty() {
                if let Some(names) = data.class_names() {
                    if names.len() == cfg.label_size {
                        cfg.class_names = names.to_vec();
                    }
                }
            }
            obs.note(&format!(
                "class-conditional training: {} classes in {source} ({}); --no-cond to ignore them",
                cfg.label_size,
                cfg.class_list()
            ));
        }
    }
    Ok(cfg)
}

/// The fine-tuning trainer of `model` for `data`: refuses a dataset of another resolution or
/// channel count, naming what would fit.
fn fine_tune(
    gpu: &Gpu,
    model: &Checkpoint,
    name: &str,
    tc: &TrainConfig,
    data: &Dataset,
    obs: &mut dyn Observer,
) -> Result<Trainer> {
    let info = data.info();
    let cfg = &model.config;
    if cfg.resolution != info.resolution {
        return Err(Error::Invalid(format!(
            "{name}: the model makes {r}x{r} images and the dataset holds {d}x{d}; fine-tuning \
             needs the model's size: fit the data to it (--resize {r}, or `stylegan dataset \
             --resolution {r}`)",
            r = cfg.resolution,
            d = info.resolution
        )));
    }
    if cfg.num_channels != info.channels {
        return Err(Error::Invalid(format!(
            "{name}: the model makes {} channel(s) and the dataset has {}; convert the data \
             (`stylegan dataset --channels {}`)",
            cfg.num_channels, info.channels, cfg.num_channels
        )));
    }
    let t = Trainer::fine_tune(gpu, model, tc).map_err(|e| context(name, e))?;
    let has = |k: &str| model.nets.contains_key(k);
    obs.note(&match (has("G"), has("D")) {
        (true, true) => {
            format!("fine-tuning {name}: its G, D and Gs, a fresh optimizer, from kimg 0")
        }
        (g, d) => format!(
            "fine-tuning {name}: its Gs{}{}, a fresh optimizer, from kimg 0",
            if g {
                ", its G"
            } else {
                " (also as G: the file has no G)"
            },
            if d {
                ", its D"
            } else {
                "; D from the official initialization (the file has no D)"
            }
        ),
    });
    // The model's label size decides (official semantics): an unconditional model ignores
    // the dataset's labels.
    if cfg.label_size == 0 && data.labels().is_some() {
        obs.note("the dataset has class labels and the model is unconditional: training is unconditional");
    }
    Ok(t)
}

fn context(what: &str, e: Error) -> Error {
    Error::Invalid(format!("{what}: {e}"))
}

/// Says what the run is (rank 0): its ranks, size, passes and schedule.
fn describe(t: &Trainer, exact: bool, obs: &mut dyn Observer) -> Result<()> {
    let comm = t.comm();
    if comm.size() > 1 {
        obs.note(&format!(
            "{} ranks, {} images each of the global minibatch of {}{}",
            comm.size(),
            t.rows().len(),
            t.batch(),
            if exact {
                String::new()
            } else {
                format!(
                    "; a rank's share is not whole minibatch-stddev groups of {}, so each rank \
                     groups its own images (as the official multi-GPU code) and the result \
                     depends on the number of ranks",
                    t.cfg.mbstd_group_size
                )
            }
        ));
    }
    let nparams = |p: &crate::nn::ParamSet| {
        p.trainable()
            .iter()
            .map(|(_, v)| v.value().numel())
            .sum::<usize>()
    };
    obs.note(&format!(
        "G {} / D {} trainable parameters; batch {}, lr {}{}, gamma {}",
        nparams(&t.g.params),
        nparams(&t.d.params),
        t.batch(),
        t.tc.learning_rate(t.schedule().resolution),
        if t.tc.lr_rampup_kimg > 0.0 {
            format!(" (ramped up over {} kimg)", t.tc.lr_rampup_kimg)
        } else {
            String::new()
        },
        t.tc.gamma
    ));
    if t.tc.noise_lrmul != 1.0 {
        obs.note(&format!(
            "G's noise strengths learn at {} times the learning rate",
            t.tc.noise_lrmul
        ));
    }
    if t.tc.noise_decay != 0.0 {
        obs.note(&format!(
            "G's noise strengths decay by lr x {} per step (AdamW)",
            t.tc.noise_decay * t.tc.noise_lrmul
        ));
    }
    if !t.tc.batch_per_res.is_empty() {
        let per_res: Vec<String> =
            t.tc.resolutions(&t.cfg)
                .into_iter()
                .map(|r| {
                    let n = t.tc.batch_for_ranks(r, comm.size(), t.cfg.mbstd_group_size);
                    format!("{r}:{n}")
                })
                .collect();
        obs.note(&format!(
            "minibatch per resolution: {} (--batch-per-res over --batch {})",
            per_res.join(","),
            t.tc.batch
        ));
    }
    let passes = t.passes_per_step()?;
    if passes > 1 {
        obs.note(&format!(
            "note: a minibatch of {} runs in {passes} GPU passes (the adapter's largest storage \
             binding holds {} MiB); the step is the same as in one pass",
            t.batch(),
            t.gpu.max_tensor_bytes() >> 20
        ));
    }
    if t.tc.progressive {
        obs.note(&format!(
            "progressive: lod {:.3} (training {}x{}), {} kimg per resolution + {} kimg fade-in",
            t.lod(),
            t.schedule().resolution,
            t.schedule().resolution,
            t.tc.lod_training_kimg,
            t.tc.lod_transition_kimg
        ));
    }
    Ok(())
}

/// The metric runner of `m`, its real features measured (or read from the cache) by rank 0
/// first, so the other ranks find them in the cache.
fn metric_runner(
    m: &MetricsOptions,
    gpu: &Gpu,
    data: &Dataset,
    t: &Trainer,
    obs: &mut dyn Observer,
) -> Result<MetricRunner> {
    let comm = t.comm().clone();
    let root = comm.rank() == 0;
    let make = |obs: &mut dyn Observer| -> Result<MetricRunner> {
        let info = data.info();
        let choice = match &m.net {
            Some(c) => c.clone(),
            None => {
                let c = NetChoice::default_for(info.channels, info.resolution)?;
                if root {
                    obs.note(
                        "features: fmnist (the embedded Fashion-MNIST evaluation network), the \
                         default for 1-channel 32x32 images; --inception W for Inception",
                    );
                }
                c
            }
        };
        let nets = FeatureNets::new(choice.load(gpu)?);
        let mut silent = crate::progress::Silent;
        let progress: &mut dyn Progress = if root { obs } else { &mut silent };
        Ok(MetricRunner::new(
            nets,
            m.specs.clone(),
            data,
            t.tc.batch,
            m.cache_dir.as_deref(),
            progress,
        )?
        .sharded(comm.clone()))
    };
    if root {
        let r = make(obs);
        comm.any(false)?;
        r
    } else {
        comm.any(false)?;
        make(obs)
    }
}

/// An observer lent to a metric runner as its progress and its result sink at once.
struct Shared<'a>(RefCell<&'a mut dyn Observer>);

impl Progress for &Shared<'_> {
    fn start(&mut self, label: &str, total: usize) {
        self.0.borrow_mut().start(label, total)
    }
    fn advance(&mut self, n: usize) {
        self.0.borrow_mut().advance(n)
    }
    fn finish(&mut self) {
        self.0.borrow_mut().finish()
    }
    fn note(&mut self, msg: &str) {
        self.0.borrow_mut().note(msg)
    }
    fn warn(&mut self, msg: &str) {
        self.0.borrow_mut().warn(msg)
    }
}

/// Seconds since the Unix epoch.
fn unix_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Trains as `opts` says on `data` with `gpu`, sharing each step with the ranks of `comm`
/// (`dist::Solo` for one process).
pub fn run(
    opts: &TrainingOptions,
    data: Arc<Dataset>,
    gpu: &Gpu,
    comm: Rc<dyn Collective>,
    obs: &mut dyn Observer,
) -> Result<Outcome> {
    let root = comm.rank() == 0;
    if !(opts.kimg.is_finite() && opts.kimg >= 0.0) {
        return Err(Error::Invalid(format!(
            "training length {} kimg (--kimg): must be a finite number >= 0",
            opts.kimg
        )));
    }
    if !(opts.snapshot_kimg.is_finite() && opts.snapshot_kimg > 0.0) {
        return Err(Error::Invalid(format!(
            "snapshot interval {} kimg (--snapshot-kimg): must be a finite number > 0",
            opts.snapshot_kimg
        )));
    }
    if let Start::New { tc, .. } | Start::FineTune { tc, .. } = &opts.start {
        tc.validate()?;
    }
    if root {
        outdir::prepare(&opts.outdir)?;
    }
    let (mut t, exact) = Trainer::shared(gpu, comm.clone(), || {
        build(gpu, &opts.start, opts.cond, &data, obs)
    })?;
    if t.cfg.is_conditional() {
        let labels = data.labels().ok_or_else(|| {
            Error::Invalid(format!(
                "the model is class-conditional ({} classes) and {} has no labels",
                t.cfg.label_size,
                data.info().source
            ))
        })?;
        t.set_training_labels(labels)?;
    }
    if root {
        describe(&t, exact, obs)?;
    }
    let metrics = match &opts.metrics {
        Some(m) => Some(metric_runner(m, gpu, &data, &t, obs)?),
        None => None,
    };
    // The loader holds up to PREFETCH + 2 minibatches of f32 images (queued, being made, in use).
    const PREFETCH: usize = 4;
    let info = data.info();
    // The largest minibatch of the schedule (reals come at the dataset's resolution at every
    // level of detail), checked before the first step.
    let largest =
        t.tc.resolutions(&t.cfg)
            .into_iter()
            .map(|r| t.tc.batch_for_ranks(r, comm.size(), t.cfg.mbstd_group_size))
            .max()
            .unwrap_or(t.tc.batch);
    crate::limits::check_host_bytes(
        &format!(
            "--batch {largest} ({} minibatches of {}x{}x{} images in flight)",
            PREFETCH + 2,
            info.channels,
            info.resolution,
            info.resolution
        ),
        crate::limits::image_bytes(
            (largest / comm.size().max(1)).saturating_mul(PREFETCH + 2),
            info.channels,
            info.resolution,
        ),
    )?;
    // The loader of the next step's minibatch, from the stream position `cur_nimg`: the stream
    // is position-based, so a loader restarted when the minibatch changes (or a resumed run's)
    // hands out exactly the images an uninterrupted run takes.
    let loader_at = |t: &Trainer| {
        Loader::sharded(
            data.clone(),
            t.batch(),
            t.rows().to_vec(),
            t.tc.seed,
            t.tc.mirror,
            PREFETCH,
            t.state.cur_nimg,
        )
    };
    let mut loader = loader_at(&t);
    let grid_z = outdir::grid_latents(&t.cfg, GRID_IMAGES);
    // Rounded, so that e.g. 0.29 kimg is 290 images (f64 holds 0.29 * 1000 as 289.99...).
    let total = (opts.kimg * 1000.0).round() as u64;
    obs.started(&t, total);
    let log_path = opts.outdir.join("log.jsonl");
    if matches!(opts.start, Start::Resume { .. }) && root {
        let n = outdir::drop_log_after(&log_path, t.state.step)?;
        if n > 0 {
            obs.note(&format!(
                "{}: dropped {n} line(s) after step {}, which this run trains again",
                log_path.display(),
                t.state.step
            ));
        }
    }
    let mut log: Box<dyn Write> = if root {
        Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .map_err(|source| Error::Io {
                    path: log_path.display().to_string(),
                    source,
                })?,
        )
    } else {
        Box::new(std::io::sink())
    };
    let snap_every = ((opts.snapshot_kimg * 1000.0).round() as u64).max(1);
    let mut next_snap = (t.state.cur_nimg / snap_every + 1) * snap_every;
    let log_every = opts.log_every.max(1);
    let mut tick_start = (Instant::now(), t.state.cur_nimg);
    let mut last: Option<PathBuf> = None;
    let mut measured = None;
    let mut stopped = false;
    // The metrics of a snapshot (every rank measures its share; rank 0 reports and logs).
    let measure = |t: &Trainer, snap: Option<&Path>, obs: &mut dyn Observer| -> Result<()> {
        let Some(m) = &metrics else { return Ok(()) };
        obs.metrics_begin();
        {
            // The runner reports progress and results in turn, never at once: one observer
            // serves both.
            let shared = Shared(RefCell::new(&mut *obs));
            let mut silent = crate::progress::Silent;
            let mut progress = &shared;
            let progress: &mut dyn Progress = if root { &mut progress } else { &mut silent };
            m.run(&t.gs, t.tc.seed, progress, &mut |r| {
                let extra = serde_json::json!({
                    "snapshot_pkl": snap.and_then(|s| s.file_name()).map(|f| f.to_string_lossy().into_owned()),
                    "kimg": t.state.cur_nimg as f64 / 1000.0,
                });
                let path = opts.outdir.join(format!("metric-{}.jsonl", r.name));
                shared.0.borrow_mut().metric(r);
                append_line(&path, &r.json(extra).to_string())
            })?;
        }
        obs.metrics_end();
        Ok(())
    };
    while t.state.cur_nimg < total && !stopped {
        if loader.batch_size() != t.batch() {
            // A new resolution with another minibatch (`--batch-per-res`).
            loader = loader_at(&t);
        }
        let next = loader.next_labeled()?;
        let (lod, batch) = (t.lod(), t.batch());
        let labels = next.labels.as_deref().filter(|_| t.cfg.is_conditional());
        let losses = t.step_labeled(&next.images, labels)?;
        if t.state.step % log_every == 0 || t.state.cur_nimg >= total {
            let l = losses.read()?;
            let (t_start, n_start) = tick_start;
            let sec_per_kimg =
                t_start.elapsed().as_secs_f64() / ((t.state.cur_nimg - n_start) as f64 / 1000.0);
            tick_start = (Instant::now(), t.state.cur_nimg);
            let kimg = t.state.cur_nimg as f64 / 1000.0;
            let tick = Tick {
                step: t.state.step,
                kimg,
                losses: l,
                sec_per_kimg,
                lod,
                batch,
                progressive: t.tc.progressive,
            };
            if root {
                obs.tick(&tick);
            }
            let mut line = serde_json::json!({
                "kimg": kimg, "step": t.state.step, "g_loss": l[0], "d_loss": l[1], "r1": l[2],
                "d_real": l[3], "d_fake": l[4], "sec_per_kimg": sec_per_kimg, "lod": lod,
                "time": unix_time(),
            });
            if !t.tc.batch_per_res.is_empty() {
                line["batch"] = batch.into();
            }
            if comm.size() > 1 {
                let c = t.comm_stats;
                let steps = (c.calls / 2).max(1);
                line["ranks"] = comm.size().into();
                line["allreduce_sec_per_step"] = (c.reduce_seconds / steps as f64).into();
                line["allreduce_wait_sec_per_step"] = (c.wait_seconds / steps as f64).into();
                line["grad_bytes_per_step"] = (c.bytes / steps).into();
            }
            writeln!(log, "{line}").map_err(|e| {
                Error::Invalid(format!("{}: cannot write: {e}", log_path.display()))
            })?;
            if !l.iter().all(|v| v.is_finite()) {
                return Err(Error::Invalid(format!(
                    "training diverged at {kimg:.1} kimg (losses {l:?}); last snapshot: {last:?}"
                )));
            }
        }
        // Ranks stop together: a request on any of them stops all after the same step.
        stopped = t.comm().any(obs.should_stop())?;
        if t.state.cur_nimg >= next_snap {
            let p = if root {
                let p = outdir::write_snapshot(&t, &grid_z, &opts.outdir)?;
                obs.snapshot(&p);
                Some(p)
            } else {
                None
            };
            measure(&t, p.as_deref(), obs)?;
            measured = Some(t.state.cur_nimg);
            last = p;
            next_snap += snap_every;
        }
    }
    obs.finished();
    // A request that arrives after the last step does not make a finished run an interrupted
    // one.
    let interrupted = stopped && t.state.cur_nimg < total;
    if interrupted && root {
        obs.interrupted();
    }
    let p = if root {
        Some(outdir::write_snapshot(&t, &grid_z, &opts.outdir)?)
    } else {
        None
    };
    if !interrupted && measured != Some(t.state.cur_nimg) {
        measure(&t, p.as_deref(), obs)?;
    }
    // Nobody leaves before rank 0's last snapshot is in place: a launcher may end the job as
    // soon as one rank exits with a stop's nonzero status.
    comm.any(false)?;
    Ok(Outcome {
        snapshot: p,
        interrupted,
        nimg: t.state.cur_nimg,
        comm: t.comm_stats,
        ranks: comm.size(),
    })
}
