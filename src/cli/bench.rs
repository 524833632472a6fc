//! `stylegan bench <suite>`: argument parsing; the measuring lives in `crate::bench`.

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::bench::{run_kernels, BenchOptions};
use crate::gpu::{AdapterChoice, Gpu};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Suite {
    /// conv3x3 (fast and generic), dense matmul (GFLOP/s), AdaIN and epilogue (GB/s).
    Kernels,
}

/// Benchmarks on the chosen adapter.
///
/// Example: stylegan bench kernels --json bench.json
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which benchmark suite to run.
    #[arg(value_enum)]
    pub suite: Suite,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Fewer and shorter timed runs.
    #[arg(long)]
    pub quick: bool,
    /// Calls recorded per timed step (default: adaptive, about 0.3 s per step).
    #[arg(long, value_name = "N")]
    pub iters: Option<usize>,
    /// Backend: vulkan, metal, dx12 or gl (default: STYLEGAN_BACKEND, else the best available).
    #[arg(long)]
    pub backend: Option<String>,
    /// Adapter index from `stylegan devices` or a name substring (default: STYLEGAN_ADAPTER).
    #[arg(long)]
    pub adapter: Option<String>,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let choice = AdapterChoice::from_env().or(args.backend.clone(), args.adapter.clone());
    let gpu = Gpu::with_choice(&choice)?;
    println!("adapter: {}", gpu.describe());
    let opts = BenchOptions {
        quick: args.quick,
        iters: args.iters,
    };
    let report = match args.suite {
        Suite::Kernels => run_kernels(&gpu, &opts, &mut |r| println!("{r}"))?,
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
