//! The `allreduce` suite: what data-parallel training pays for its gradient all-reduce. Run
//! under `mpirun -np N stylegan bench allreduce` (a `--features mpi` build); every rank trains,
//! rank 0 reports. Per case: the wall time of a whole distributed step (`Trainer::step` with
//! both all-reduces), the part inside the all-reduces proper, the part waiting for the slowest
//! rank before them, the part reading gradients back and uploading their sums (after the GPU
//! work of the phase has finished), and the bytes each rank sends per step (G's and D's
//! trainable parameters, plus a few loss sums, in f32).
//!
//! Cases: 256² and 1024² at the official FFHQ widths, one image per rank (what fits a CPU
//! adapter's time; on GPUs the step grows with the batch and the all-reduce does not).
//! `--quick`: 32², tiny widths, two images per rank. One untimed step first (shader compiles),
//! then `runs` steps (default 3, quick 2); medians.

use std::rc::Rc;

use stylegan_wgpu::dist::Collective;
use stylegan_wgpu::error::Result;
use stylegan_wgpu::gpu::Gpu;
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::rng::lcg_fill;
use stylegan_wgpu::train::{TrainConfig, Trainer};

use super::{network_shape, BenchOptions, BenchResult, Sink, Timer, Timing};

const SUITE: &str = "allreduce";

/// Seconds of one step: whole, in the all-reduces, reading back/uploading, waiting for ranks.
type Sample = [f64; 4];

fn one_case(
    gpu: &Gpu,
    comm: &Rc<dyn Collective>,
    opts: &BenchOptions,
    resolution: usize,
    per_rank: usize,
    tiny: bool,
    shape: &str,
) -> Result<BenchResult> {
    let mut cfg = Config::preset(if tiny { "tiny" } else { "ffhq" })?;
    cfg.resolution = resolution;
    cfg.validate()?;
    let tc = TrainConfig {
        batch: per_rank * comm.size(),
        ..TrainConfig::default()
    };
    let (mut t, _) = Trainer::shared(gpu, comm.clone(), || Trainer::new(gpu, &cfg, &tc))?;
    let reals = lcg_fill(
        t.rows().len() * cfg.num_channels * resolution * resolution,
        3,
    );
    let step = |t: &mut Trainer| -> Result<Sample> {
        let before = t.comm_stats;
        let t0 = std::time::Instant::now();
        t.step(&reals)?.read()?;
        let after = t.comm_stats;
        Ok([
            t0.elapsed().as_secs_f64(),
            after.reduce_seconds - before.reduce_seconds,
            after.transfer_seconds - before.transfer_seconds,
            after.wait_seconds - before.wait_seconds,
        ])
    };
    if opts.warmup != Some(0) {
        step(&mut t)?;
    }
    let runs = opts.runs.unwrap_or(if opts.quick { 2 } else { 3 }).max(1);
    let bytes_before = t.comm_stats.bytes;
    let mut samples = (0..runs)
        .map(|_| step(&mut t))
        .collect::<Result<Vec<_>>>()?;
    let grad_bytes = (t.comm_stats.bytes - bytes_before) / runs as u64;
    let median = |i: usize, v: &mut Vec<Sample>| {
        v.sort_by(|a, b| a[i].total_cmp(&b[i]));
        v[v.len() / 2][i]
    };
    let reduce = median(1, &mut samples);
    let transfer = median(2, &mut samples);
    let wait = median(3, &mut samples);
    let step_s = median(0, &mut samples);
    let timing = Timing {
        timer: Timer::Wall,
        median: step_s,
        min: samples[0][0],
        max: samples[samples.len() - 1][0],
        wall_median: step_s,
        runs,
        reps: 1,
        peak_bytes: gpu.stats().peak_bytes,
    };
    let mut r = BenchResult::new(SUITE, "distributed step", shape.to_string(), &timing);
    r.batch = Some(tc.batch);
    r.images_per_s = Some(tc.batch as f64 / step_s);
    r.ranks = Some(comm.size());
    r.allreduce_ms = Some(reduce * 1e3);
    r.transfer_ms = Some(transfer * 1e3);
    r.wait_ms = Some(wait * 1e3);
    r.grad_bytes = Some(grad_bytes);
    Ok(r)
}

pub(crate) fn allreduce_into(
    gpu: &Gpu,
    comm: &Rc<dyn Collective>,
    opts: &BenchOptions,
    sink: &mut Sink,
) -> Result<()> {
    let cases: &[(usize, usize, bool)] = if opts.quick || opts.tiny {
        &[(32, 2, true)]
    } else {
        &[(256, 1, false), (1024, 1, false)]
    };
    for &(resolution, per_rank, tiny) in cases {
        let shape = format!(
            "{} on {} ranks",
            network_shape(resolution, per_rank * comm.size(), tiny),
            comm.size()
        );
        let res = one_case(gpu, comm, opts, resolution, per_rank, tiny, &shape);
        if let (Err(e), true) = (&res, comm.size() > 1) {
            // The other ranks may wait in a collective of this case: a case cannot be skipped
            // on one rank only, so the job ends here, naming the case.
            eprintln!(
                "error on rank {} of {} in {shape}: {e}",
                comm.rank(),
                comm.size()
            );
            comm.abort(1);
        }
        gpu.trim_pool()?;
        sink.record(SUITE, "distributed step", shape, res)?;
    }
    Ok(())
}
