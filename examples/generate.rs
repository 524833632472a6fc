//! Images from seeds with the model embedded in the crate (or a model file given as the first
//! argument: an official .pkl or our .safetensors). `cargo run --release --example generate`
use stylegan_wgpu::{Gpu, Model, NoiseMode, Truncation};

fn main() -> stylegan_wgpu::Result<()> {
    let gpu = Gpu::new()?;
    let model = match std::env::args().nth(1) {
        Some(path) => Model::load(path)?,
        None => Model::embedded()?,
    };
    let g = model.generator(&gpu)?; // Gs: the moving average of G
    let images = g.generate_seeds(&[0, 1, 42], &Truncation::psi(0.7), NoiseMode::Const)?;
    for (seed, image) in [0, 1, 42].iter().zip(&images) {
        image.save_png(format!("seed{seed:04}.png"))?;
    }
    println!(
        "wrote seed0000.png, seed0001.png, seed0042.png ({})",
        model.name()
    );
    Ok(())
}
