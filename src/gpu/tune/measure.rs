//! Timing the candidates of one shape, in a fraction of a second: everything recorded before is
//! submitted and waited for first; each candidate runs once untimed (its pipelines compile at
//! their first dispatch on lavapipe, 0.15-2 s, which must not count), once more timed as an
//! estimate. Candidates estimated more than `PRUNE` times slower than the fastest keep that
//! one time (the fixed order's pick is never pruned): on lavapipe the generic kernels are
//! 5-20x slower than the subgroup ones, and timing them again would cost most of the budget.
//! The rest run `runs` times interleaved (candidate order rotated each round, so a slow spell
//! of the machine does not land on one candidate): `reps` calls recorded into one submission,
//! submitted alone and waited for. The median per call is kept, with the fastest and slowest.
//!
//! Wall clock, not timestamps: it is what a step pays, and every adapter has it. `reps` is
//! sized so a run lasts about `RUN_S`, which keeps the ~0.3 ms submit-and-wait overhead of
//! lavapipe (tens of µs on GPUs) small against the work, as it is inside a recorded step.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::tune::table::{pick, CandidateTime, TuneEntry};
use crate::gpu::Gpu;

/// Seconds one timed run should last (`reps` calls in one submission).
const RUN_S: f64 = 0.002;
/// Most calls per run.
const MAX_REPS: usize = 64;
/// Timed runs per remaining candidate: at least `MIN_RUNS`, more while the rounds fit in
/// `BUDGET_S`.
const MIN_RUNS: usize = 5;
const MAX_RUNS: usize = 9;
const BUDGET_S: f64 = 0.25;
/// Candidates estimated this many times slower than the fastest are not timed further.
const PRUNE: f64 = 3.0;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds `f` takes, from the first call to the end of the GPU's work.
fn timed(gpu: &Gpu, reps: usize, f: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    for _ in 0..reps {
        f()?;
    }
    gpu.sync()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Measures `names` (a family's candidates for `shape`, in the fixed order); `run(i)` records
/// one call of candidate `i`. A candidate whose call fails is left out with a warning; an
/// error when every one fails.
pub fn measure(
    gpu: &Gpu,
    family: &str,
    shape: &str,
    names: &[&str],
    run: &mut dyn FnMut(usize) -> Result<()>,
) -> Result<TuneEntry> {
    let start = Instant::now();
    gpu.sync()?;
    let n = names.len();
    let mut ok = vec![true; n];
    let mut last_err = None;
    for i in 0..n {
        // Warm-up: compiles the candidate's pipelines; not timed.
        if let Err(e) = run(i).and_then(|_| gpu.sync()) {
            log::warn!(
                "tuning {family} {shape}: candidate {} failed ({e}); it is not used for this \
                 shape",
                names[i]
            );
            ok[i] = false;
            last_err = Some(e);
        }
    }
    if !ok.contains(&true) {
        return Err(last_err
            .unwrap_or_else(|| Error::Invalid(format!("tuning {family} {shape}: no candidate"))));
    }
    let live: Vec<usize> = (0..n).filter(|&i| ok[i]).collect();
    let mut est = vec![f64::INFINITY; n];
    for &i in &live {
        est[i] = timed(gpu, 1, &mut || run(i))?.max(1e-6);
    }
    let fastest = live.iter().map(|&i| est[i]).fold(f64::INFINITY, f64::min);
    let contenders: Vec<usize> = live
        .iter()
        .copied()
        .filter(|&i| i == live[0] || est[i] <= PRUNE * fastest)
        .collect();
    let reps = ((RUN_S / fastest).ceil() as usize).clamp(1, MAX_REPS);
    let round: f64 = contenders.iter().map(|&i| est[i] * reps as f64).sum();
    let runs = ((BUDGET_S / round) as usize).clamp(MIN_RUNS, MAX_RUNS);
    let mut samples = vec![Vec::new(); n];
    for r in 0..runs {
        for k in 0..contenders.len() {
            let i = contenders[(k + r) % contenders.len()];
            samples[i].push(timed(gpu, reps, &mut || run(i))? / reps as f64);
        }
    }
    let mut candidates = Vec::with_capacity(live.len());
    let mut medians = vec![f64::INFINITY; n];
    for &i in &live {
        let s = &mut samples[i];
        if s.is_empty() {
            s.push(est[i]);
        }
        medians[i] = median(s);
        candidates.push(CandidateTime {
            name: names[i].to_string(),
            ms: medians[i] * 1e3,
            ms_min: s[0] * 1e3,
            ms_max: s[s.len() - 1] * 1e3,
            runs: s.len(),
        });
    }
    Ok(TuneEntry {
        family: family.to_string(),
        shape: shape.to_string(),
        chosen: names[pick(&medians)].to_string(),
        candidates,
        failed: (0..n)
            .filter(|&i| !ok[i])
            .map(|i| names[i].to_string())
            .collect(),
        runs,
        reps,
        seconds: start.elapsed().as_secs_f64(),
    })
}
