//! Precision is an explicit argument of every conv, never inferred from the grad mode: under
//! `STYLEGAN_F16=1` (the policy's f16 opt-in) a whole training step (G and D, R1 included)
//! plans every conv in f32, while image generation asks for f16. The planner's refusal to put
//! an f32 conv on the f16 kernel, on an adapter that has one, is `ops::conv::plan`'s unit test.

mod common;
use common::*;

use stylegan_wgpu::gpu::{Policy, Precision};
use stylegan_wgpu::nn::{Config, NoiseMode};
use stylegan_wgpu::tape::{no_grad, Var};
use stylegan_wgpu::train::{TrainConfig, Trainer};

fn small() -> Config {
    // Widths of 16 and 32 so the tiled (and, on adapters with it, the f16) kernel is eligible.
    Config {
        resolution: 8,
        num_channels: 1,
        latent_size: 16,
        dlatent_size: 16,
        mapping_layers: 2,
        mapping_fmaps: 16,
        fmap_base: 64,
        fmap_max: 32,
        ..Config::default()
    }
}

fn conv_tallies(g: &stylegan_wgpu::Gpu) -> Vec<(&'static str, u64)> {
    g.tallies()
        .into_iter()
        // Forward convs only: weight gradients are tallied as "conv wgrad on ..." and always f32.
        .filter(|(k, _)| k.starts_with("conv ") && !k.starts_with("conv wgrad "))
        .collect()
}

#[test]
fn a_training_step_under_stylegan_f16_plans_no_f16_conv() {
    let policy = Policy::from_vars(|k| (k == "STYLEGAN_F16").then(|| "1".to_string()));
    assert!(policy.f16);
    let g = gpu_with(policy);
    assert_eq!(g.inference_precision(), Precision::F16);
    let tc = TrainConfig {
        batch: 4,
        seed: 3,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&g, &small(), &tc).unwrap();
    let reals: Vec<f32> = (0..4 * 64).map(|i| ((i % 13) as f32 / 6.0) - 1.0).collect();
    let losses = t.step(&reals).unwrap().read().unwrap();
    assert!(losses.iter().all(|v| v.is_finite()), "{losses:?}");
    let step = conv_tallies(&g);
    eprintln!("training step: {step:?}");
    let convs: u64 = step.iter().map(|(_, n)| n).sum();
    assert!(convs >= 20, "the step should plan many convs, got {convs}");
    assert!(
        step.iter().all(|(k, _)| k.starts_with("conv f32 ")),
        "a training step planned a conv below f32: {step:?}"
    );

    // Generation through Gs asks for f16 under the same policy: the tallies above would show
    // an f16 request had the step made one.
    let (l, d) = (t.gs.cfg.num_layers(), t.gs.cfg.dlatent_size);
    let w = Var::constant(upload(&g, &randn(&mut rng(5), &[2, l, d])));
    let img = no_grad(|| {
        t.gs.synthesis_at(&w, NoiseMode::Const, 0.0, g.inference_precision())
    })
    .unwrap();
    assert!(img.to_vec().unwrap().iter().all(|v| v.is_finite()));
    let after = conv_tallies(&g);
    eprintln!("after generation: {after:?}");
    let f16: Vec<_> = after
        .iter()
        .filter(|(k, _)| k.starts_with("conv f16 "))
        .collect();
    assert!(
        !f16.is_empty(),
        "generation under STYLEGAN_F16=1 asks for f16"
    );
    if !g.caps().coop_f16() {
        // Without f16 cooperative matrices the f16 requests ran on f32 kernels.
        assert!(f16.iter().all(|(k, _)| !k.ends_with("coop-f16")), "{f16:?}");
    }
}

#[test]
fn without_the_opt_in_inference_is_f32() {
    let g = gpu_with(Policy::default());
    assert_eq!(g.inference_precision(), Precision::F32);
}
