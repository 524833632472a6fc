//! In-place updates: Adam (TensorFlow's formulation) and lerp_to, vs the formulas on the host.

mod common;
use common::*;
use stylegan_wgpu::autodiff::sum_parts;
use stylegan_wgpu::train::optim::{
    adam_lr_t, adam_range, adam_range_parts, adam_step, lerp_to, lerp_to_split, AdamConfig,
    AdamSlot,
};
use stylegan_wgpu::Tensor;
use stylegan_wgpu::Var;

#[test]
fn adam_matches_tensorflow_formula() {
    let c = AdamConfig {
        lr: 0.003,
        beta1: 0.0,
        beta2: 0.99,
        eps: 1e-8,
        decay: 0.0,
    };
    adam_matches_formula(c, 9);
}

/// AdamW's decoupled decay: `p = (1 - lr * decay) * p - lr_t * m / (sqrt(v) + eps)`, the decay
/// scaled by the plain rate, not the bias-corrected one.
#[test]
fn adamw_decay_shrinks_the_parameter_before_the_step() {
    let c = AdamConfig {
        lr: 0.003,
        decay: 20.0,
        ..AdamConfig::default()
    };
    adam_matches_formula(c, 21);
}

/// Three updates of `c` on the GPU against the formula in f64 on the host.
fn adam_matches_formula(c: AdamConfig, seed: u64) {
    let g = gpu();
    let mut r = rng(seed);
    let n = 1031; // not a multiple of the workgroup size
    let p0 = randn(&mut r, &[n]);
    let param = upload(&g, &p0);
    let slot = AdamSlot::zeros(&param).unwrap();
    let (mut p, mut m, mut v) = (p0.data.clone(), vec![0.0f64; n], vec![0.0f64; n]);
    for t in 1..=3u64 {
        let gr = randn(&mut r, &[n]);
        adam_step(&param, &upload(&g, &gr), &slot, &c, t).unwrap();
        let (b1, b2) = (c.beta1 as f64, c.beta2 as f64);
        let lr_t = c.lr as f64 * (1.0 - b2.powi(t as i32)).sqrt() / (1.0 - b1.powi(t as i32));
        assert!((adam_lr_t(&c, t) as f64 - lr_t).abs() < 1e-9);
        for i in 0..n {
            m[i] = b1 * m[i] + (1.0 - b1) * gr.data[i];
            v[i] = b2 * v[i] + (1.0 - b2) * gr.data[i] * gr.data[i];
            let keep = 1.0 - c.lr as f64 * c.decay as f64;
            p[i] = keep * p[i] - lr_t * m[i] / (v[i].sqrt() + c.eps as f64);
        }
    }
    let got: Vec<f64> = param.to_vec().unwrap().iter().map(|&x| x as f64).collect();
    let (abs, rel) = errors(&got, &p);
    eprintln!(
        "adam (decay {}) after 3 steps: abs {abs:.2e} rel {rel:.2e}",
        c.decay
    );
    assert!(abs < 1e-6);
    let gv: Vec<f64> = slot.v.to_vec().unwrap().iter().map(|&x| x as f64).collect();
    assert!(errors(&gv, &v).1 < 1e-6);
    let e = adam_step(&param, &Tensor::zeros(&g, &[3]).unwrap(), &slot, &c, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("adam_step") && e.contains("[3]"), "{e}");
}

#[test]
fn lerp_to_is_a_moving_average() {
    let g = gpu();
    let mut r = rng(10);
    let a = randn(&mut r, &[2, 3, 7]);
    let b = randn(&mut r, &[2, 3, 7]);
    let dst = upload(&g, &a);
    lerp_to(&dst, &upload(&g, &b), 0.9).unwrap();
    let got: Vec<f64> = dst.to_vec().unwrap().iter().map(|&x| x as f64).collect();
    let want: Vec<f64> = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(d, s)| s + (d - s) * 0.9)
        .collect();
    let (abs, _) = errors(&got, &want);
    eprintln!("lerp_to: abs {abs:.2e}");
    assert!(abs < 1e-6);
}

#[test]
fn adam_over_a_range_updates_only_that_range_as_per_variable_steps_do() {
    let g = gpu();
    let mut r = rng(11);
    let n = 700;
    let c = AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    };
    let p0 = randn(&mut r, &[n]);
    let gr = randn(&mut r, &[n]);
    // One variable at 100..400 of a flat buffer, stepped through the range...
    let flat = upload(&g, &p0);
    let slot = AdamSlot::zeros(&flat).unwrap();
    let grad = upload(&g, &gr);
    adam_range(&flat, &grad, &slot, &c, 1, (100, 400)).unwrap();
    // ...against the same values as a tensor of their own.
    let own = Tensor::from_slice(&g, &[300], &p0.to_f32()[100..400]).unwrap();
    let own_slot = AdamSlot::zeros(&own).unwrap();
    let own_grad = Tensor::from_slice(&g, &[300], &gr.to_f32()[100..400]).unwrap();
    adam_step(&own, &own_grad, &own_slot, &c, 1).unwrap();
    let got = flat.to_vec().unwrap();
    let p0 = p0.to_f32();
    assert_eq!(&got[..100], &p0[..100], "values before the range changed");
    assert_eq!(&got[400..], &p0[400..], "values after the range changed");
    assert_eq!(&got[100..400], &own.to_vec().unwrap()[..]);
    assert_eq!(
        &slot.v.to_vec().unwrap()[100..400],
        &own_slot.v.to_vec().unwrap()[..]
    );
    assert!(slot.m.to_vec().unwrap()[..100].iter().all(|&x| x == 0.0));
    let e = adam_range(&flat, &grad, &slot, &c, 1, (10, n + 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("adam_range"), "{e}");
}

#[test]
fn lerp_to_split_averages_below_the_split_and_copies_above() {
    let g = gpu();
    let mut r = rng(12);
    let (a, b) = (randn(&mut r, &[300]), randn(&mut r, &[300]));
    let dst = upload(&g, &a);
    lerp_to_split(&dst, &upload(&g, &b), 0.9, 257).unwrap();
    let got = dst.to_vec().unwrap();
    let (a, b) = (a.to_f32(), b.to_f32());
    for i in 0..300 {
        let t = if i < 257 { 0.9f32 } else { 0.0 };
        let want = b[i] + (a[i] - b[i]) * t;
        assert_eq!(got[i], want, "value {i}");
    }
    assert!(lerp_to_split(&dst, &upload(&g, &randn(&mut r, &[300])), 0.5, 301).is_err());
}

#[test]
fn adam_adds_gradient_parts_as_autodiff_would() {
    let g = gpu();
    let mut r = rng(13);
    let n = 300;
    let c = AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    };
    let p0 = randn(&mut r, &[n]);
    let parts: Vec<_> = (0..3).map(|_| randn(&mut r, &[n])).collect();
    // Parts one after another, the last one -0 beyond value 200 (a variable with two parts).
    let mut flat: Vec<f32> = parts.iter().flat_map(|p| p.to_f32()).collect();
    for v in &mut flat[2 * n + 200..] {
        *v = -0.0;
    }
    let param = upload(&g, &p0);
    let slot = AdamSlot::zeros(&param).unwrap();
    let grads = Tensor::from_slice(&g, &[3 * n], &flat).unwrap();
    adam_range_parts(&param, &grads, 3, &slot, &c, 1, (0, n)).unwrap();
    // Against Adam on the gradient summed by autodiff's rule, left to right.
    let vars: Vec<Var> = (0..3)
        .map(|k| Var::constant(Tensor::from_slice(&g, &[n], &flat[k * n..(k + 1) * n]).unwrap()))
        .collect();
    let total = sum_parts(vars).unwrap();
    let own = upload(&g, &p0);
    let own_slot = AdamSlot::zeros(&own).unwrap();
    adam_step(&own, total.value(), &own_slot, &c, 1).unwrap();
    assert_eq!(param.to_vec().unwrap(), own.to_vec().unwrap());
    assert_eq!(slot.m.to_vec().unwrap(), own_slot.m.to_vec().unwrap());
    let err = adam_range_parts(&param, &grads, 2, &slot, &c, 1, (0, n)).unwrap_err();
    assert!(err.to_string().contains("2 parts"), "{err}");
}
