//! The `startup` suite: the wall time of a whole `stylegan generate` of one image in a fresh
//! process, cold (empty shader caches: the driver compiles every kernel) and warm (the caches
//! the cold run left: Mesa's or NVIDIA's on-disk shader cache and our Vulkan pipeline cache,
//! `Gpu::pipeline_cache`). What a user waits for on a first run and on every later one.
//!
//! Each run gets its own empty cache folder through `MESA_SHADER_CACHE_DIR`,
//! `__GL_SHADER_DISK_CACHE_PATH`, `STYLEGAN_PIPELINE_CACHE` and `STYLEGAN_TUNE_DIR` (with
//! tuning on, the cold run measures the kernels of its shapes, as a first run does); the child
//! process uses the parent's adapter and the parent's `STYLEGAN_TUNE`. Quick runs time the embedded model (32²); the full suite also a 256²
//! network with official widths (random weights).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use stylegan_wgpu::error::{Error, Result};
use stylegan_wgpu::gpu::Gpu;
use stylegan_wgpu::{Config, Model};

use super::{BenchOptions, BenchResult, Sink, Timer, Timing};

const SUITE: &str = "startup";

/// One `stylegan generate` of seed 0 with `model` (`None`: the embedded one) and its shader
/// caches in `cache`: wall seconds and the peak tensor memory it printed.
fn generate_once(gpu: &Gpu, model: Option<&Path>, cache: &Path, out: &Path) -> Result<(f64, u64)> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "the running stylegan binary".into(),
        source,
    })?;
    let mut cmd = Command::new(&exe);
    cmd.args(["generate", "--seeds", "0", "--out-npy"]).arg(out);
    if let Some(m) = model {
        cmd.arg("--model").arg(m);
    }
    let info = gpu.info();
    cmd.env(
        "STYLEGAN_BACKEND",
        format!("{:?}", info.backend).to_ascii_lowercase(),
    )
    .env("STYLEGAN_ADAPTER", &info.name)
    .env("MESA_SHADER_CACHE_DIR", cache)
    .env("__GL_SHADER_DISK_CACHE_PATH", cache)
    .env("STYLEGAN_PIPELINE_CACHE", cache)
    .env("STYLEGAN_TUNE_DIR", cache);
    let t = Instant::now();
    let res = cmd.output().map_err(|source| Error::Io {
        path: exe.display().to_string(),
        source,
    })?;
    let secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&res.stderr);
    if !res.status.success() {
        return Err(Error::Invalid(format!(
            "startup: stylegan generate failed: {}",
            stderr.trim()
        )));
    }
    // "1 images in 0.88 s; peak GPU memory in tensors 0.9 MiB"
    let peak = stderr
        .split("peak GPU memory in tensors ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|mib| (mib * (1u64 << 20) as f64) as u64)
        .unwrap_or(0);
    Ok((secs, peak))
}

fn result(name: &str, shape: &str, times: &mut [f64], peak: u64) -> BenchResult {
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let t = Timing {
        timer: Timer::Wall,
        median,
        min: times[0],
        max: times[times.len() - 1],
        wall_median: median,
        runs: times.len(),
        reps: 1,
        peak_bytes: peak,
    };
    let mut r = BenchResult::new(SUITE, name, shape.to_string(), &t);
    r.batch = Some(1);
    r.images_per_s = Some(1.0 / median);
    r.ms_per_image = Some(median * 1e3);
    r
}

pub(crate) fn startup_into(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("stylegan-bench-startup-{}", std::process::id()));
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut cases: Vec<(String, Option<std::path::PathBuf>)> =
        vec![("embedded model 32x32".into(), None)];
    if !opts.quick {
        let path = dir.join("r256.safetensors");
        let mut cfg = Config::preset("ffhq")?;
        cfg.resolution = 256;
        Model::init(&cfg, 1)?.save(&path)?;
        cases.push((super::network_shape(256, 1, false), Some(path)));
    }
    let runs = opts.runs.unwrap_or(if opts.quick { 2 } else { 3 }).max(1);
    let out = dir.join("out.npy");
    for (shape, model) in &cases {
        let (mut cold, mut warm, mut peak) = (Vec::new(), Vec::new(), 0);
        for run in 0..runs {
            let cache = dir.join(format!("cache{run}"));
            std::fs::remove_dir_all(&cache).ok();
            std::fs::create_dir_all(&cache).map_err(io(&cache))?;
            let (c, p) = generate_once(gpu, model.as_deref(), &cache, &out)?;
            let (w, _) = generate_once(gpu, model.as_deref(), &cache, &out)?;
            cold.push(c);
            warm.push(w);
            peak = peak.max(p);
            std::fs::remove_dir_all(&cache).ok();
        }
        sink.push(result("generate 1 image, cold", shape, &mut cold, peak));
        sink.push(result("generate 1 image, warm", shape, &mut warm, peak));
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
