//! `cargo bench --bench kernels [-- [--quick] [--suite kernels|generate|train|all] [--json FILE]]`
//! runs `stylegan bench` (the benchmark code is the binary's own). The suite can also come from
//! `STYLEGAN_BENCH_SUITE` (default `kernels`); the adapter from `STYLEGAN_BACKEND` /
//! `STYLEGAN_ADAPTER`. `cargo test --all-targets` runs this file without `--bench`: then it is a
//! seconds-long smoke run (`stylegan bench --smoke`), so CI checks that the suite works without
//! spending minutes measuring.

use std::process::{exit, Command};

fn main() {
    // cargo passes `--bench` (and test filters) too: take only the flags we know.
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let smoke = !args.iter().any(|a| a == "--bench");
    let suite = value("--suite")
        .or_else(|| {
            std::env::var("STYLEGAN_BENCH_SUITE")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "kernels".into());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stylegan"));
    cmd.args(["bench", suite.trim()]);
    if smoke {
        cmd.arg("--smoke");
    } else if args.iter().any(|a| a == "--quick") {
        cmd.arg("--quick");
    }
    if let Some(path) = value("--json") {
        cmd.args(["--json", &path]);
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => exit(s.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("error: running {}: {e}", env!("CARGO_BIN_EXE_stylegan"));
            exit(1);
        }
    }
}
