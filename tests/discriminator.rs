//! The discriminator on the GPU vs the f64 reference: scores, and gradients with respect to
//! every variable (directional finite differences of the reference), with fused and unfused
//! downsampling convs.

mod common;
use common::*;
use stylegan_wgpu::autodiff::grad;
use stylegan_wgpu::nn::discriminator::Discriminator;
use stylegan_wgpu::nn::params::{discriminator_specs, init_host};
use stylegan_wgpu::nn::{Config, FusedScale};
use stylegan_wgpu::reference::discriminator::{discriminator as d_ref, RefWeights};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;

fn tiny(fused: FusedScale) -> Config {
    Config {
        resolution: 16,
        num_channels: 3,
        fmap_base: 32,
        fmap_max: 8,
        fused_scale: fused,
        ..Config::preset("tiny").unwrap()
    }
}

fn run(fused: FusedScale) {
    let g = gpu();
    let cfg = tiny(fused);
    let specs = discriminator_specs(&cfg);
    let mut host = init_host(&specs, 5);
    // Biases start at zero; make them matter.
    let mut rg = rng(6);
    for s in &specs {
        if s.name.ends_with("bias") {
            let t = host.get_mut(&s.name).unwrap();
            t.data = randn(&mut rg, &t.shape)
                .data
                .iter()
                .map(|v| 0.2 * *v as f32)
                .collect();
        }
    }
    let refw: RefWeights = host
        .iter()
        .map(|(k, t)| (k.clone(), Arr::from_f32(&t.shape, &t.data)))
        .collect();
    let d = Discriminator::new(&g, &cfg, &host).unwrap();
    let images = randn(&mut rg, &[4, 3, 16, 16]);
    let scores = d.forward(&Var::constant(upload(&g, &images))).unwrap();
    let want = d_ref(&cfg, &refw, &images);
    assert_close(
        &format!("D {fused:?} scores"),
        &download(&scores),
        &want,
        1e-4,
    );

    let proj = randn(&mut rg, &[4, 1]);
    let trainable = d.params.trainable();
    let vars: Vec<Var> = trainable.iter().map(|(_, v)| v.clone()).collect();
    let grads = grad(&[scores], &[Var::constant(upload(&g, &proj))], &vars, false).unwrap();
    // Small steps: a larger one moves some of the thousands of pre-activations across
    // lrelu's kink and the difference quotient stops being a derivative.
    let eps = 1e-6;
    let mut rows = vec![];
    for ((name, _), gk) in trainable.iter().zip(&grads) {
        let shape = refw[name].shape.clone();
        let u = randn(&mut rg, &shape);
        let got = gk.as_ref().map(|v| download(v).dot(&u)).unwrap_or(0.0);
        let f = |t: f64| {
            let mut w = refw.clone();
            let p = w.get_mut(name).unwrap();
            *p = p.zip(&u, |a, b| a + t * b);
            d_ref(&cfg, &w, &images).dot(&proj)
        };
        rows.push((name.clone(), got, (f(eps) - f(-eps)) / (2.0 * eps)));
    }
    let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.2.abs()));
    for (name, got, want) in rows {
        let err = (got - want).abs() / scale;
        eprintln!("D {fused:?} d/d{name:<24} gpu {got:+.6e} fd {want:+.6e} err/max {err:.1e}");
        assert!(err < 1e-4, "D gradient for {name}: {got} vs {want}");
    }
}

#[test]
fn discriminator_unfused_matches_reference() {
    run(FusedScale::Off);
}

#[test]
fn discriminator_fused_matches_reference() {
    run(FusedScale::On);
}

#[test]
fn discriminator_rejects_wrong_image_shape() {
    let g = gpu();
    let cfg = tiny(FusedScale::Auto);
    let d = Discriminator::new(&g, &cfg, &init_host(&discriminator_specs(&cfg), 1)).unwrap();
    let bad = Var::constant(upload(&g, &Arr::zeros(&[4, 3, 8, 8])));
    let e = d.forward(&bad).unwrap_err().to_string();
    assert!(e.contains("[4, 3, 8, 8]") && e.contains("16"), "{e}");
    let mut w = init_host(&discriminator_specs(&cfg), 1);
    w.get_mut("4x4/Conv/weight").unwrap().shape = vec![3, 3, 8, 8];
    let e = Discriminator::new(&g, &cfg, &w).err().unwrap().to_string();
    assert!(e.contains("4x4/Conv/weight"), "{e}");
}
