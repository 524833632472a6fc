//! `cargo bench --bench kernels [-- --quick]`: the same suite as `stylegan bench kernels`.

use stylegan_wgpu::bench::{run_kernels, BenchOptions};
use stylegan_wgpu::Gpu;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let gpu = match Gpu::new() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!("adapter: {}", gpu.describe());
    let opts = BenchOptions { quick, iters: None };
    if let Err(e) = run_kernels(&gpu, &opts, &mut |r| println!("{r}")) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
