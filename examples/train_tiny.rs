//! Trains a tiny StyleGAN from scratch with the library's trainer and the official recipe
//! (non-saturating logistic loss, R1 on every D step, Adam, style mixing, Gs as the moving
//! average of G) on a synthetic dataset of 16x16 discs, so it needs no download and runs on a
//! CPU adapter in a minute or two. Writes the model and a grid of its images.
//!
//! `cargo run --release --example train_tiny [steps]`  (default 200 steps of 8 images)
use rand::Rng;
use stylegan_wgpu::io::images::save_grid_png;
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::{Config, Gpu, Model, NoiseMode, Truncation};

const RES: usize = 16;

/// `batch` grayscale images `[batch, 1, RES, RES]` in [-1, 1]: a bright disc of random centre
/// and radius on black.
fn discs(rng: &mut stylegan_wgpu::rng::Seeded, batch: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(batch * RES * RES);
    for _ in 0..batch {
        let (cx, cy) = (rng.random_range(4.0..12.0), rng.random_range(4.0..12.0));
        let r: f32 = rng.random_range(2.0..5.0);
        for y in 0..RES {
            for x in 0..RES {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                out.push(if d < r { 1.0 } else { -1.0 });
            }
        }
    }
    out
}

fn main() -> stylegan_wgpu::Result<()> {
    let steps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("steps: a number"))
        .unwrap_or(200);
    let gpu = Gpu::new()?;
    println!("training on {}", gpu.describe());
    let cfg = Config {
        resolution: RES,
        num_channels: 1,
        latent_size: 32,
        dlatent_size: 32,
        mapping_layers: 2,
        mapping_fmaps: 32,
        fmap_base: 128,
        fmap_max: 32,
        ..Config::default()
    };
    let tc = TrainConfig {
        batch: 8,
        lr: Some(0.002),
        g_ema_kimg: 0.5,
        seed: 1,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&gpu, &cfg, &tc)?;
    let mut rng = stylegan_wgpu::rng::seeded(7);
    for step in 1..=steps {
        let losses = trainer.step(&discs(&mut rng, tc.batch))?;
        if step % 20 == 0 || step == steps {
            // Reading the losses waits for the GPU; in between, steps run back to back.
            let [g, d, r1, d_real, d_fake] = losses.read()?;
            println!("step {step:>4}: G {g:.3}  D {d:.3}  R1 {r1:.3}  D(real) {d_real:+.2}  D(fake) {d_fake:+.2}");
        }
    }
    let model = Model::from_file(trainer.snapshot()?, "train_tiny");
    model.save("train_tiny.safetensors")?;
    let seeds: Vec<u32> = (0..16).collect();
    let images =
        model
            .generator(&gpu)?
            .generate_seeds(&seeds, &Truncation::NONE, NoiseMode::Const)?;
    let data: Vec<Vec<f32>> = images.into_iter().map(|im| im.data).collect();
    save_grid_png("train_tiny.png", &data, 1, RES, RES, 4)?;
    println!("wrote train_tiny.safetensors and train_tiny.png (16 samples of Gs)");
    Ok(())
}
