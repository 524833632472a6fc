//! `evaluate_losses` (what `stylegan losses` writes) on a tiny network vs the f64 references:
//! scores, the summed losses, the per-sample R1 penalty (central differences of the reference
//! D with respect to its input), G gradients along random directions (finite differences of
//! the reference g_loss) and D gradients of d_loss_r1 along random directions (nested finite
//! differences: the reference R1 is itself a finite difference). The `losses` and
//! `discriminate` commands are checked against the same setup in cli/tests/losses.rs.

mod common;

use common::losses::*;
use common::*;
use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs};
use stylegan_wgpu::nn::NoiseMode;
use stylegan_wgpu::reference::generator::{RefGenerator, RefNoise};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::train::inspect::{evaluate_losses, mbstd_batches};

#[test]
fn losses_match_reference() {
    check_losses(&setup(), &[]);
}

/// The class-conditional network (`label_size` 3): the label embedding in the mapping, D's
/// per-class outputs and `LabelSwitch`, the losses with the minibatch's labels, R1, and every
/// gradient, the embedding's included.
#[test]
fn conditional_losses_match_reference() {
    let s = setup_cond();
    let names: Vec<String> = s.gw.keys().cloned().collect();
    assert!(names.contains(&"G_mapping/LabelConcat/weight".to_string()));
    assert_eq!(
        s.gw["G_mapping/Dense0/weight"].shape[0],
        2 * s.cfg.latent_size
    );
    assert_eq!(s.dw["4x4/Dense1/weight"].shape[1], 3);
    check_losses(&s, &["G_mapping/LabelConcat/weight"]);
}

fn check_losses(s: &Setup, extra_g: &[&str]) {
    let g = gpu();
    let cfg = &s.cfg;
    let y = s.y.as_ref();
    let rep = gpu_report(&g, s, GAMMA);
    let rg = RefGenerator::new(cfg, &s.gw);
    let dw = ref_weights(&s.dw);
    let fakes = rg.generate_labels(&s.z, y, 1.0, 0, RefNoise::Const);

    let d_real = d_ref(cfg, &dw, &s.x, y);
    let d_fake = d_ref(cfg, &dw, &fakes, y);
    assert_close(
        "d_real",
        &Arr::from_f32(&[N, 1], &rep.d_real),
        &d_real,
        1e-4,
    );
    assert_close(
        "d_fake",
        &Arr::from_f32(&[N, 1], &rep.d_fake),
        &d_fake,
        1e-4,
    );
    scalar_check(
        "g_loss",
        rep.g_loss,
        g_loss_ref(cfg, &rg, &dw, &s.z, y),
        1e-4,
    );
    let dl = d_loss_ref(cfg, &dw, &fakes, &s.x, y);
    scalar_check("d_loss", rep.d_loss, dl, 1e-4);
    let r1 = r1_ref(cfg, &dw, &s.x, y, 1e-6);
    assert_close(
        "r1_penalty",
        &Arr::from_f32(&[N], &rep.r1_penalty),
        &Arr::new(&[N], r1.clone()),
        1e-4,
    );
    scalar_check(
        "d_loss_r1",
        rep.d_loss_r1,
        dl + GAMMA / 2.0 * r1.iter().sum::<f64>(),
        1e-4,
    );

    // Every trainable variable has a gradient of its own shape.
    for (specs, grads, net) in [
        (generator_specs(cfg), &rep.g_grads, "G"),
        (discriminator_specs(cfg), &rep.d_grads, "D"),
    ] {
        let want: Vec<_> = specs
            .iter()
            .filter(|s| s.trainable)
            .map(|s| (s.name.clone(), s.shape.clone()))
            .collect();
        let got: Vec<_> = grads
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone()))
            .collect();
        assert_eq!(got, want, "{net} gradient names/shapes");
    }

    // g_loss wrt a few G variables along random directions.
    let mut r = rng(77);
    let names = [
        "G_mapping/Dense0/weight",
        "G_mapping/Dense1/bias",
        "G_synthesis/4x4/Const/const",
        "G_synthesis/4x4/Conv/StyleMod/weight",
        "G_synthesis/8x8/Conv0_up/weight",
        "G_synthesis/8x8/Conv1/Noise/weight",
        "G_synthesis/ToRGB_lod0/bias",
    ];
    let mut rows = vec![];
    for &name in names.iter().chain(extra_g) {
        let gt = grad_of(&rep.g_grads, name);
        let u = randn(&mut r, &gt.shape);
        let got = Arr::from_f32(&gt.shape, &gt.data).dot(&u);
        // Steps relative to the variable's scale (mapping variables are O(1/lrmul)).
        let eps = 1e-6 * rg.get(name).data.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let f = |t: f64| {
            let mut p = rg.clone();
            let w = p.weights.get_mut(name).unwrap();
            *w = w.zip(&u, |a, b| a + t * b);
            g_loss_ref(cfg, &p, &dw, &s.z, y)
        };
        rows.push((name.to_string(), got, (f(eps) - f(-eps)) / (2.0 * eps)));
    }
    check_rows("g_loss", &rows, 1e-3);

    // d_loss_r1 wrt every D variable along random directions, fakes fixed; nested differences
    // (outer 1e-5, inner 1e-6) because lrelu's kinks spoil larger steps. With gamma = 10 the
    // R1 term of this network is ~0.5% of the loss, so a large gamma makes the gradient of the
    // gradient dominate what is checked.
    let big = 1000.0;
    let rep_big = gpu_report(&g, s, big);
    scalar_check(
        "d_loss_r1 (gamma 1000)",
        rep_big.d_loss_r1,
        d_loss_r1_ref(cfg, &dw, &fakes, &s.x, y, big),
        1e-4,
    );
    let eps = 1e-5;
    let mut rows = vec![];
    for (name, gt) in &rep_big.d_grads {
        let u = randn(&mut r, &gt.shape);
        let got = Arr::from_f32(&gt.shape, &gt.data).dot(&u);
        let f = |t: f64| {
            let mut w = dw.clone();
            let p = w.get_mut(name).unwrap();
            *p = p.zip(&u, |a, b| a + t * b);
            d_loss_r1_ref(cfg, &w, &fakes, &s.x, y, big)
        };
        rows.push((name.clone(), got, (f(eps) - f(-eps)) / (2.0 * eps)));
    }
    check_rows("d_loss_r1 (gamma 1000)", &rows, 1e-3);
}

#[test]
fn batching_respects_minibatch_stddev() {
    let cfg = tiny();
    assert_eq!(mbstd_batches(&cfg, 11, 8).unwrap(), vec![8, 3]);
    assert_eq!(mbstd_batches(&cfg, 14, 4).unwrap(), vec![4, 4, 4, 2]);
    assert_eq!(mbstd_batches(&cfg, 7, 16).unwrap(), vec![4, 3]);
    assert_eq!(mbstd_batches(&cfg, 2, 3).unwrap(), vec![2]);
    let e = mbstd_batches(&cfg, 12, 6).unwrap_err().to_string();
    assert!(
        e.contains("batch size 6") && e.contains("groups of 4"),
        "{e}"
    );
    let g = gpu();
    let s = setup();
    let e = evaluate_losses(
        &g,
        &s.cfg,
        &s.gw,
        &s.dw,
        &[0.5; 6 * 8],
        None,
        &[0.0; 6 * 64],
        NoiseMode::Const,
        10.0,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("6 samples") && e.contains("groups of 4"), "{e}");
}
