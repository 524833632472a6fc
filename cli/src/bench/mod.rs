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
