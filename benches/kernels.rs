//! `cargo bench --bench kernels [-- [--quick] [--suite kernels|generate|train|all] [--json FILE]]`:
//! the same code as `stylegan bench`. The suite can also come from `STYLEGAN_BENCH_SUITE`
//! (default `kernels`); the adapter from `STYLEGAN_BACKEND` / `STYLEGAN_ADAPTER`.

use stylegan_wgpu::bench::{run_suite, BenchOptions, Suite};
use stylegan_wgpu::Gpu;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

fn main() {
    // cargo passes `--bench` (and test filters) too: take only the flags we know.
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    // `cargo test --all-targets` runs this binary without `--bench`: a smoke run with the
    // tiny options (seconds), so CI checks that it works without spending minutes measuring.
    let smoke = !args.iter().any(|a| a == "--bench");
    let quick = smoke || args.iter().any(|a| a == "--quick");
    let suite_name = value("--suite")
        .or_else(|| {
            std::env::var("STYLEGAN_BENCH_SUITE")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "kernels".into());
    let suite = Suite::parse(&suite_name).unwrap_or_else(|e| fail(e));
    let gpu = Gpu::new().unwrap_or_else(|e| fail(e));
    println!("adapter: {}", gpu.describe());
    let opts = if smoke {
        BenchOptions {
            quick: true,
            iters: Some(1),
            runs: Some(1),
            warmup: Some(0),
            tiny: true,
        }
    } else {
        BenchOptions {
            quick,
            ..BenchOptions::default()
        }
    };
    let report =
        run_suite(&gpu, suite, &opts, &mut |r| println!("{r}")).unwrap_or_else(|e| fail(e));
    for s in &report.skipped {
        println!("skipped  {:<18} {:<34} {}", s.name, s.shape, s.reason);
    }
    if let Some(path) = value("--json") {
        let text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| fail(e));
        std::fs::write(&path, text + "\n").unwrap_or_else(|e| fail(format!("writing {path}: {e}")));
        println!("wrote {path}");
    }
}
