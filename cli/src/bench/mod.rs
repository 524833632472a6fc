//! `stylegan bench <suite>` and `cargo bench --bench kernels`: the report, the timing and the
//! `kernels` suite are the library's (`stylegan_wgpu::bench`, shared with the web page); the
//! whole-network suites are here:
//! - `generate`: images/s of the generator (official widths, random weights).
//! - `train`: milliseconds per full training step (G and D with Adam, R1, Gs update).
//! - `startup`: a one-image `stylegan generate` in a fresh process, cold and warm caches.
//! - `inception`: images/s of the FID feature network, preprocessing included.
//! - `allreduce`: data-parallel training's gradient all-reduce against its step (under
//!   `mpirun`).
//!
//! `benches/README.md` documents the JSON report.

mod allreduce;
mod generate;
mod inception;
mod startup;
mod train;

use std::rc::Rc;

use stylegan_wgpu::dist::Collective;
use stylegan_wgpu::error::Result;
use stylegan_wgpu::gpu::Gpu;

pub use stylegan_wgpu::bench::*;

/// What one call of a whole-network case costs in counts rather than time: the dispatches it
/// records and the most bytes of tensors it holds at once beyond those live before it started
/// (weights, optimizer state, inputs): its activations, gradients and temporaries at their
/// peak. Counts predict the small-batch cost on any adapter (a dispatch costs the most in a
/// browser) without depending on its speed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub dispatches: u64,
    pub intermediate_bytes: u64,
}

impl Footprint {
    /// Runs `call` once (after the case's warm-up, so pipelines and pool buffers exist) and
    /// reads the context's counters (`Gpu::stats`) around it: dispatches recorded, and the
    /// pool's peak of live bytes during the call minus the live bytes before it (whole pool
    /// buffers, sizes rounded to the pool's classes, as `peak_bytes` counts them).
    pub fn measure(gpu: &Gpu, call: &mut dyn FnMut() -> Result<()>) -> Result<Footprint> {
        gpu.flush()?;
        let before = gpu.stats();
        gpu.reset_peak_memory();
        call()?;
        gpu.flush()?;
        let after = gpu.stats();
        Ok(Footprint {
            dispatches: after.dispatches - before.dispatches,
            intermediate_bytes: after.peak_bytes.saturating_sub(before.live_bytes),
        })
    }

    /// Sets `r`'s dispatch and intermediate-memory fields for a call on `batch` images.
    pub fn report_in(&self, r: &mut BenchResult, batch: usize) {
        let b = batch.max(1);
        r.dispatches = Some(self.dispatches);
        r.dispatches_per_image = Some(self.dispatches as f64 / b as f64);
        r.intermediate_bytes_per_image = Some(self.intermediate_bytes / b as u64);
    }
}

/// Runs `suite` on `gpu`, calling `on_result` for each result as soon as it is measured.
pub fn run_suite(
    gpu: &Gpu,
    suite: Suite,
    opts: &BenchOptions,
    on_result: &mut dyn FnMut(&BenchResult),
) -> Result<BenchReport> {
    let mut sink = Sink {
        report: BenchReport::new(gpu, suite, opts),
        on_result,
    };
    if matches!(suite, Suite::Kernels | Suite::All) {
        pollster::block_on(kernels::kernels_into(gpu, opts, &mut sink))?;
    }
    if matches!(suite, Suite::Generate | Suite::All) {
        generate::generate_into(gpu, opts, &mut sink)?;
    }
    if matches!(suite, Suite::Train | Suite::All) {
        train::train_into(gpu, opts, &mut sink)?;
    }
    if matches!(suite, Suite::Startup | Suite::All) {
        startup::startup_into(gpu, opts, &mut sink)?;
    }
    if matches!(suite, Suite::Inception | Suite::All) {
        inception::inception_into(gpu, opts, &mut sink)?;
    }
    Ok(sink.report)
}

/// The `allreduce` suite on this rank of `comm` (every rank must call it; rank 0 reports).
pub fn run_allreduce(
    gpu: &Gpu,
    comm: &Rc<dyn Collective>,
    opts: &BenchOptions,
    on_result: &mut dyn FnMut(&BenchResult),
) -> Result<BenchReport> {
    let mut sink = Sink {
        report: BenchReport::new(gpu, Suite::Allreduce, opts),
        on_result,
    };
    allreduce::allreduce_into(gpu, comm, opts, &mut sink)?;
    Ok(sink.report)
}
