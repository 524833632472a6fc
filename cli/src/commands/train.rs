//! `stylegan train`: the official recipe on a folder, zip or IDX dataset, with snapshots,
//! fake-image grids, a JSON-lines log, exact resume and a clean stop on SIGINT / SIGTERM.
//!
//! Snapshot names: `network-snapshot-<kimg:06>.safetensors` at a whole kimg (the official
//! form), else `network-snapshot-<kimg:06>_<images past it:03>.safetensors` (12.5 kimg:
//! `network-snapshot-000012_500`), so snapshots less than 1 kimg apart never overwrite each
//! other and sorting the names sorts them in training order. `fakes-*.png` follow the same rule.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::common::{load_model, ArchArgs, GpuArgs};
use super::feature_net::FeatureNetArgsOptional;
use super::fid::{append_line, cache_dir, check_generator_metrics, parse_metrics, MetricRunner};
use super::gen_common::seed_latent;
use super::stop;
use stylegan_wgpu::data::{DataOptions, Dataset, Loader};
use stylegan_wgpu::dist::Collective;
use stylegan_wgpu::gpu::Tensor;
use stylegan_wgpu::io::atomic::write_atomic;
use stylegan_wgpu::io::images::save_grid_png;
use stylegan_wgpu::io::safetensors::save;
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::nn::generator::NoiseMode;
use stylegan_wgpu::tape::{no_grad, Var};
use stylegan_wgpu::train::trainer::{TrainConfig, Trainer};

/// Train on a folder of images, a zip, or MNIST-style IDX files (the official recipe).
///
/// Non-saturating loss, R1, Adam, style mixing, Gs as G's moving average; see README.md,
/// "Training".
///
/// Examples:
///   stylegan train --data /usr/share/datasets/fashion-mnist --outdir runs/fmnist \
///       --fmap-max 64 --latent-size 64 --batch 16 --kimg 200
///   stylegan train --data photos/ --resize 64 --outdir runs/photos --kimg 1000
///   stylegan train --resume runs/fmnist/network-snapshot-000100.safetensors --data ... --outdir runs/fmnist
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
    #[arg(long, visible_alias = "resize")]
    pub resolution: Option<usize>,
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Minibatch size: 1 to 4, or a multiple of 4 (the discriminator's minibatch-stddev
    /// groups are min(4, batch) images). Under MPI the global minibatch: a multiple of the
    /// number of ranks.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Training length in thousands of real images shown.
    #[arg(long, default_value_t = 1000.0)]
    pub kimg: f64,
    /// Progressive growing as the official release does it: start at 4x4 and fade in each
    /// higher resolution (the minibatch size stays --batch at every resolution).
    #[arg(long)]
    pub progressive: bool,
    /// Progressive: thousands of images per resolution before the next fades in.
    #[arg(long, default_value_t = 600.0, requires = "progressive")]
    pub lod_training_kimg: f32,
    /// Progressive: thousands of images over which the next resolution fades in.
    #[arg(long, default_value_t = 600.0, requires = "progressive")]
    pub lod_transition_kimg: f32,
    /// R1 weight.
    #[arg(long, default_value_t = 10.0)]
    pub gamma: f32,
    /// Learning rate (default: the official per-resolution rates).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Random horizontal flips of the reals.
    #[arg(long)]
    pub mirror: bool,
    /// Write a snapshot and a fake grid every this many kimg. Below 1 (or when the batch does
    /// not land on a whole kimg) names get the images past the kimg, e.g.
    /// network-snapshot-000000_008.safetensors at 8 images.
    #[arg(long, default_value_t = 50.0)]
    pub snapshot_kimg: f64,
    /// Gs moving-average half-life in kimg (official: 10).
    #[arg(long, default_value_t = 10.0)]
    pub ema_kimg: f32,
    /// Continue from this snapshot (network-snapshot-*.safetensors) with its network and
    /// training settings (batch, lr, gamma, mirror, seed, EMA, schedule). Architecture flags
    /// (--preset, --fmap-base, --fmap-max, --latent-size, --mapping-layers) that contradict the
    /// snapshot are refused; log.jsonl loses its lines after the snapshot, which the resumed
    /// run writes again.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Use at most this many dataset images.
    #[arg(long)]
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

/// Fixed latents for the progress grids: the official latents of seeds 0..n.
fn grid_latents(cfg: &Config, n: usize) -> Vec<f32> {
    (0..n as u32)
        .flat_map(|s| seed_latent(s, cfg.latent_size))
        .collect()
}

fn write_fakes(t: &Trainer, z: &[f32], path: &Path) -> Result<()> {
    let c = &t.cfg;
    let k = c.latent_size;
    let n = z.len() / k;
    let per = c.num_channels * c.resolution * c.resolution;
    let mut images = Vec::with_capacity(n);
    for start in (0..n).step_by(16) {
        let b = 16.min(n - start);
        let x = no_grad(|| -> stylegan_wgpu::Result<Vec<f32>> {
            let zb = Var::constant(Tensor::from_slice(
                &t.gpu,
                &[b, k],
                &z[start * k..(start + b) * k],
            )?);
            t.gs.generate_lod(&zb, 1.0, 0, NoiseMode::Const, t.lod())?
                .to_vec()
        })?;
        images.extend(x.chunks(per).map(|v| v.to_vec()));
    }
    save_grid_png(
        path,
        &images,
        c.num_channels,
        c.resolution,
        c.resolution,
        (n as f64).sqrt().ceil() as usize,
    )?;
    Ok(())
}

/// Temporary files of snapshot writes that a killed run left behind (`.name.tmpPID`); the
/// snapshots themselves are only ever renamed into place complete.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".network-snapshot-") && name.contains(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The training position in snapshot and fake-grid names (see the module docs): `000012`
/// at 12 kimg, `000012_500` at 12.5 kimg.
fn position_tag(nimg: u64) -> String {
    let (kimg, rest) = (nimg / 1000, nimg % 1000);
    if rest == 0 {
        format!("{kimg:06}")
    } else {
        format!("{kimg:06}_{rest:03}")
    }
}

fn snapshot(t: &Trainer, z: &[f32], outdir: &Path) -> Result<PathBuf> {
    let tag = position_tag(t.state.cur_nimg);
    let path = outdir.join(format!("network-snapshot-{tag}.safetensors"));
    save(&path, &t.snapshot()?)?;
    write_fakes(t, z, &outdir.join(format!("fakes-{tag}.png")))?;
    Ok(path)
}

/// The architecture flags that disagree with the network of the snapshot being resumed, each
/// as `--flag value (snapshot: value)`.
fn arch_conflicts(arch: &ArchArgs, snap: &Config) -> Result<Vec<String>> {
    let mut out = Vec::new();
    // (flag, value given, snapshot's value, config fields the flag sets)
    let flags: [(&str, Option<usize>, usize, &[&str]); 4] = [
        ("fmap-base", arch.fmap_base, snap.fmap_base, &["fmap_base"]),
        ("fmap-max", arch.fmap_max, snap.fmap_max, &["fmap_max"]),
        (
            "latent-size",
            arch.latent_size,
            snap.latent_size,
            &["latent_size", "dlatent_size", "mapping_fmaps"],
        ),
        (
            "mapping-layers",
            arch.mapping_layers,
            snap.mapping_layers,
            &["mapping_layers"],
        ),
    ];
    for (flag, given, has, _) in &flags {
        if let Some(v) = given.filter(|v| v != has) {
            out.push(format!("--{flag} {v} (snapshot: {has})"));
        }
    }
    if let Some(preset) = &arch.preset {
        // The preset at the snapshot's size with the other flags applied: a field that still
        // differs, and that no flag set, is one the preset fixes and the snapshot does not have.
        let mut want = arch.config(Some(snap.resolution), Some(snap.num_channels))?;
        want.progressive = snap.progressive;
        let (want, has) = (serde_json::to_value(&want)?, serde_json::to_value(snap)?);
        let set_by_flags: Vec<&str> = flags
            .iter()
            .filter(|f| f.1.is_some())
            .flat_map(|f| f.3.iter().copied())
            .collect();
        let diffs: Vec<String> = want
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !set_by_flags.contains(&k.as_str()) && has.get(k) != Some(v))
            .map(|(k, v)| {
                let h = has.get(k).map_or("none".to_string(), |h| h.to_string());
                format!("{k} {v}, snapshot: {h}")
            })
            .collect();
        if !diffs.is_empty() {
            out.push(format!("--preset {preset} ({})", diffs.join("; ")));
        }
    }
    Ok(out)
}

/// Drops the lines of `log` (log.jsonl) after `step`, before a run resumed at `step` writes
/// them again; also a torn last line (no newline) that a killed run left. Lines that are not
/// ours (no JSON `step`) are kept. Returns how many lines were dropped.
fn drop_log_after(log: &Path, step: u64) -> Result<usize> {
    let text = match std::fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("{}", log.display())),
    };
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.split_inclusive('\n') {
        let later = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
            .is_some_and(|s| s > step);
        if later || !line.ends_with('\n') {
            dropped += 1;
        } else {
            kept.push_str(line);
        }
    }
    if dropped > 0 {
        write_atomic(log, kept.as_bytes())?;
    }
    Ok(dropped)
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
    let metric_specs = a.metrics.as_deref().map(parse_metrics).transpose()?;
    if let Some(specs) = &metric_specs {
        // Refused here, before anything slow; the network itself is chosen once the data's
        // shape is known.
        check_generator_metrics(specs, false, a.net.inception.is_none())?;
    }
    if rank0 {
        std::fs::create_dir_all(&a.outdir)
            .with_context(|| format!("--outdir {}: cannot create", a.outdir.display()))?;
        remove_stale_temp_files(&a.outdir);
    }
    // Read the snapshot first: contradicting flags are refused before anything slow happens.
    // Only rank 0 reads it (other nodes need not see the file); the others get its state.
    let resumed = match &a.resume {
        Some(snap) if rank0 => {
            let m = load_model(snap).with_context(|| format!("--resume {}", snap.display()))?;
            let conflicts = arch_conflicts(&a.arch, &m.config)?;
            if !conflicts.is_empty() {
                bail!(
                    "--resume {}: the snapshot's network differs from {}; a resumed run keeps \
                     the snapshot's architecture: drop these flags or make them match",
                    snap.display(),
                    conflicts.join(", ")
                );
            }
            Some((snap, m))
        }
        _ => None,
    };
    let opts = DataOptions {
        resolution: a.resolution,
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
    let build = || -> Result<Trainer> {
        Ok(if let Some((snap, m)) = &resumed {
            let t =
                Trainer::resume(&gpu, m).with_context(|| format!("--resume {}", snap.display()))?;
            if (t.cfg.num_channels, t.cfg.resolution) != (info.channels, info.resolution) {
                bail!(
                    "--resume {}: the snapshot is for {}x{}x{} images, the dataset has {}x{}x{}",
                    snap.display(),
                    t.cfg.num_channels,
                    t.cfg.resolution,
                    t.cfg.resolution,
                    info.channels,
                    info.resolution,
                    info.resolution
                );
            }
            eprintln!(
                "resumed at {:.1} kimg (step {})",
                t.state.cur_nimg as f64 / 1000.0,
                t.state.step
            );
            t
        } else {
            let mut cfg = a.arch.config(Some(info.resolution), Some(info.channels))?;
            cfg.progressive = a.progressive;
            let tc = TrainConfig {
                batch: a.batch,
                gamma: a.gamma,
                lr: a.lr,
                g_ema_kimg: a.ema_kimg,
                seed: a.seed,
                mirror: a.mirror,
                progressive: a.progressive,
                lod_training_kimg: a.lod_training_kimg,
                lod_transition_kimg: a.lod_transition_kimg,
                ..TrainConfig::default()
            };
            Trainer::new(&gpu, &cfg, &tc)?
        })
    };
    let (mut t, exact) = Trainer::shared(&gpu, comm.clone(), || {
        build().map_err(|e| stylegan_wgpu::Error::Invalid(format!("{e:#}")))
    })?;
    if comm.size() > 1 {
        say!(
            "{} ranks, {} images each of the global minibatch of {}{}",
            comm.size(),
            t.rows().len(),
            t.tc.batch,
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
        );
    }
    let nparams = |p: &stylegan_wgpu::nn::ParamSet| {
        p.trainable()
            .iter()
            .map(|(_, v)| v.value().numel())
            .sum::<usize>()
    };
    say!(
        "G {} / D {} trainable parameters; batch {}, lr {}, gamma {}",
        nparams(&t.g.params),
        nparams(&t.d.params),
        t.tc.batch,
        t.tc.learning_rate(t.schedule().resolution),
        t.tc.gamma
    );
    let passes = t.passes_per_step()?;
    if passes > 1 {
        say!(
            "note: a minibatch of {} runs in {passes} GPU passes (the adapter's largest storage \
             binding holds {} MiB); the step is the same as in one pass",
            t.tc.batch,
            gpu.max_tensor_bytes() >> 20
        );
    }
    if a.resume.is_some() && a.progressive && !t.tc.progressive {
        bail!("--progressive: the resumed run trains at a fixed resolution; drop the flag");
    }
    if t.tc.progressive {
        say!(
            "progressive: lod {:.3} (training {}x{}), {} kimg per resolution + {} kimg fade-in",
            t.lod(),
            t.schedule().resolution,
            t.schedule().resolution,
            t.tc.lod_training_kimg,
            t.tc.lod_transition_kimg
        );
    }
    // Every rank measures its share of the generated images. Rank 0 computes (and caches) the
    // real features first; the others then find them in the cache.
    let make_metrics = || -> Result<Option<MetricRunner>> {
        Ok(match metric_specs.clone() {
            Some(specs) => Some(
                MetricRunner::new(
                    a.net
                        .args()
                        .choose(ds.info().channels, ds.info().resolution)?
                        .load(&gpu)?,
                    None,
                    None,
                    specs,
                    &ds,
                    t.tc.batch,
                    cache_dir(None).as_deref(),
                )?
                .sharded(comm.clone()),
            ),
            None => None,
        })
    };
    let metrics = if rank0 {
        let m = make_metrics()?;
        comm.any(false)?;
        m
    } else {
        comm.any(false)?;
        make_metrics()?
    };
    // Run with the training bar suspended: the metrics draw their own (and a bar's println
    // prints nothing when stderr is not a terminal).
    let measure = |t: &Trainer, snap: Option<&Path>| -> Result<()> {
        let Some(m) = &metrics else { return Ok(()) };
        m.run(&t.gs, t.tc.seed, &mut |r| {
            println!("{}", r.line());
            let extra = serde_json::json!({
                "snapshot_pkl": snap.and_then(|s| s.file_name()).map(|f| f.to_string_lossy().into_owned()),
                "kimg": t.state.cur_nimg as f64 / 1000.0,
            });
            let log = a.outdir.join(format!("metric-{}.jsonl", r.name));
            append_line(&log, &r.json(extra).to_string())
        })
    };
    let mut loader = Loader::sharded(
        ds,
        t.tc.batch,
        t.rows().to_vec(),
        t.tc.seed,
        t.tc.mirror,
        4,
        t.state.cur_nimg,
    );
    let grid_z = grid_latents(&t.cfg, 64);

    if let Err(e) = stop::install() {
        eprintln!("warning: cannot catch SIGINT/SIGTERM ({e}): a stop will not write a snapshot");
    }
    // Rounded, so that e.g. 0.29 kimg is 290 images (f64 holds 0.29 * 1000 as 289.99...).
    let total = (a.kimg * 1000.0).round() as u64;
    let pb = if rank0 {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_position(t.state.cur_nimg.min(total));
    let log_path = a.outdir.join("log.jsonl");
    if a.resume.is_some() && rank0 {
        let n = drop_log_after(&log_path, t.state.step)?;
        if n > 0 {
            eprintln!(
                "{}: dropped {n} line(s) after step {}, which this run trains again",
                log_path.display(),
                t.state.step
            );
        }
    }
    let mut log: Box<dyn Write> = if rank0 {
        Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .with_context(|| format!("{}", log_path.display()))?,
        )
    } else {
        Box::new(std::io::sink())
    };
    let snap_every = ((a.snapshot_kimg * 1000.0).round() as u64).max(1);
    let mut next_snap = (t.state.cur_nimg / snap_every + 1) * snap_every;
    let log_every = 20u64;
    let mut tick_start = (Instant::now(), t.state.cur_nimg);
    let mut last = None;
    let mut measured = None;
    // Ranks stop together: a signal to any of them stops all after the same step.
    let stopping = |t: &Trainer| -> Result<bool> { Ok(t.comm().any(stop::received().is_some())?) };
    let mut stopped = false;
    while t.state.cur_nimg < total && !stopped {
        let reals = loader.next_batch()?;
        let lod = t.lod();
        let losses = t.step(&reals)?;
        if t.state.step % log_every == 0 || t.state.cur_nimg >= total {
            let l = losses.read()?;
            let (t_start, n_start) = tick_start;
            let sec_per_kimg =
                t_start.elapsed().as_secs_f64() / ((t.state.cur_nimg - n_start) as f64 / 1000.0);
            tick_start = (Instant::now(), t.state.cur_nimg);
            let kimg = t.state.cur_nimg as f64 / 1000.0;
            pb.set_position(t.state.cur_nimg.min(total));
            pb.set_message(format!(
                "{kimg:.1}/{:.0} kimg  {sec_per_kimg:.1} s/kimg  G {:.3}  D {:.3}  R1 {:.3}{}",
                a.kimg,
                l[0],
                l[1],
                l[2],
                if t.tc.progressive {
                    format!("  lod {lod:.3}")
                } else {
                    String::new()
                }
            ));
            let mut line = serde_json::json!({
                "kimg": kimg, "step": t.state.step, "g_loss": l[0], "d_loss": l[1], "r1": l[2],
                "d_real": l[3], "d_fake": l[4], "sec_per_kimg": sec_per_kimg, "lod": lod,
                "time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            });
            if comm.size() > 1 {
                let c = t.comm_stats;
                let steps = (c.calls / 2).max(1);
                line["ranks"] = comm.size().into();
                line["allreduce_sec_per_step"] = (c.reduce_seconds / steps as f64).into();
                line["allreduce_wait_sec_per_step"] = (c.wait_seconds / steps as f64).into();
                line["grad_bytes_per_step"] = (c.bytes / steps).into();
            }
            writeln!(log, "{line}")?;
            if !l.iter().all(|v| v.is_finite()) {
                bail!(
                    "training diverged at {kimg:.1} kimg (losses {l:?}); last snapshot: {last:?}"
                );
            }
        }
        stopped = stopping(&t)?;
        if t.state.cur_nimg >= next_snap {
            let p = if rank0 {
                let p = snapshot(&t, &grid_z, &a.outdir)?;
                // Not pb.println: it prints nothing when stderr is not a terminal (logs, CI).
                pb.suspend(|| eprintln!("snapshot {}", p.display()));
                Some(p)
            } else {
                None
            };
            pb.suspend(|| measure(&t, p.as_deref()))?;
            measured = Some(t.state.cur_nimg);
            last = p;
            next_snap += snap_every;
        }
    }
    pb.finish_and_clear();
    // A signal that arrives after the last step does not make a finished run an interrupted one.
    // A rank stopped by another rank's signal reports SIGTERM's status.
    let interrupted =
        (stopped && t.state.cur_nimg < total).then(|| stop::received().unwrap_or(stop::SIGTERM));
    if let Some(sig) = interrupted {
        say!("interrupted by {}: writing a snapshot", stop::name(sig));
    }
    let p = if rank0 {
        Some(snapshot(&t, &grid_z, &a.outdir)?)
    } else {
        None
    };
    if interrupted.is_none() && measured != Some(t.state.cur_nimg) {
        measure(&t, p.as_deref())?;
    }
    // Nobody leaves before rank 0's last snapshot is in place: the launcher may end the job as
    // soon as one rank exits with a stop's nonzero status.
    comm.any(false)?;
    let Some(p) = p else {
        return Ok(interrupted);
    };
    if let Some(r) = gpu.profile_report() {
        eprintln!("{r}");
    }
    if comm.size() > 1 {
        let c = t.comm_stats;
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
        t.state.cur_nimg as f64 / 1000.0
    );
    Ok(interrupted)
}
