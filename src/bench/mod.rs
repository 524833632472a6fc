//! Benchmarks shared by `stylegan bench`, `cargo bench --bench kernels` and the web page's
//! "benchmark in your browser": the JSON report (`BenchReport`, layout in `benches/README.md`),
//! how one case is timed (`timing`) and the `kernels` suite (GFLOP/s of the convolutions at the
//! shapes of the 1024² network on every kernel that takes them, of the fused up/down-convs and
//! the dense matmul; GB/s of AdaIN, the epilogue, add and broadcast). Timing is async so a
//! page can await the GPU; native callers block on it (`time_op_blocking`, `run_kernels`).
//! The whole-network suites (generate, train, inception, startup) live in the binary; `tune`
//! (filling the tuning table for a model) is here.

pub mod kernels;
pub mod timing;
pub mod tune;

use serde::Serialize;

use crate::error::Result;
use crate::gpu::Gpu;

#[cfg(not(target_arch = "wasm32"))]
pub use timing::time_op_blocking;
pub use timing::{now_seconds, time_op, Timer, Timing};

/// Version of the JSON report layout; bumped on any incompatible change (`benches/README.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// Which benchmarks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    Kernels,
    Generate,
    Train,
    /// Wall time of a whole one-image `generate` in a fresh process, cold and warm caches.
    Startup,
    /// Images/s of the FID Inception network.
    Inception,
    /// Every suite above, in that order.
    All,
    /// The gradient all-reduce of data-parallel training against the step (run under
    /// `mpirun -np N`; not part of `All`).
    Allreduce,
    /// Fills the tuning table for a model's shapes (`tune`; not part of `All`).
    Tune,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Kernels => "kernels",
            Suite::Generate => "generate",
            Suite::Train => "train",
            Suite::Startup => "startup",
            Suite::Inception => "inception",
            Suite::All => "all",
            Suite::Allreduce => "allreduce",
            Suite::Tune => "tune",
        }
    }
}

/// How long to measure.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Fewer, smaller cases and shorter runs (smoke test, CI; see each suite for what it keeps).
    pub quick: bool,
    /// Calls recorded per timed run; adaptive (about 0.3 s per run, 0.1 s quick) when `None`.
    pub iters: Option<usize>,
    /// Timed runs per case (default 5, quick 3).
    pub runs: Option<usize>,
    /// Untimed calls before measuring (default 1: it compiles the shaders).
    pub warmup: Option<usize>,
    /// The `tiny` preset's channel widths in the generate suite instead of the official ones,
    /// and only the smallest kernel shapes: for tests that must finish in seconds on a CPU.
    pub tiny: bool,
}

/// One measured case. `ms` is per call (one kernel call, one generator batch, one training
/// step); the rate fields that apply to the suite are set.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub suite: String,
    pub name: String,
    pub shape: String,
    pub timer: Timer,
    /// Median milliseconds per call by `timer`, and the fastest and slowest run.
    pub ms: f64,
    pub ms_min: f64,
    pub ms_max: f64,
    /// Median milliseconds per call by the wall clock (equals `ms` when `timer` is `wall`).
    pub wall_ms: f64,
    pub runs: usize,
    pub reps: usize,
    /// Most bytes held by live tensors while measuring (see `Timing::peak_bytes`).
    pub peak_bytes: u64,
    /// Kernels suite, convs: the kernel that ran (`ConvKernel::name`: `subgroup`,
    /// `subgroup-general`, `coop-f16`, `tiled`, `direct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_per_image: Option<f64>,
    /// Allreduce suite: the ranks the step was split over, the median milliseconds per step
    /// inside the gradient all-reduces proper, reading gradients back / uploading their sums,
    /// and waiting for the slowest rank, and the bytes each rank sends per step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranks: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allreduce_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_bytes: Option<u64>,
    /// Tune suite: whether this candidate is the measured choice for the shape, and whether it
    /// is the planner's fixed-order pick.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuned: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_order: Option<bool>,
    /// Generate and train suites: GPU dispatches one call records (a generator batch, a
    /// training step), the same per image, and the bytes of the tensors one call creates at
    /// most at once, per image (definitions in `benches/README.md`). Counts, not times: they do
    /// not depend on the adapter's speed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatches: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatches_per_image: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intermediate_bytes_per_image: Option<u64>,
}

impl BenchResult {
    /// A result with no rate set yet.
    pub fn new(suite: &str, name: &str, shape: String, t: &Timing) -> BenchResult {
        BenchResult {
            suite: suite.into(),
            name: name.into(),
            shape,
            timer: t.timer,
            ms: t.median * 1e3,
            ms_min: t.min * 1e3,
            ms_max: t.max * 1e3,
            wall_ms: t.wall_median * 1e3,
            runs: t.runs,
            reps: t.reps,
            peak_bytes: t.peak_bytes,
            kernel: None,
            gflops: None,
            gbps: None,
            batch: None,
            images_per_s: None,
            ms_per_image: None,
            ranks: None,
            allreduce_ms: None,
            transfer_ms: None,
            wait_ms: None,
            grad_bytes: None,
            tuned: None,
            fixed_order: None,
            dispatches: None,
            dispatches_per_image: None,
            intermediate_bytes_per_image: None,
        }
    }
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = match (self.gflops, self.gbps, self.images_per_s) {
            (Some(g), _, _) => format!("{g:9.2} GFLOP/s"),
            (_, Some(b), _) => format!("{b:9.2} GB/s   "),
            (_, _, Some(i)) => format!("{i:9.2} img/s  "),
            _ => format!("{:17}", ""),
        };
        let timer = match self.timer {
            Timer::Gpu => "gpu",
            Timer::Wall => "wall",
        };
        write!(
            f,
            "{:<8} {:<18} {:<34} {rate} {:10.3} ms [{:.3}-{:.3}] {timer} {:7.1} MiB",
            self.suite,
            self.name,
            self.shape,
            self.ms,
            self.ms_min,
            self.ms_max,
            self.peak_bytes as f64 / (1 << 20) as f64
        )?;
        if let (Some(a), Some(t), Some(b)) = (self.allreduce_ms, self.transfer_ms, self.grad_bytes)
        {
            write!(
                f,
                "; all-reduce {a:.3} ms, read-back/upload {t:.3} ms, waiting {:.3} ms, {:.2} MB \
                 per rank per step",
                self.wait_ms.unwrap_or(0.0),
                b as f64 / 1e6
            )?;
        }
        if let (Some(d), Some(di), Some(m)) = (
            self.dispatches,
            self.dispatches_per_image,
            self.intermediate_bytes_per_image,
        ) {
            write!(
                f,
                "; {d} dispatches ({di:.1}/image), {:.2} MiB intermediates/image",
                m as f64 / (1 << 20) as f64
            )?;
        }
        Ok(())
    }
}

/// A case that could not run on this adapter (e.g. a tensor over its buffer limit).
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub suite: String,
    pub name: String,
    pub shape: String,
    pub reason: String,
}

/// Everything `--json` writes (layout: `benches/README.md`).
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Always `"stylegan-wgpu-bench"`.
    pub schema: String,
    pub schema_version: u32,
    /// Version of this program.
    pub version: String,
    /// Seconds since the Unix epoch when the report was made.
    pub created_unix_s: u64,
    pub suite: String,
    pub quick: bool,
    pub tiny: bool,
    pub adapter: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    /// Whether the adapter offers timestamp queries (cases may still use the wall clock).
    pub timestamp_queries: bool,
    pub results: Vec<BenchResult>,
    pub skipped: Vec<Skipped>,
}

impl BenchReport {
    /// An empty report describing `gpu`.
    pub fn new(gpu: &Gpu, suite: Suite, opts: &BenchOptions) -> BenchReport {
        let info = gpu.info();
        BenchReport {
            schema: "stylegan-wgpu-bench".into(),
            schema_version: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION").into(),
            created_unix_s: unix_seconds(),
            suite: suite.name().into(),
            quick: opts.quick,
            tiny: opts.tiny,
            adapter: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            timestamp_queries: gpu.has_timestamps(),
            results: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// Collects results into a report and passes each to the caller's callback as it arrives.
pub struct Sink<'a> {
    pub report: BenchReport,
    pub on_result: &'a mut dyn FnMut(&BenchResult),
}

impl Sink<'_> {
    pub fn push(&mut self, r: BenchResult) {
        (self.on_result)(&r);
        self.report.results.push(r);
    }

    /// Pushes a measured case, or records it as skipped when it does not fit the adapter;
    /// other errors end the suite.
    pub fn record(
        &mut self,
        suite: &str,
        name: &str,
        shape: String,
        res: Result<BenchResult>,
    ) -> Result<()> {
        match res {
            Ok(r) => self.push(r),
            Err(e) if is_capacity_error(&e) => self.skip(suite, name, shape, e.to_string()),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    pub fn skip(&mut self, suite: &str, name: &str, shape: String, reason: String) {
        self.report.skipped.push(Skipped {
            suite: suite.into(),
            name: name.into(),
            shape,
            reason,
        });
    }
}

/// The shape label of a whole-network case.
pub fn network_shape(resolution: usize, batch: usize, tiny: bool) -> String {
    let widths = if tiny { "tiny" } else { "ffhq" };
    format!("{resolution}x{resolution} batch {batch} ({widths} widths)")
}

/// Errors that mean "this case does not fit this adapter" (a tensor over the buffer limit,
/// device memory exhausted) rather than a broken benchmark: recorded as skipped, the suite
/// goes on.
pub fn is_capacity_error(e: &crate::Error) -> bool {
    match e {
        crate::Error::OutOfMemory { .. } => true,
        other => other
            .to_string()
            .to_ascii_lowercase()
            .contains("out of memory"),
    }
}

/// Seconds since the Unix epoch (a browser has no `SystemTime`: its `Date.now()` there).
fn unix_seconds() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (js_sys::Date::now() / 1e3) as u64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The `kernels` suite on `gpu`, each result handed to `on_result` as it is measured.
pub async fn run_kernels(
    gpu: &Gpu,
    opts: &BenchOptions,
    on_result: &mut dyn FnMut(&BenchResult),
) -> Result<BenchReport> {
    let mut sink = Sink {
        report: BenchReport::new(gpu, Suite::Kernels, opts),
        on_result,
    };
    kernels::kernels_into(gpu, opts, &mut sink).await?;
    Ok(sink.report)
}
