//! `stylegan train`: flags, the checks that refer to them, and the terminal; the training loop
//! itself is the library's (`stylegan_wgpu::train::run`). Snapshots and logs are named as
//! `stylegan_wgpu::train::outdir` says.

mod observer;
mod resume;

use crate::commands::flags;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::{load_model, ArchArgs, GpuArgs};
use super::feature_net::FeatureNetArgsOptional;
use super::metrics::{cache_dir, parse_metrics_flag};
use super::stop;
use observer::Terminal;
use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::Collective;
use stylegan_wgpu::metrics::registry::check_generator_metrics;
use stylegan_wgpu::train::outdir;
use stylegan_wgpu::train::run::{MetricsOptions, Start, TrainingOptions};
use stylegan_wgpu::train::TrainConfig;

/// Train on a folder of images, a zip, or MNIST-style IDX files (the official recipe).
///
/// Non-saturating loss, R1, Adam, style mixing, Gs as G's moving average; see README.md,
/// "Training".
///
/// Examples:
///   stylegan train --data /usr/share/datasets/fashion-mnist --class-names fmnist \
///       --outdir runs/fmnist --preset fmnist --lr 0.002 --seed 1 --kimg 241 --snapshot-kimg 5 \
///       --metrics fid10k
///   stylegan train --init-from runs/fmnist/network-snapshot-000241_008.safetensors \
///       --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist-decay \
///       --lr 0.002 --seed 2 --kimg 40 --snapshot-kimg 5 --noise-decay 1 --metrics fid10k
///   stylegan train --init-from runs/fmnist-decay/network-snapshot-000040.safetensors \
///       --data /usr/share/datasets/fashion-mnist --class-names fmnist --outdir runs/fmnist-lr \
///       --lr 0.0005 --seed 3 --kimg 25 --snapshot-kimg 5 --noise-decay 4 --metrics fid10k
///   stylegan train --data photos/ --resize 64 --outdir runs/photos --fmap-max 128 --kimg 1000
///   stylegan train --resume runs/fmnist --data /usr/share/datasets/fashion-mnist --outdir runs/fmnist
///   stylegan train --data /usr/share/datasets/fashion-mnist --outdir runs/fmnist-uncond \
///       --preset fmnist --lr 0.002 --kimg 160 --no-cond
///
/// The first three are the recipe of the embedded model (assets/README.md): its network
/// (--preset fmnist: 32x32, fmap-base 256, fmap-max 64, latent 64, 2 mapping layers),
/// class-conditional on Fashion-MNIST's ten classes (the IDX label file beside the images;
/// --class-names fmnist names them), batch 16, 20-30 s per kimg on a 2-core CPU adapter, FID
/// at every snapshot: 241 kimg from scratch, then 40 kimg that shrink the noise strengths
/// (--noise-decay), then 25 kimg at a quarter of the learning rate, which brings the finest
/// layer's texture to the data's (its last snapshot is the model). The last example is the
/// network unconditional (--no-cond).
/// The default preset, ffhq, has the official widths (512 channels): right for a GPU, hours
/// per kimg on a CPU.
///
/// Classes: data with labels (an IDX label file beside the images, a dataset.json, or one
/// subfolder per class) trains a class-conditional network, label_size = its number of
/// classes (--no-cond ignores the labels); `stylegan generate --class` then picks the class.
///
/// Snapshots: network-snapshot-<kimg>.safetensors every --snapshot-kimg, <kimg> the
/// official 000012 at a whole kimg, 000012_500 at 12.5 kimg (the images past it);
/// --resume takes a snapshot or the run directory (its latest snapshot).
///
/// SIGINT (Ctrl-C) or SIGTERM finishes the current step, writes a snapshot and exits with
/// status 130 or 143 (a second signal exits at once); a finished run exits 0.
///
/// Several GPUs and machines (a build with `--features mpi`): one process per GPU,
///   mpirun -np 8 stylegan train --data ffhq.zip --outdir runs/ffhq --batch 32
/// --batch is the global minibatch, split evenly over the ranks; each rank takes the GPU of its
/// node-local rank (or the matching entry of --adapter 0,1,2,...). Only rank 0 writes.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct TrainArgs {
    /// Dataset: a folder of PNG/JPEG (recursive), a .zip of images, or MNIST-style IDX (.gz).
    #[arg(long)]
    pub data: PathBuf,
    /// Where snapshots, fake grids and log.jsonl go.
    #[arg(long)]
    pub outdir: PathBuf,
    /// Resize dataset images to this resolution (power of two): non-square images are
    /// centre-cropped, smaller ones upscaled (with a warning). Default: their own size, which
    /// must then be square and a power of two.
    #[arg(long, value_parser = flags::resolution, visible_alias = "resize")]
    pub resolution: Option<usize>,
    /// How images are fitted to --resolution: center-crop (the default), center-crop-wide
    /// [:HEIGHT] (dataset_tool.py's) or pad (centred on black, as IDX digits are padded to
    /// 32x32; without --resolution to the next power of two of the largest image).
    #[arg(long, value_parser = flags::transform)]
    pub transform: Option<stylegan_wgpu::data::Transform>,
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Minibatch size: 1 to 4, or a multiple of 4 (the discriminator's minibatch-stddev
    /// groups are min(4, batch) images). Under MPI the global minibatch: a multiple of the
    /// number of ranks. [default: 16; 32 with --preset ffhq]
    #[arg(long, value_parser = flags::batch)]
    pub batch: Option<usize>,
    /// Minibatch per training resolution over --batch, as the release's minibatch_dict.
    #[arg(
        long,
        value_parser = flags::batch_per_res,
        value_name = "RES:N,...",
        long_help = batch_per_res_help()
    )]
    pub batch_per_res: Option<std::collections::BTreeMap<usize, usize>>,
    /// Training length in thousands of real images shown.
    #[arg(long, value_parser = flags::kimg, default_value_t = 1000.0)]
    pub kimg: f64,
    /// Progressive growing as the official release does it: start at 4x4 and fade in each
    /// higher resolution (each with its --batch-per-res minibatch and --lr-per-res rate).
    #[arg(long)]
    pub progressive: bool,
    /// Progressive: thousands of images per resolution before the next fades in.
    #[arg(long, value_parser = flags::kimg_or_zero, default_value_t = 600.0, requires = "progressive")]
    pub lod_training_kimg: f32,
    /// Progressive: thousands of images over which the next resolution fades in.
    #[arg(long, value_parser = flags::kimg_or_zero, default_value_t = 600.0, requires = "progressive")]
    pub lod_transition_kimg: f32,
    /// R1 weight.
    #[arg(long, value_parser = flags::weight, default_value_t = 10.0)]
    pub gamma: f32,
    /// Learning rate (default: the official per-resolution rates).
    #[arg(long, value_parser = flags::lr)]
    pub lr: Option<f32>,
    /// Learning rate per training resolution over --lr, as the release's G_lrate_dict
    /// (FFHQ: 128:0.0015,256:0.002,512:0.003,1024:0.003; --preset ffhq sets it unless given);
    /// with --progressive each level of detail takes its resolution's rate.
    #[arg(long, value_parser = flags::lr_per_res, value_name = "RES:RATE,...")]
    pub lr_per_res: Option<std::collections::BTreeMap<usize, f32>>,
    /// Ramp the learning rate up linearly over the first this many kimg (the release's
    /// lrate_rampup_kimg; 0 = off).
    #[arg(long, value_parser = flags::kimg_or_zero, default_value_t = 0.0)]
    pub lr_rampup_kimg: f32,
    /// Learning-rate multiplier of G's noise strengths (0 to 1; 1 is the release's): below 1
    /// they follow the data more slowly than the convolutions.
    #[arg(long, default_value_t = 1.0)]
    pub noise_lrmul: f32,
    /// Decoupled weight decay of G's noise strengths (AdamW): each step multiplies them by
    /// 1 - lr x noise-lrmul x this, so they settle lower (0 to 100; 0 is the release's).
    #[arg(long, default_value_t = 0.0)]
    pub noise_decay: f32,
    /// Random horizontal flips of the reals.
    #[arg(long)]
    pub mirror: bool,
    /// Write a snapshot and a fake grid every this many kimg. Below 1 (or when the batch does
    /// not land on a whole kimg) names get the images past the kimg, e.g.
    /// network-snapshot-000000_008.safetensors at 8 images.
    #[arg(long, value_parser = flags::kimg, default_value_t = 50.0)]
    pub snapshot_kimg: f64,
    /// Gs moving-average half-life in kimg (official: 10).
    #[arg(long, value_parser = flags::kimg_or_zero, default_value_t = 10.0)]
    pub ema_kimg: f32,
    /// Continue from this snapshot (network-snapshot-*.safetensors), or from the latest
    /// snapshot of this run directory, with its network and
    /// training settings (batch, lr, gamma, mirror, seed, EMA, schedule). Architecture flags
    /// (--preset, --fmap-base, --fmap-max, --latent-size, --mapping-layers) that contradict the
    /// snapshot are refused; log.jsonl loses its lines after the snapshot, which the resumed
    /// run writes again.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Fine-tune this model (an official .pkl, or our .safetensors with G, D and Gs): a fresh
    /// run from kimg 0 with a fresh optimizer and this run's settings (--batch, --lr,
    /// --gamma, ...), starting from its networks, as stylegan2-ada's --resume=ffhq1024. The
    /// dataset must have the model's resolution and channels (--resize fits it). The network
    /// comes from the model, so architecture flags are refused.
    #[arg(long, value_name = "MODEL", conflicts_with_all = ["resume", "progressive"])]
    pub init_from: Option<PathBuf>,
    /// Freeze the discriminator's first N blocks (from the input: FromRGB and the N highest
    /// resolutions), as stylegan2-ada's --freezed; helps fine-tuning on a small dataset.
    #[arg(long, value_parser = flags::blocks, default_value_t = 0, value_name = "N")]
    pub freeze_d: usize,
    /// Seed of the initial weights, the minibatch order, the mirroring and every step's
    /// latents and noise.
    #[arg(long, value_parser = flags::seed, default_value_t = 0)]
    pub seed: u64,
    /// Train a class-conditional network on the data's labels, and fail where it has none.
    /// [default: conditional exactly when the data has labels]
    #[arg(long, conflicts_with = "no_cond")]
    pub cond: bool,
    /// Ignore the data's labels: an unconditional network.
    #[arg(long)]
    pub no_cond: bool,
    /// Names of the data's classes, stored in the new run's model (for `generate --class
    /// sneaker`): fmnist (Fashion-MNIST's ten: T-shirt/top, Trouser, ..., Ankle boot), mnist
    /// (0-9) or a list a,b,c, one name per class. Folders of one subfolder per class are named
    /// by their subfolders without it.
    #[arg(long, value_name = "fmnist|mnist|A,B,...")]
    pub class_names: Option<String>,
    /// Use at most this many dataset images.
    #[arg(long, value_parser = flags::positive_count)]
    pub max_images: Option<usize>,
    /// Metrics of Gs at every snapshot (e.g. fid10k; on a CPU adapter, where Inception runs at
    /// about 0.5 images/s, a bare count such as fid200), printed and appended to
    /// OUTDIR/metric-<name>.jsonl as the official code does. Measured with --inception,
    /// --classifier, or the embedded fmnist network (the default for 1-channel 32x32 data).
    #[arg(long)]
    pub metrics: Option<String>,
    /// The feature network of --metrics.
    #[command(flatten)]
    pub net: FeatureNetArgsOptional,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// The long help of `--batch-per-res`: the flag, an example, and the FFHQ schedule as the
/// library holds it (`TrainConfig::ffhq_schedule`).
fn batch_per_res_help() -> String {
    let ffhq = TrainConfig::ffhq_schedule();
    format!(
        "Minibatch per training resolution over --batch, as the release's minibatch_dict \
         (--batch is its minibatch_base, for the resolutions not listed); with --progressive \
         each level of detail takes its resolution's, e.g.\n  \
         stylegan train --progressive --batch 16 --batch-per-res 4:128,8:64,16:32 ...\n\
         Global minibatches, each 1 to 4 or a multiple of 4. Under MPI an entry is rounded down \
         to a multiple of the number of ranks (the release's `minibatch -= minibatch % \
         num_gpus`) and to whole minibatch-stddev groups of 4 per rank.\n\n\
         --preset ffhq (given on the command line) trains with the release's FFHQ schedule \
         (8 GPUs), {}, except where --batch, --batch-per-res, --lr or --lr-per-res say \
         otherwise: --batch sets the base minibatch, --batch-per-res replaces the minibatch \
         table, --lr the base rate, --lr-per-res the rate table.",
        ffhq.describe_schedule()
    )
}

/// The training settings of a new run from the flags: the schedule preset of `--preset`
/// (given; `TrainConfig::schedule_preset`), each part overridden by its flag.
fn train_config(a: &TrainArgs) -> TrainConfig {
    let base = a
        .arch
        .preset
        .as_deref()
        .and_then(TrainConfig::schedule_preset)
        .unwrap_or_default();
    TrainConfig {
        batch: a.batch.unwrap_or(base.batch),
        gamma: a.gamma,
        lr: a.lr.or(base.lr),
        g_ema_kimg: a.ema_kimg,
        seed: a.seed,
        mirror: a.mirror,
        progressive: a.progressive,
        lod_training_kimg: a.lod_training_kimg,
        lod_transition_kimg: a.lod_transition_kimg,
        freeze_d: a.freeze_d,
        lr_per_res: a.lr_per_res.clone().unwrap_or(base.lr_per_res),
        lr_rampup_kimg: a.lr_rampup_kimg,
        batch_per_res: a.batch_per_res.clone().unwrap_or(base.batch_per_res),
        noise_lrmul: a.noise_lrmul,
        noise_decay: a.noise_decay,
        ..base
    }
}

/// Refuses class flags that contradict the network a run continues (`what`: `--resume S` or
/// `--init-from M`), which keeps its own classes.
fn check_classes(
    a: &TrainArgs,
    names: Option<&[String]>,
    cfg: &stylegan_wgpu::nn::Config,
    what: &str,
) -> Result<()> {
    let keeps = "the run keeps the network's classes";
    if a.cond && !cfg.is_conditional() {
        bail!("{what}: the network is unconditional (label_size 0); {keeps}: drop --cond");
    }
    if a.no_cond && cfg.is_conditional() {
        bail!(
            "{what}: the network is class-conditional ({} classes); {keeps}: drop --no-cond",
            cfg.label_size
        );
    }
    if let Some(names) = names {
        if names != cfg.class_names.as_slice() {
            let has = if !cfg.is_conditional() {
                "the network is unconditional (label_size 0)".to_string()
            } else if cfg.class_names.is_empty() {
                format!("the network's classes are unnamed ({})", cfg.class_list())
            } else {
                format!("the network's classes are {}", cfg.class_list())
            };
            bail!("{what}: {has}; {keeps}: drop --class-names");
        }
    }
    Ok(())
}

pub fn run(a: &TrainArgs) -> Result<()> {
    let (comm, local_rank) = super::world::world()?;
    let result = train(a, &comm, local_rank);
    if comm.size() > 1 {
        if let Err(e) = &result {
            // The other ranks wait in their next collective: end the whole job, loudly.
            super::world::say_atomic(&format!(
                "error on rank {} of {}: {e:#}",
                comm.rank(),
                comm.size()
            ));
            comm.abort(1);
        }
    }
    // Finalize MPI before exiting: a rank that exits without it (or with a nonzero status
    // before the others are done) makes the launcher kill the job.
    drop(comm);
    if let Some(sig) = result? {
        // Only now, with the snapshot written and everything dropped: the status tells an
        // interrupted run (and by which signal) from a finished one.
        std::process::exit(128 + sig);
    }
    Ok(())
}

/// Trains; returns the signal that interrupted the run, if one did. With several ranks every
/// rank runs this, and only rank 0 prints, logs and writes files.
fn train(a: &TrainArgs, comm: &Rc<dyn Collective>, local_rank: usize) -> Result<Option<i32>> {
    let rank0 = comm.rank() == 0;
    macro_rules! say {
        ($($t:tt)*) => { if rank0 { eprintln!($($t)*) } };
    }
    if a.progressive && !(a.lod_training_kimg >= 0.0 && a.lod_transition_kimg >= 0.0) {
        bail!("--lod-training-kimg and --lod-transition-kimg must be >= 0");
    }
    let class_names = a
        .class_names
        .as_deref()
        .map(stylegan_wgpu::nn::labels::class_names)
        .transpose()
        .context("--class-names")?;
    let metric_specs = a.metrics.as_deref().map(parse_metrics_flag).transpose()?;
    if let Some(specs) = &metric_specs {
        // Refused here, before anything slow; the network itself is chosen once the data's
        // shape is known.
        check_generator_metrics(specs, false, a.net.inception.is_none())?;
    }
    if rank0 {
        outdir::prepare(&a.outdir)
            .with_context(|| format!("--outdir {}: cannot create", a.outdir.display()))?;
    }
    // Read the snapshot first: contradicting flags are refused before anything slow happens.
    // Only rank 0 reads it (other nodes need not see the file); the others get its state.
    let resumed = match &a.resume {
        Some(given) if rank0 => {
            // A run directory means its latest snapshot.
            let snap = &stylegan_wgpu::train::outdir::latest_snapshot(given)
                .with_context(|| format!("--resume {}", given.display()))?;
            if snap != given {
                eprintln!(
                    "--resume {}: its latest snapshot is {}",
                    given.display(),
                    snap.display()
                );
            }
            let m = load_model(snap).with_context(|| format!("--resume {}", snap.display()))?;
            resume::check(&a.arch, a.progressive, snap, &m)?;
            check_classes(
                a,
                class_names.as_deref(),
                &m.config,
                &format!("--resume {}", snap.display()),
            )?;
            Some(Start::Resume {
                snapshot: m,
                name: format!("--resume {}", snap.display()),
            })
        }
        _ => None,
    };
    let fine_tune = match &a.init_from {
        Some(path) if rank0 => {
            let given = a.arch.given();
            if !given.is_empty() {
                bail!(
                    "--init-from {}: the network is the model's; drop {}",
                    path.display(),
                    given.join(", ")
                );
            }
            let m = load_model(path).with_context(|| format!("--init-from {}", path.display()))?;
            check_classes(
                a,
                class_names.as_deref(),
                &m.config,
                &format!("--init-from {}", path.display()),
            )?;
            Some((m, format!("--init-from {}", path.display())))
        }
        _ => None,
    };
    let opts = DataOptions {
        resolution: a.resolution,
        transform: a.transform,
        max_images: a.max_images,
        ..DataOptions::default()
    };
    let t0 = Instant::now();
    let ds = Arc::new(Dataset::open(&a.data, &opts)?);
    let info = ds.info().clone();
    say!(
        "dataset {}: {} images, {} channel(s), {}x{} ({:.1} s)",
        info.source,
        info.len,
        info.channels,
        info.resolution,
        info.resolution,
        t0.elapsed().as_secs_f64()
    );
    for w in &info.warnings {
        say!("warning: {w}");
    }
    let tc = train_config(a);
    let start = match (resumed, fine_tune) {
        (Some(r), _) => r,
        (None, Some((model, name))) => Start::FineTune { model, name, tc },
        (None, None) => {
            if let Some(p) = a.arch.preset.as_deref() {
                if TrainConfig::schedule_preset(p).is_some() {
                    say!(
                        "--preset {p}: the release's schedule, {}",
                        tc.describe_schedule()
                    );
                }
            }
            // A fresh run's network is for the data's images.
            let mut cfg = a.arch.config(Some(info.resolution), Some(info.channels))?;
            cfg.progressive = a.progressive;
            // The library checks the names against the data's classes.
            cfg.class_names = class_names.unwrap_or_default();
            Start::New { cfg, tc }
        }
    };
    let gpu = if comm.size() > 1 {
        a.gpu.open_for_rank(local_rank)?
    } else {
        a.gpu.open()?
    };
    if comm.size() > 1 {
        // Every rank names its adapter: the one place a misassigned GPU shows.
        super::world::say_atomic(&format!(
            "rank {} of {} (node-local {local_rank}): adapter {}",
            comm.rank(),
            comm.size(),
            gpu.describe()
        ));
    } else {
        eprintln!("adapter: {}", gpu.describe());
    }
    let options = TrainingOptions {
        kimg: a.kimg,
        snapshot_kimg: a.snapshot_kimg,
        // Every rank measures its share of the generated images.
        metrics: metric_specs.map(|specs| MetricsOptions {
            specs,
            net: a.net.given(),
            cache_dir: cache_dir(None),
        }),
        cond: match (a.cond, a.no_cond) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        ..TrainingOptions::new(&a.outdir, start)
    };
    let mut term = Terminal::new(rank0, a.kimg);
    let out = stylegan_wgpu::train::run::run(&options, ds, &gpu, comm.clone(), &mut term)?;
    // A rank stopped by another rank's signal reports SIGTERM's status.
    let interrupted = out
        .interrupted
        .then(|| stop::received().unwrap_or(stop::SIGTERM));
    let Some(p) = out.snapshot else {
        return Ok(interrupted);
    };
    if let Some(r) = gpu.profile_report() {
        eprintln!("{r}");
    }
    if out.ranks > 1 {
        let c = out.comm;
        let steps = (c.calls / 2).max(1) as f64;
        eprintln!(
            "all-reduce: {} calls, {:.1} MB per step; per step {:.3} s in the all-reduce, {:.3} s \
             reading back and uploading, {:.3} s waiting for the slowest rank",
            c.calls,
            c.bytes as f64 / steps / 1e6,
            c.reduce_seconds / steps,
            c.transfer_seconds / steps,
            c.wait_seconds / steps
        );
    }
    println!(
        "wrote {} ({:.1} kimg)",
        p.display(),
        out.nimg as f64 / 1000.0
    );
    Ok(interrupted)
}
