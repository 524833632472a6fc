//! The official losses and their gradients through the library's autodiff: the non-saturating
//! G loss, D's logistic loss with the R1 penalty (a gradient of a gradient), and the gradients
//! every training step takes. On a model file with G and D (an official .pkl, a training
//! snapshot) given as the first argument, else on a freshly initialized model with the embedded
//! model's architecture (which ships only Gs).
//!
//! `cargo run --release --example losses [MODEL]`
use stylegan_wgpu::autodiff::grad_scalar;
use stylegan_wgpu::train::loss::{d_loss, g_loss};
use stylegan_wgpu::{ops, Gpu, Model, NoiseMode, Tensor, Var};

fn main() -> stylegan_wgpu::Result<()> {
    let gpu = Gpu::new()?;
    let model = match std::env::args().nth(1) {
        Some(path) => Model::load(path)?,
        None => Model::init(Model::embedded()?.config(), 0)?,
    };
    println!("{}", model.name());
    let (g, d) = (
        model.generator_named(&gpu, "G")?,
        model.discriminator(&gpu)?,
    );
    let n = 4; // a multiple of the minibatch-stddev group size
    let z: Vec<f32> = (0..n as u32).flat_map(|s| g.seed_latent(s)).collect();
    let z = Var::constant(Tensor::from_slice(&gpu, &[n, g.cfg.latent_size], &z)?);

    // G's images, with history: the G loss differentiates back into G's weights.
    let fakes = g.generate(&z, 1.0, 0, NoiseMode::Const)?;
    let (scores, per_sample) = g_loss(&d, &fakes)?;
    let loss = ops::mean(&per_sample)?;
    let params = g.params.trainable();
    let vars: Vec<Var> = params.iter().map(|(_, v)| v.clone()).collect();
    let grads = grad_scalar(&loss, &vars, false)?;
    println!("D(G(z)) = {:?}", scores.to_vec()?);
    println!(
        "G loss (mean softplus(-D(G(z)))) = {:.5}",
        loss.to_vec()?[0]
    );
    for ((name, _), gr) in params.iter().zip(&grads).take(4) {
        let gr = gr
            .as_ref()
            .map(|v| v.to_vec())
            .transpose()?
            .unwrap_or_default();
        let norm = gr.iter().map(|v| v * v).sum::<f32>().sqrt();
        println!("  |dL/d {name}| = {norm:.4e}");
    }

    // D loss on stand-in reals (the crate ships no dataset: Gs images of other seeds). R1
    // needs D's gradient with respect to the reals, so they are a gradient leaf.
    let reals_z: Vec<f32> = (100..100 + n as u32)
        .flat_map(|s| g.seed_latent(s))
        .collect();
    let gs = model.generator(&gpu)?;
    let reals =
        gs.generate_latents(&reals_z, &stylegan_wgpu::Truncation::NONE, NoiseMode::Const)?;
    let pixels: Vec<f32> = reals.into_iter().flat_map(|im| im.data).collect();
    let (c, r) = (g.cfg.num_channels, g.cfg.resolution);
    let reals = Var::param(Tensor::from_slice(&gpu, &[n, c, r, r], &pixels)?);
    let dl = d_loss(&d, &reals, &fakes.detach(), 10.0)?;
    println!("D(x) = {:?}", dl.d_real.to_vec()?);
    println!("R1 = ||dD(x)/dx||^2 per image = {:?}", dl.r1.to_vec()?);
    let d_total = ops::mean(&dl.total)?;
    let d_params: Vec<Var> = d.params.trainable().into_iter().map(|(_, v)| v).collect();
    let d_grads = grad_scalar(&d_total, &d_params, false)?;
    let flat: Vec<f32> = d_grads
        .iter()
        .flatten()
        .map(|v| v.to_vec())
        .collect::<stylegan_wgpu::Result<Vec<_>>>()?
        .concat();
    println!(
        "D loss with R1 (gamma 10) = {:.5}; |dL/dD| over {} weights = {:.4e}",
        d_total.to_vec()?[0],
        flat.len(),
        flat.iter().map(|v| v * v).sum::<f32>().sqrt()
    );
    Ok(())
}
