//! The `tune` suite (`stylegan bench tune`): fills the tuning table (`gpu::tune`) for a model
//! ahead of time and reports it. Every forward and backward conv shape of G and D at a batch
//! is met by running what training and generation run: one training step (G forward, D on
//! reals and fakes with R1's double backward, the G step, Adam) and one generator pass at the
//! context's inference precision, on a context under `Tune::Force`, so each shape is measured
//! at its first use in this process (whatever the table held before) and written to the table.
//!
//! Each candidate of each shape is one result (`name` the family, `kernel` the candidate,
//! `shape` the family's shape key, `ms` its median per call by the wall clock), with `tuned`
//! (the measurement's choice) and `fixed_order` (the planner's pick without tuning);
//! `tuning pass` is the wall time of the whole pass (measuring and compiling included).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::gpu::tune::TuneEntry;
use crate::gpu::{Gpu, Tune};
use crate::nn::config::Config;
use crate::nn::generator::{NoiseMode, Truncation};
use crate::rng::lcg_fill;
use crate::train::{TrainConfig, Trainer};

use super::timing::{now_seconds, Timer, Timing};
use super::{BenchOptions, BenchReport, BenchResult, Sink, Suite};

const SUITE: &str = "tune";

/// What to tune for: a network configuration (weights do not matter, shapes do) and the batch.
#[derive(Clone, Debug)]
pub struct TuneTarget {
    pub config: Config,
    pub batch: usize,
    /// Where the configuration came from (printed and in the results' `shape` of the pass).
    pub name: String,
}

/// What a tuning pass found.
#[derive(Clone, Debug)]
pub struct TuneSummary {
    /// Every shape the pass met with more than one candidate, in the order it met them.
    pub entries: Vec<TuneEntry>,
    /// Shapes this pass measured (the others kept the choice the table had).
    pub measured: usize,
    /// Wall seconds of the pass: the training step and the generator pass, measuring and
    /// compiling the candidates included.
    pub seconds: f64,
    /// The table file written, when the context keeps one.
    pub file: Option<PathBuf>,
}

impl TuneSummary {
    /// Shapes where the measured choice is not the fixed order's pick.
    pub fn changed(&self) -> usize {
        self.entries.iter().filter(|e| !is_fixed(e)).count()
    }

    /// The table as text: per shape, the choice, the fixed order's pick and each candidate's
    /// median milliseconds (the chosen one starred).
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} shapes ({} measured now), {} where the measured choice is not the fixed \
             order's; {:.1} s\n",
            self.entries.len(),
            self.measured,
            self.changed(),
            self.seconds
        );
        let wide = self
            .entries
            .iter()
            .map(|e| e.shape.len())
            .max()
            .unwrap_or(5);
        out += &format!(
            "{:<6} {:<wide$} {:<17} {:<17} candidates (median ms per call)\n",
            "family", "shape", "chosen", "fixed order"
        );
        for e in &self.entries {
            let times: Vec<String> = e
                .candidates
                .iter()
                .map(|c| {
                    let star = if c.name == e.chosen { "*" } else { "" };
                    format!("{}{star} {:.3}", c.name, c.ms)
                })
                .chain(e.failed.iter().map(|f| format!("{f} failed")))
                .collect();
            out += &format!(
                "{:<6} {:<wide$} {:<17} {:<17} {}\n",
                e.family,
                e.shape,
                e.chosen,
                fixed_pick(e),
                times.join(", ")
            );
        }
        if let Some(f) = &self.file {
            out += &format!("table: {}\n", f.display());
        }
        out
    }
}

/// The fixed order's pick: the first candidate that ran (the planner lists them in that order).
fn fixed_pick(e: &TuneEntry) -> &str {
    e.candidates.first().map_or("", |c| c.name.as_str())
}

fn is_fixed(e: &TuneEntry) -> bool {
    e.chosen == fixed_pick(e)
}

/// One result per candidate of `e`.
fn results(e: &TuneEntry) -> Vec<BenchResult> {
    e.candidates
        .iter()
        .map(|c| {
            let t = Timing {
                timer: Timer::Wall,
                median: c.ms / 1e3,
                min: c.ms_min / 1e3,
                max: c.ms_max / 1e3,
                wall_median: c.ms / 1e3,
                runs: c.runs,
                reps: if c.runs > 1 { e.reps } else { 1 },
                peak_bytes: 0,
            };
            let mut r = BenchResult::new(SUITE, &e.family, e.shape.clone(), &t);
            r.kernel = Some(c.name.clone());
            r.tuned = Some(c.name == e.chosen);
            r.fixed_order = Some(c.name == fixed_pick(e));
            r
        })
        .collect()
}

/// Runs the pass on `gpu` (which must be under `Tune::Force`) and pushes its results.
pub fn tune_into(gpu: &Gpu, target: &TuneTarget, sink: &mut Sink<'_>) -> Result<TuneSummary> {
    if gpu.policy().tune != Tune::Force {
        return Err(Error::Invalid(format!(
            "bench tune needs a context under Tune::Force (this one is {}): open it with \
             Policy {{ tune: Tune::Force, .. }}",
            gpu.policy().tune.name()
        )));
    }
    let cfg = &target.config;
    cfg.validate()?;
    let batch = target.batch.max(1);
    let before = gpu.tune_measured();
    let t0 = now_seconds();
    let tc = TrainConfig {
        batch,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(gpu, cfg, &tc)?;
    let n = batch * cfg.num_channels * cfg.resolution * cfg.resolution;
    trainer.step(&lcg_fill(n, 3))?.read()?;
    let mut gen = trainer.gs;
    gen.set_batch(batch);
    let seeds: Vec<u32> = (0..batch as u32).collect();
    gen.generate_seeds(&seeds, &Truncation::psi(0.7), NoiseMode::Const)?;
    gpu.sync()?;
    let seconds = now_seconds() - t0;
    drop(gen);
    gpu.trim_pool()?;
    let summary = TuneSummary {
        entries: gpu.tune_entries(),
        measured: gpu.tune_measured() - before,
        seconds,
        file: gpu.tune_file(),
    };
    for e in &summary.entries {
        for r in results(e) {
            sink.push(r);
        }
    }
    let pass = Timing {
        timer: Timer::Wall,
        median: seconds,
        min: seconds,
        max: seconds,
        wall_median: seconds,
        runs: 1,
        reps: 1,
        peak_bytes: gpu.stats().peak_bytes,
    };
    let shape = format!(
        "{} {}x{} batch {batch}",
        target.name, cfg.resolution, cfg.resolution
    );
    let mut r = BenchResult::new(SUITE, "tuning pass", shape, &pass);
    r.batch = Some(batch);
    sink.push(r);
    Ok(summary)
}

/// The `tune` suite on `gpu` as a report, each result handed to `on_result` as it is pushed.
pub fn run_tune(
    gpu: &Gpu,
    target: &TuneTarget,
    opts: &BenchOptions,
    on_result: &mut dyn FnMut(&BenchResult),
) -> Result<(BenchReport, TuneSummary)> {
    let mut sink = Sink {
        report: BenchReport::new(gpu, Suite::Tune, opts),
        on_result,
    };
    let summary = tune_into(gpu, target, &mut sink)?;
    Ok((sink.report, summary))
}
