//! Trains a tiny StyleGAN and measures it through the library's two entry points alone: the
//! training loop (`train::run`, which also measures FID and KID at each snapshot) and the metric
//! runner (`metrics::runner`, here on the last snapshot). The data: 64 grayscale 32x32 discs
//! written as PNGs, measured on the embedded Fashion-MNIST evaluation network, so nothing is
//! downloaded and a CPU adapter finishes in about a minute.
//!
//! `cargo run --release --example train_and_evaluate [kimg]`  (default 0.2 kimg)
use std::rc::Rc;
use std::sync::Arc;

use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::Solo;
use stylegan_wgpu::metrics::networks::NetChoice;
use stylegan_wgpu::metrics::registry::parse_metrics;
use stylegan_wgpu::metrics::runner::{FeatureNets, MetricResult, MetricRunner};
use stylegan_wgpu::progress::{Progress, Silent};
use stylegan_wgpu::train::run::{run, MetricsOptions, Observer, Start, Tick, TrainingOptions};
use stylegan_wgpu::train::TrainConfig;
use stylegan_wgpu::{Config, Gpu, Model};

/// Prints what the loop reports.
struct Print;

impl Progress for Print {
    fn note(&mut self, msg: &str) {
        println!("{msg}");
    }
}

impl Observer for Print {
    fn tick(&mut self, t: &Tick) {
        let [g, d, r1, ..] = t.losses;
        println!("{:.3} kimg: G {g:.3}  D {d:.3}  R1 {r1:.3}", t.kimg);
    }
    fn snapshot(&mut self, path: &std::path::Path) {
        println!("snapshot {}", path.display());
    }
    fn metric(&mut self, r: &MetricResult) {
        println!("  {}", r.line());
    }
}

/// 64 PNGs of a bright disc of varying centre and radius on black.
fn write_discs(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in 0..64u32 {
        let (cx, cy, r) = (8 + i % 16, 8 + (i * 7) % 16, 4 + i % 6);
        let img = image::GrayImage::from_fn(32, 32, |x, y| {
            let d2 = (x as i64 - cx as i64).pow(2) + (y as i64 - cy as i64).pow(2);
            image::Luma([if d2 < (r * r) as i64 { 230 } else { 10 }])
        });
        img.save(dir.join(format!("disc{i:02}.png")))
            .map_err(std::io::Error::other)?;
    }
    Ok(())
}

fn main() -> stylegan_wgpu::Result<()> {
    let kimg: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("kimg: a number"))
        .unwrap_or(0.2);
    let work = std::env::temp_dir().join(format!(
        "stylegan-train-and-evaluate-{}",
        std::process::id()
    ));
    let data_dir = work.join("discs");
    write_discs(&data_dir).map_err(|source| stylegan_wgpu::Error::Io {
        path: data_dir.display().to_string(),
        source,
    })?;
    let gpu = Gpu::new()?;
    println!("training on {}", gpu.describe());
    let data = Arc::new(Dataset::open(&data_dir, &DataOptions::default())?);
    let cfg = Config {
        resolution: 32,
        num_channels: 1,
        ..Config::preset("tiny")?
    };
    let tc = TrainConfig {
        batch: 8,
        g_ema_kimg: 0.5,
        ..TrainConfig::default()
    };
    let opts = TrainingOptions {
        kimg,
        snapshot_kimg: kimg / 2.0,
        metrics: Some(MetricsOptions {
            specs: parse_metrics("fid64,kid64")?,
            net: Some(NetChoice::Fmnist),
            cache_dir: None,
        }),
        ..TrainingOptions::new(work.join("run"), Start::New { cfg, tc })
    };
    let out = run(&opts, data.clone(), &gpu, Rc::new(Solo), &mut Print)?;
    let last = out.snapshot.expect("one process is rank 0");
    println!(
        "trained {:.3} kimg: {}",
        out.nimg as f64 / 1000.0,
        last.display()
    );

    // The last snapshot again, through the metric runner alone (other seeds for the fakes).
    let g = Model::load(&last)?.generator(&gpu)?;
    let nets = FeatureNets::new(NetChoice::Fmnist.load(&gpu)?);
    let runner = MetricRunner::new(
        nets,
        parse_metrics("fid64,kid64")?,
        &data,
        16,
        None,
        &mut Silent,
    )?;
    runner.run(&g, 1, &mut Silent, &mut |r| {
        println!("{}", r.line());
        Ok(())
    })?;
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}
