//! How one benchmark case is timed (`time_op`), shared by every suite.
//!
//! Method: `warmup` calls (the first dispatch of a shader compiles it, 0.15-2 s on lavapipe),
//! one more to estimate the cost, then `runs` times: record `reps` calls into one submission,
//! submit, wait. Recording many calls into one submission is how the trainer runs, and it
//! hides the ~270 µs per-submit overhead that would otherwise dominate small kernels.
//!
//! GPU time: where the adapter has `TIMESTAMP_QUERY`, each run is bracketed by two timestamps
//! in command buffers of their own, one submitted just before the recorded work and one just
//! after (Vulkan writes them at BOTTOM_OF_PIPE, which waits for all earlier submitted work).
//! The begin stamp is submitted after recording, so CPU recording time is excluded. A case
//! that submits on its own while recording (the train step flushes, and reads its losses
//! later) cannot be bracketed that way; it, and every case on adapters without timestamps, is
//! timed by the wall clock from the first recorded call to the end of a full `sync`.

use crate::error::{Error, Result};
use crate::gpu::signal::Signal;
use crate::gpu::Gpu;

use super::BenchOptions;

/// Seconds on a monotonic clock: `Instant` natively, `performance.now()` in a browser (where
/// `Instant` does not exist).
pub fn now_seconds() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        let g = js_sys::global();
        js_sys::Reflect::get(&g, &"performance".into())
            .ok()
            .and_then(|perf| {
                let now = js_sys::Reflect::get(&perf, &"now".into()).ok()?;
                js_sys::Function::from(now).call0(&perf).ok()?.as_f64()
            })
            .unwrap_or_else(js_sys::Date::now)
            / 1e3
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
    }
}

/// What the `ms` figures of a case measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Timer {
    /// GPU timestamp queries around the submitted work.
    Gpu,
    /// Host wall clock around recording, submission and a full `sync`.
    Wall,
}

/// The measurement of one case; every time is seconds per call.
#[derive(Clone, Debug)]
pub struct Timing {
    pub timer: Timer,
    /// Median, fastest and slowest of the `runs` (by `timer`).
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Median by the wall clock, whatever `timer` is.
    pub wall_median: f64,
    pub runs: usize,
    /// Calls recorded per run.
    pub reps: usize,
    /// Most bytes held by live tensors during the estimate and the timed runs (inputs and
    /// weights the case holds included; pool slack and driver allocations not).
    pub peak_bytes: u64,
}

/// Two timestamp slots and the buffers to read them back.
struct Stamps {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    read: wgpu::Buffer,
    /// Nanoseconds per timestamp tick.
    period: f64,
}

impl Stamps {
    fn new(gpu: &Gpu) -> Option<Stamps> {
        if !gpu.has_timestamps() {
            return None;
        }
        let dev = gpu.device();
        let set = dev.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("bench stamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2,
        });
        let buf = |label, usage| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolve = buf(
            "bench stamps resolve",
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        );
        let read = buf(
            "bench stamps read",
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let period = gpu.queue().get_timestamp_period() as f64;
        Some(Stamps {
            set,
            resolve,
            read,
            period,
        })
    }

    /// Submits an empty compute pass that writes timestamp `index`; with `resolve`, also
    /// copies both stamps to the readback buffer.
    fn stamp(&self, gpu: &Gpu, index: u32, resolve: bool) {
        let mut enc = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("bench stamp"),
            });
        {
            let _pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("bench stamp"),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &self.set,
                    beginning_of_pass_write_index: Some(index),
                    end_of_pass_write_index: None,
                }),
            });
        }
        if resolve {
            enc.resolve_query_set(&self.set, 0..2, &self.resolve, 0);
            enc.copy_buffer_to_buffer(&self.resolve, 0, &self.read, 0, 16);
        }
        gpu.queue().submit([enc.finish()]);
    }

    /// Seconds between the two stamps (call after the end stamp was submitted).
    async fn read(&self, gpu: &Gpu) -> Result<f64> {
        #[cfg(target_arch = "wasm32")]
        let _ = gpu; // the browser resolves the mapping without a poll
        let mapped = Signal::default();
        let done = mapped.clone();
        self.read
            .slice(..)
            .map_async(wgpu::MapMode::Read, move |r| done.finish(r));
        #[cfg(not(target_arch = "wasm32"))]
        gpu.device()
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device(format!("waiting for timestamps: {e}")))?;
        mapped
            .await
            .map_err(|e| Error::Device(format!("mapping timestamps: {e}")))?;
        let ticks: [u64; 2] = {
            let view = self
                .read
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Device(format!("reading timestamps: {e}")))?;
            // Copy out rather than cast: the mapped range need not be 8-byte aligned.
            let t: Vec<u64> = view
                .chunks_exact(8)
                .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
                .collect();
            [t[0], t[1]]
        };
        self.read.unmap();
        Ok(ticks[1].saturating_sub(ticks[0]) as f64 * self.period * 1e-9)
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// [`time_op`] for native callers, blocking until it is done.
#[cfg(not(target_arch = "wasm32"))]
pub fn time_op_blocking(
    gpu: &Gpu,
    opts: &BenchOptions,
    f: &mut dyn FnMut() -> Result<()>,
) -> Result<Timing> {
    pollster::block_on(time_op(gpu, opts, f))
}

/// Times `f` (one call of the measured work) by the method in the module docs.
pub async fn time_op(
    gpu: &Gpu,
    opts: &BenchOptions,
    f: &mut dyn FnMut() -> Result<()>,
) -> Result<Timing> {
    for _ in 0..opts.warmup.unwrap_or(1) {
        f()?;
    }
    gpu.sync_async().await?;
    gpu.reset_peak_memory();
    let t = now_seconds();
    f()?;
    gpu.sync_async().await?;
    let est = (now_seconds() - t).max(1e-6);
    let (target, default_runs) = if opts.quick { (0.1, 3) } else { (0.3, 5) };
    let runs = opts.runs.unwrap_or(default_runs).max(1);
    let reps = opts
        .iters
        .unwrap_or_else(|| ((target / est) as usize).clamp(1, 1000))
        .max(1);
    let stamps = Stamps::new(gpu);
    let (mut walls, mut gpus) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let submits = gpu.stats().submits;
        let t = now_seconds();
        for _ in 0..reps {
            f()?;
        }
        let bracket = stamps.as_ref().filter(|_| gpu.stats().submits == submits);
        if let Some(s) = bracket {
            s.stamp(gpu, 0, false);
        }
        gpu.flush()?;
        if let Some(s) = bracket {
            s.stamp(gpu, 1, true);
        }
        gpu.sync_async().await?;
        walls.push((now_seconds() - t) / reps as f64);
        if let Some(s) = bracket {
            gpus.push(s.read(gpu).await? / reps as f64);
        }
    }
    let peak_bytes = gpu.stats().peak_bytes;
    let wall_median = median(&mut walls);
    // A zero reading means the adapter's counter did not advance (some drivers report the
    // feature without a usable clock): fall back to the wall clock rather than report 0 ms.
    let use_gpu = gpus.len() == runs && gpus.iter().all(|&g| g > 0.0 && g.is_finite());
    let (timer, mut v) = if use_gpu {
        (Timer::Gpu, gpus)
    } else {
        (Timer::Wall, walls)
    };
    let med = median(&mut v);
    Ok(Timing {
        timer,
        median: med,
        min: v[0],
        max: v[v.len() - 1],
        wall_median,
        runs,
        reps,
        peak_bytes,
    })
}
