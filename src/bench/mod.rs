//! Kernel benchmarks (`stylegan bench kernels`, `cargo bench --bench kernels`): GFLOP/s of the
//! convolutions (fast subgroup path and generic kernel) and the dense matmul, GB/s of the
//! memory-bound AdaIN and epilogue kernels.
//!
//! Timing: one warm-up call (the first dispatch compiles the shader, 0.15-2 s on lavapipe) and
//! one more to estimate the cost, then `runs` times: record `reps` calls of the op into one step,
//! `sync`, and divide the wall clock by `reps`. The median run is reported. Recording many calls
//! into one submission is how the trainer runs, and it hides the ~270 µs per-submit overhead
//! that would otherwise dominate small kernels.

use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::graph::{no_grad, Var};
use crate::ops;

/// How long to measure.
#[derive(Clone, Debug, Default)]
pub struct BenchOptions {
    /// Fewer, shorter runs (smoke test, CI).
    pub quick: bool,
    /// Calls recorded per timed step; adaptive (about 0.3 s per step, 0.1 s quick) when `None`.
    pub iters: Option<usize>,
}

/// One measured kernel. Exactly one of `gflops` / `gbps` is set.
#[derive(Clone, Debug, Serialize)]
pub struct BenchResult {
    pub kernel: String,
    pub shape: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
    /// Median milliseconds per call.
    pub ms: f64,
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = match (self.gflops, self.gbps) {
            (Some(g), _) => format!("{g:8.2} GFLOP/s"),
            (_, Some(b)) => format!("{b:8.2} GB/s   "),
            _ => String::new(),
        };
        write!(
            f,
            "{:<18} {:<26} {rate} {:10.3} ms",
            self.kernel, self.shape, self.ms
        )
    }
}

/// Everything `--json` writes.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub results: Vec<BenchResult>,
}

/// Median seconds per call of `f` (see the module docs for the method).
pub fn time_op(gpu: &Gpu, opts: &BenchOptions, f: &mut dyn FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    gpu.sync()?;
    let t = Instant::now();
    f()?;
    gpu.sync()?;
    let est = t.elapsed().as_secs_f64().max(1e-6);
    let (target, runs) = if opts.quick { (0.1, 3) } else { (0.3, 5) };
    let reps = opts
        .iters
        .unwrap_or_else(|| ((target / est) as usize).clamp(1, 1000))
        .max(1);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        for _ in 0..reps {
            f()?;
        }
        gpu.sync()?;
        times.push(t.elapsed().as_secs_f64() / reps as f64);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

/// Deterministic values in [-1, 1) (a cheap LCG: benchmarks only need non-trivial data).
fn filled(gpu: &Gpu, shape: &[usize], seed: u64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let data: Vec<f32> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_slice(gpu, shape, &data)
}

fn flops_result(kernel: &str, shape: String, flops: f64, secs: f64) -> BenchResult {
    BenchResult {
        kernel: kernel.into(),
        shape,
        gflops: Some(flops / secs / 1e9),
        gbps: None,
        ms: secs * 1e3,
    }
}

fn bytes_result(kernel: &str, shape: String, bytes: f64, secs: f64) -> BenchResult {
    BenchResult {
        kernel: kernel.into(),
        shape,
        gflops: None,
        gbps: Some(bytes / secs / 1e9),
        ms: secs * 1e3,
    }
}

/// Runs `f` with `STYLEGAN_NO_FAST_CONV=1`, restoring the previous value afterwards. The
/// benchmark is single-threaded, so changing the process environment here is safe.
fn with_fast_conv_disabled<T>(f: impl FnOnce() -> T) -> T {
    let prev = std::env::var_os("STYLEGAN_NO_FAST_CONV");
    std::env::set_var("STYLEGAN_NO_FAST_CONV", "1");
    let out = f();
    match prev {
        Some(v) => std::env::set_var("STYLEGAN_NO_FAST_CONV", v),
        None => std::env::remove_var("STYLEGAN_NO_FAST_CONV"),
    }
    out
}

/// The conv3x3 shapes measured: (N, C = K, H = W).
pub const CONV_SHAPES: [(usize, usize, usize); 4] =
    [(4, 32, 32), (4, 128, 16), (4, 512, 8), (4, 512, 4)];

/// Runs the kernel suite on `gpu`, calling `report` for each result as soon as it is measured.
pub fn run_kernels(
    gpu: &Gpu,
    opts: &BenchOptions,
    report: &mut dyn FnMut(&BenchResult),
) -> Result<BenchReport> {
    let info = gpu.info();
    let mut results = Vec::new();
    let mut push = |r: BenchResult, results: &mut Vec<BenchResult>| {
        report(&r);
        results.push(r);
    };
    no_grad(|| -> Result<()> {
        for (i, &(n, c, hw)) in CONV_SHAPES.iter().enumerate() {
            let k = c;
            let x = filled(gpu, &[n, c, hw, hw], 10 + i as u64)?;
            let w = filled(gpu, &[3, 3, c, k], 20 + i as u64)?;
            let shape = format!("N{n} C{c}->K{k} {hw}x{hw}");
            let flops = 2.0 * (n * hw * hw * 9 * c * k) as f64;
            let alpha = 1.0 / ((9 * c) as f32).sqrt();
            if ops::conv_fast::conv3x3_fast_t(&x, &w, alpha)?.is_some() {
                let secs = time_op(gpu, opts, &mut || {
                    ops::conv_fast::conv3x3_fast_t(&x, &w, alpha)?
                        .map(drop)
                        .ok_or_else(|| Error::Invalid("fast conv path went away".into()))
                })?;
                push(
                    flops_result("conv3x3 fast", shape.clone(), flops, secs),
                    &mut results,
                );
            }
            let secs = with_fast_conv_disabled(|| {
                time_op(gpu, opts, &mut || {
                    ops::conv::conv2d_t(&x, &w, alpha).map(drop)
                })
            })?;
            push(
                flops_result("conv3x3 generic", shape, flops, secs),
                &mut results,
            );
        }

        let (m, kd, nd) = (64, 512, 512);
        let a = filled(gpu, &[m, kd], 30)?;
        let b = filled(gpu, &[kd, nd], 31)?;
        let secs = time_op(gpu, opts, &mut || {
            ops::dense::matmul_t(&a, &b, false, false, 1.0).map(drop)
        })?;
        let flops = 2.0 * (m * kd * nd) as f64;
        push(
            flops_result("dense matmul", format!("{m}x{kd} @ {kd}x{nd}"), flops, secs),
            &mut results,
        );

        let (n, c, hw) = (4, 64, 64);
        let numel = n * c * hw * hw;
        let x = Var::constant(filled(gpu, &[n, c, hw, hw], 40)?);
        let style = Var::constant(filled(gpu, &[n, 2 * c], 41)?);
        let secs = time_op(gpu, opts, &mut || ops::adain::adain(&x, &style).map(drop))?;
        let bytes = 4.0 * (2 * numel + n * 2 * c) as f64;
        push(
            bytes_result("adain", format!("N{n} C{c} {hw}x{hw}"), bytes, secs),
            &mut results,
        );

        let noise = Var::constant(filled(gpu, &[n, 1, hw, hw], 42)?);
        let strength = Var::constant(filled(gpu, &[c], 43)?);
        let bias = Var::constant(filled(gpu, &[c], 44)?);
        let secs = time_op(gpu, opts, &mut || {
            ops::epilogue::epilogue(&x, Some(&noise), &strength, &bias, 1.0, 0.2).map(drop)
        })?;
        let bytes = 4.0 * (2 * numel + n * hw * hw + 2 * c) as f64;
        push(
            bytes_result(
                "epilogue",
                format!("N{n} C{c} {hw}x{hw} +noise"),
                bytes,
                secs,
            ),
            &mut results,
        );
        Ok(())
    })?;
    Ok(BenchReport {
        adapter: info.name.clone(),
        backend: format!("{:?}", info.backend),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        results,
    })
}
