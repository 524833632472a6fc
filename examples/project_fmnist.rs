//! Projects real Fashion-MNIST test images into the embedded model's W space and asks whether
//! the projections keep their class: the mean PSNR, the evaluation network's accuracy on the
//! targets and on their projections, and a grid (targets over projections).
//!
//!     cargo run --release --example project_fmnist -- [N] [STEPS] [GRID] [DATA_DIR] [--w-plus]
//!
//! Defaults: the first 16 test images, 1000 steps, assets/projection-fmnist.png,
//! /usr/share/datasets/fashion-mnist (Debian: dataset-fashion-mnist). Images come through the
//! training loader (28x28 padded to 32x32, as the model was trained); the loss is the pixel
//! error plus 10 x the evaluation network's feature distance (no VGG16 weights here).

use std::path::PathBuf;

use stylegan_wgpu::data::{read_idx_labels, DataOptions, Dataset};
use stylegan_wgpu::io::images::save_grid;
use stylegan_wgpu::io::tensors::fmnist_classifier;
use stylegan_wgpu::projector::{psnr_u8, w_stats, Distance, Projector, ProjectorConfig};
use stylegan_wgpu::{Gpu, Model};

use stylegan_wgpu::eval::classifier::FMNIST_CLASSES as CLASSES;

fn argmax(p: &[f32]) -> usize {
    (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b })
}

fn main() -> stylegan_wgpu::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let w_plus = args.iter().any(|a| a == "--w-plus");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let n: usize = pos.first().map_or(16, |v| v.parse().expect("N"));
    let steps: usize = pos.get(1).map_or(1000, |v| v.parse().expect("STEPS"));
    let grid = PathBuf::from(pos.get(2).map_or("assets/projection-fmnist.png", |v| v));
    let data = PathBuf::from(
        pos.get(3)
            .map_or("/usr/share/datasets/fashion-mnist", |v| v.as_str()),
    );

    let gpu = Gpu::new()?;
    let g = Model::embedded()?.generator(&gpu)?;
    let cl = fmnist_classifier(&gpu)?;
    let ds = Dataset::open(
        &data.join("t10k-images-idx3-ubyte.gz"),
        &DataOptions {
            resolution: Some(32),
            ..DataOptions::default()
        },
    )?;
    let labels = read_idx_labels(&data.join("t10k-labels-idx1-ubyte.gz"))?;
    eprintln!("{} on {}", ds.info().source, gpu.describe());
    let stats = w_stats(&g, 10_000)?;

    let (mut targets, mut projs) = (Vec::new(), Vec::new());
    let (mut psnr_sum, mut right_t, mut right_p, mut agree) = (0.0, 0, 0, 0);
    let mut secs = 0.0;
    println!("| # | class | PSNR (dB) | classifier on target | on projection |");
    println!("|---|---|---|---|---|");
    for (i, &label) in labels.iter().enumerate().take(n) {
        let target: Vec<f32> = ds
            .image(i)?
            .iter()
            .map(|&v| v as f32 / 127.5 - 1.0)
            .collect();
        let cfg = ProjectorConfig {
            steps,
            w_plus,
            ..ProjectorConfig::default()
        };
        let distance = Distance::PixelFeatures {
            classifier: Some(&cl),
            feature_weight: 10.0,
        };
        let mut p = Projector::new(&g, &target, distance, stats.clone(), cfg)?;
        let t0 = std::time::Instant::now();
        while !p.done() {
            p.step(false)?;
        }
        let proj = p.image()?;
        secs += t0.elapsed().as_secs_f64();
        let psnr = psnr_u8(&proj, &target);
        let probs = cl.probabilities(&[target.clone(), proj.clone()].concat(), 2, 1, 32, 32)?;
        let (pt, pp) = (argmax(&probs[..10]), argmax(&probs[10..]));
        let label = label as usize;
        psnr_sum += psnr;
        right_t += (pt == label) as usize;
        right_p += (pp == label) as usize;
        agree += (pt == pp) as usize;
        println!(
            "| {i} | {} | {psnr:.2} | {} | {} |",
            CLASSES[label], CLASSES[pt], CLASSES[pp]
        );
        targets.push(target);
        projs.push(proj);
    }
    println!(
        "\n{n} test images, {steps} steps{}: mean PSNR {:.2} dB; classifier accuracy on the \
         targets {right_t}/{n}, on the projections {right_p}/{n}; same class {agree}/{n}; \
         {:.1} steps/s",
        if w_plus { " (W+)" } else { "" },
        psnr_sum / n as f64,
        (n * steps) as f64 / secs
    );
    let all: Vec<Vec<f32>> = targets.into_iter().chain(projs).collect();
    save_grid(&grid, &all, 1, 32, 32, n)?;
    println!("wrote {} (targets over projections)", grid.display());
    Ok(())
}
