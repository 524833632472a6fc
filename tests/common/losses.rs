//! The tiny network, weights and f64 reference losses shared by tests/losses.rs (the library's
//! `evaluate_losses`) and cli/tests/losses.rs (the `losses` and `discriminate` commands).

use super::*;
use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs, init_host};
use stylegan_wgpu::nn::{Config, FusedScale, HostWeights, NoiseMode};
use stylegan_wgpu::reference::discriminator::{discriminator_labels, RefWeights};
use stylegan_wgpu::reference::generator::{RefGenerator, RefNoise};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::train::inspect::{evaluate_losses, LossReport};

pub const N: usize = 4;
pub const GAMMA: f64 = 10.0;

pub fn tiny() -> Config {
    Config {
        resolution: 8,
        num_channels: 1,
        latent_size: 8,
        dlatent_size: 8,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 16,
        fmap_max: 4,
        fused_scale: FusedScale::Off,
        ..Config::default()
    }
}

/// Official init plus random biases, noise strengths and const (zeros / ones at init), so
/// every path matters (see tests/generator.rs: a flat const makes instance norm
/// ill-conditioned).
pub fn g_weights(cfg: &Config, seed: u64) -> HostWeights {
    let mut w = init_host(&generator_specs(cfg), seed);
    let mut r = rng(seed ^ 0xB1A5);
    for (name, t) in w.iter_mut() {
        let std = if name.starts_with("G_mapping/") && name.ends_with("/bias") {
            0.5 / cfg.mapping_lrmul as f64
        } else if name.ends_with("/bias") || name.ends_with("Noise/weight") {
            0.5
        } else if name.ends_with("Const/const") {
            1.0
        } else {
            continue;
        };
        t.data = randn(&mut r, &[t.data.len()])
            .data
            .iter()
            .map(|v| (v * std) as f32)
            .collect();
    }
    w
}

pub fn d_weights(cfg: &Config, seed: u64) -> HostWeights {
    let mut w = init_host(&discriminator_specs(cfg), seed);
    let mut r = rng(seed ^ 0xD15C);
    for (name, t) in w.iter_mut() {
        if name.ends_with("bias") {
            t.data = randn(&mut r, &t.shape)
                .data
                .iter()
                .map(|v| (0.2 * v) as f32)
                .collect();
        }
    }
    w
}

pub fn ref_weights(w: &HostWeights) -> RefWeights {
    w.iter()
        .map(|(k, t)| {
            let shape = if t.shape.is_empty() {
                vec![1]
            } else {
                t.shape.clone()
            };
            (k.clone(), Arr::from_f32(&shape, &t.data))
        })
        .collect()
}

/// The reference D's scores, with one-hot `labels` on a conditional network.
pub fn d_ref(cfg: &Config, w: &RefWeights, x: &Arr, labels: Option<&Arr>) -> Arr {
    discriminator_labels(cfg, w, x, labels, 0.0)
}

/// One-hot rows of `classes`.
pub fn one_hot_ref(classes: &[u32], k: usize) -> Arr {
    let mut a = Arr::zeros(&[classes.len(), k]);
    for (i, &c) in classes.iter().enumerate() {
        a.data[i * k + c as usize] = 1.0;
    }
    a
}

pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `||∂(Σ D(x))/∂x_i||²` per sample by central differences.
pub fn r1_ref(cfg: &Config, w: &RefWeights, x: &Arr, y: Option<&Arr>, eps: f64) -> Vec<f64> {
    let mut xx = x.clone();
    let per = x.numel() / N;
    let mut out = vec![0.0; N];
    for j in 0..x.numel() {
        let v = x.data[j];
        xx.data[j] = v + eps;
        let fp: f64 = d_ref(cfg, w, &xx, y).data.iter().sum();
        xx.data[j] = v - eps;
        let fm: f64 = d_ref(cfg, w, &xx, y).data.iter().sum();
        xx.data[j] = v;
        out[j / per] += ((fp - fm) / (2.0 * eps)).powi(2);
    }
    out
}

pub fn d_loss_ref(cfg: &Config, w: &RefWeights, fakes: &Arr, x: &Arr, y: Option<&Arr>) -> f64 {
    d_ref(cfg, w, fakes, y)
        .data
        .iter()
        .map(|&v| softplus(v))
        .sum::<f64>()
        + d_ref(cfg, w, x, y)
            .data
            .iter()
            .map(|&v| softplus(-v))
            .sum::<f64>()
}

pub fn d_loss_r1_ref(
    cfg: &Config,
    w: &RefWeights,
    fakes: &Arr,
    x: &Arr,
    y: Option<&Arr>,
    gamma: f64,
) -> f64 {
    d_loss_ref(cfg, w, fakes, x, y) + gamma / 2.0 * r1_ref(cfg, w, x, y, 1e-6).iter().sum::<f64>()
}

pub fn g_loss_ref(
    cfg: &Config,
    rg: &RefGenerator,
    dw: &RefWeights,
    z: &Arr,
    y: Option<&Arr>,
) -> f64 {
    let fakes = rg.generate_labels(z, y, 1.0, 0, RefNoise::Const);
    d_ref(cfg, dw, &fakes, y)
        .data
        .iter()
        .map(|&v| softplus(-v))
        .sum()
}

pub fn scalar_check(what: &str, got: f32, want: f64, tol: f64) {
    let rel = (got as f64 - want).abs() / want.abs().max(1e-6);
    eprintln!("{what:<40} gpu {got:+.7e} ref {want:+.7e} rel {rel:.2e}");
    assert!(rel <= tol, "{what}: {got} vs {want}");
}

/// Directional derivatives `(name, gpu, fd)`; asserts each error relative to the largest.
pub fn check_rows(what: &str, rows: &[(String, f64, f64)], tol: f64) {
    let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.2.abs()));
    assert!(scale > 1e-6, "{what}: degenerate test, all derivatives ~0");
    let mut worst = 0.0f64;
    for (name, got, want) in rows {
        let err = (got - want).abs() / scale;
        worst = worst.max(err);
        eprintln!("{what} d/d{name:<40} gpu {got:+.6e} fd {want:+.6e} err/max {err:.2e}");
        assert!(
            err < tol,
            "{what}: gradient wrt {name}: gpu {got} vs finite differences {want}"
        );
    }
    eprintln!("{what}: max err/max {worst:.2e} (tol {tol:.0e})");
}

pub fn grad_of<'a>(
    grads: &'a [(String, stylegan_wgpu::nn::HostTensor)],
    name: &str,
) -> &'a stylegan_wgpu::nn::HostTensor {
    &grads
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no gradient for {name}"))
        .1
}

pub struct Setup {
    pub cfg: Config,
    pub gw: HostWeights,
    pub dw: HostWeights,
    pub z: Arr,
    pub x: Arr,
    /// The class of each image on a conditional network, and their one-hot rows.
    pub classes: Option<Vec<u32>>,
    pub y: Option<Arr>,
}

pub fn setup() -> Setup {
    setup_with(tiny())
}

/// The tiny network with 3 classes; images of classes 2, 0, 1, 2.
pub fn setup_cond() -> Setup {
    setup_with(Config {
        label_size: 3,
        ..tiny()
    })
}

fn setup_with(cfg: Config) -> Setup {
    let mut r = rng(42);
    let z = randn(&mut r, &[N, cfg.latent_size]);
    let x = uniform(&mut r, &[N, 1, 8, 8], -1.0, 1.0);
    let classes = (cfg.label_size > 0).then(|| vec![2, 0, 1, 2]);
    Setup {
        gw: g_weights(&cfg, 3),
        dw: d_weights(&cfg, 4),
        y: classes.as_ref().map(|c| one_hot_ref(c, cfg.label_size)),
        classes,
        cfg,
        z,
        x,
    }
}

pub fn gpu_report(g: &stylegan_wgpu::Gpu, s: &Setup, gamma: f64) -> LossReport {
    evaluate_losses(
        g,
        &s.cfg,
        &s.gw,
        &s.dw,
        &s.z.to_f32(),
        s.classes.as_deref(),
        &s.x.to_f32(),
        NoiseMode::Const,
        gamma as f32,
    )
    .expect("losses")
}
