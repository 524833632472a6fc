//! `stylegan bench <suite>`: argument parsing; the measuring lives in the binary's `bench`
//! module.

use crate::commands::flags;
use anyhow::Context;
use clap::{Args, ValueEnum};

use std::rc::Rc;

use super::common::{load_model_or_default, model_name, GpuArgs};
use crate::bench::tune::{run_tune, TuneTarget};
use crate::bench::{run_allreduce, run_suite, BenchOptions, BenchReport, Suite as BenchSuite};
use stylegan_wgpu::dist::{Collective, Solo};
use stylegan_wgpu::gpu::{AdapterChoice, Gpu, Policy, Tune};
use stylegan_wgpu::nn::Config;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Suite {
    /// conv3x3 at the 1024² network's shapes (fast and generic), fused up/down-convs, dense
    /// matmul (GFLOP/s), AdaIN and epilogue (GB/s).
    Kernels,
    /// Generator images/s at 256² and 1024², batch 1, 8, 16 (quick: 64², batch 1 and 2).
    Generate,
    /// Milliseconds per full training step at 64² and 256², batch 16 (quick: 32², batch 4, tiny widths).
    Train,
    /// Wall time of a one-image `stylegan generate` in a fresh process with cold and with warm
    /// shader caches (embedded model; full: also 256² official widths).
    Startup,
    /// Images/s of the FID Inception network on 256² RGB images (resize to 299² included),
    /// batch 1 and 16 (quick: batch 2), random weights.
    Inception,
    /// Every suite above.
    All,
    /// Data-parallel training under `mpirun -np N` (a `--features mpi` build): per step at
    /// 256² and 1024² (official widths, 1 image per rank), the step time, the time in the
    /// gradient all-reduce and the bytes each rank sends (quick: 32², tiny widths).
    Allreduce,
    /// Measures every conv kernel that takes each forward and backward conv shape of G and D
    /// (one training step and one generator pass at --batch, for --model or --preset; default:
    /// the embedded model), writes the tuning table the next runs use, and prints it (shape,
    /// chosen kernel, ms of each candidate). Not part of `all`.
    Tune,
}

impl From<Suite> for BenchSuite {
    fn from(s: Suite) -> Self {
        match s {
            Suite::Kernels => BenchSuite::Kernels,
            Suite::Generate => BenchSuite::Generate,
            Suite::Train => BenchSuite::Train,
            Suite::Startup => BenchSuite::Startup,
            Suite::Inception => BenchSuite::Inception,
            Suite::All => BenchSuite::All,
            Suite::Allreduce => BenchSuite::Allreduce,
            Suite::Tune => BenchSuite::Tune,
        }
    }
}

/// Benchmarks (GFLOP/s, GB/s, images/s) on the chosen adapter.
///
/// Median time of several runs with min/max, peak tensor memory, GPU timestamps where the
/// adapter has them (else the wall clock).
///
/// Example: stylegan bench all --quick --json bench.json
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct BenchArgs {
    /// Which benchmark suite to run.
    #[arg(value_enum)]
    pub suite: Suite,
    /// Also write the results as JSON to this file (layout: benches/README.md).
    #[arg(long, value_parser = flags::out_json, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Fewer, smaller cases and shorter timed runs (CI, CPU adapters).
    #[arg(long)]
    pub quick: bool,
    /// Calls recorded per timed run (default: adaptive, about 0.3 s per run).
    #[arg(long, value_parser = flags::positive_count, value_name = "N")]
    pub iters: Option<usize>,
    /// Timed runs per case (default 5, quick 3, smoke 1); the median is reported.
    #[arg(long, value_parser = flags::positive_count, value_name = "N")]
    pub runs: Option<usize>,
    /// A seconds-long check that every case of the suite runs and reports: the smallest
    /// shapes and tiny widths, one call per run, no warm-up. The figures mean nothing.
    #[arg(long)]
    pub smoke: bool,
    /// Backend: vulkan, metal, dx12 or gl (default: STYLEGAN_BACKEND, else the best available).
    #[arg(long)]
    pub backend: Option<String>,
    /// Adapter index from `stylegan devices` or a name substring (default: STYLEGAN_ADAPTER).
    #[arg(long)]
    pub adapter: Option<String>,
    /// tune: the model whose shapes are tuned (.safetensors or official .pkl; default: the
    /// embedded model).
    #[arg(
        long,
        visible_alias = "network",
        value_name = "FILE",
        conflicts_with = "preset"
    )]
    pub model: Option<std::path::PathBuf>,
    /// tune: a preset configuration (ffhq or tiny) instead of a model's.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// tune: the resolution, instead of the model's or the preset's.
    #[arg(long, value_parser = flags::resolution, value_name = "PX")]
    pub resolution: Option<usize>,
    /// tune: the minibatch of the training step and the generator pass.
    #[arg(long, value_parser = flags::batch, value_name = "N", default_value_t = 16)]
    pub batch: usize,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    // Only the allreduce suite joins an MPI job; every rank measures, rank 0 reports.
    let (comm, local): (Rc<dyn Collective>, usize) = if matches!(args.suite, Suite::Allreduce) {
        super::world::world()?
    } else {
        (Rc::new(Solo), 0)
    };
    let gpu = if comm.size() > 1 {
        GpuArgs {
            backend: args.backend.clone(),
            adapter: args.adapter.clone(),
        }
        .open_for_rank(local)?
    } else {
        let choice = AdapterChoice::from_env().or(args.backend.clone(), args.adapter.clone());
        let mut policy = Policy::from_env();
        if matches!(args.suite, Suite::Tune) {
            // The point of the suite: measure every shape again, whatever the table holds.
            policy.tune = Tune::Force;
        }
        Gpu::with_policy(&choice, policy)?
    };
    if comm.size() > 1 {
        super::world::say_atomic(&format!(
            "rank {} of {}: adapter {}",
            comm.rank(),
            comm.size(),
            gpu.describe()
        ));
    }
    if comm.rank() != 0 {
        let opts = options(args);
        if let Err(e) = run_allreduce(&gpu, &comm, &opts, &mut |_| {}) {
            eprintln!("error on rank {} of {}: {e}", comm.rank(), comm.size());
            comm.abort(1);
        }
        return Ok(());
    }
    println!("adapter: {}", gpu.describe());
    println!(
        "timer: {}",
        if gpu.has_timestamps() {
            "GPU timestamps (wall clock for self-submitting cases)"
        } else {
            "wall clock"
        }
    );
    let opts = options(args);
    let report = if matches!(args.suite, Suite::Tune) {
        tune(&gpu, args, &opts)?
    } else if matches!(args.suite, Suite::Allreduce) {
        match run_allreduce(&gpu, &comm, &opts, &mut |r| println!("{r}")) {
            Ok(r) => r,
            Err(e) if comm.size() > 1 => {
                eprintln!("error on rank 0 of {}: {e}", comm.size());
                comm.abort(1)
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        run_suite(&gpu, args.suite.into(), &opts, &mut |r| println!("{r}"))?
    };
    for s in &report.skipped {
        println!("skipped  {:<18} {:<34} {}", s.name, s.shape, s.reason);
    }
    if let Some(r) = gpu.profile_report() {
        // STYLEGAN_PROFILE=1: each dispatch ran alone, so the timings above are not comparable.
        eprintln!("{r}");
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        stylegan_wgpu::io::atomic::write_atomic(path, (text + "\n").as_bytes())
            .context("--json")?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The `tune` suite: the configuration from the flags, the library's pass, its table printed.
fn tune(gpu: &Gpu, args: &BenchArgs, opts: &BenchOptions) -> anyhow::Result<BenchReport> {
    let (mut config, name) = match &args.preset {
        Some(p) => (Config::preset(p)?, format!("preset {p}")),
        None => (
            load_model_or_default(args.model.as_deref())?
                .config()
                .clone(),
            model_name(args.model.as_deref()),
        ),
    };
    if let Some(r) = args.resolution {
        config.resolution = r;
    }
    let target = TuneTarget {
        config,
        batch: args.batch,
        name,
    };
    println!(
        "tuning {} at {}x{}, batch {}",
        target.name, target.config.resolution, target.config.resolution, target.batch
    );
    let (report, summary) = run_tune(gpu, &target, opts, &mut |_| {})?;
    print!("{}", summary.table());
    Ok(report)
}

fn options(args: &BenchArgs) -> BenchOptions {
    if args.smoke {
        BenchOptions {
            quick: true,
            tiny: true,
            iters: Some(args.iters.unwrap_or(1)),
            runs: Some(args.runs.unwrap_or(1)),
            warmup: Some(0),
        }
    } else {
        BenchOptions {
            quick: args.quick,
            iters: args.iters,
            runs: args.runs,
            ..BenchOptions::default()
        }
    }
}
