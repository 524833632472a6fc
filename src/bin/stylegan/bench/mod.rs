//! `stylegan bench <suite>` and `cargo bench --bench kernels`: the report, the timing and the
//! `kernels` suite are the library's (`stylegan_wgpu::bench`, shared with the web page); the
//! whole-network suites are here:
//! - `generate`: images/s of the generator (official widths, random weights).
//! - `train`: milliseconds per full training step (G and D with Adam, R1, Gs update).
//! - `startup`: a one-image `stylegan generate` in a fresh process, cold and warm caches.
//! - `inception`: images/s of the FID feature network, preprocessing included.
//!
//! `benches/README.md` documents the JSON report.

mod generate;
mod inception;
mod startup;
mod train;

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
