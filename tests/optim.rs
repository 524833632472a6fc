//! In-place updates: Adam (TensorFlow's formulation) and lerp_to, vs the formulas on the host.

mod common;
use common::*;
use stylegan_wgpu::train::optim::{adam_lr_t, adam_step, lerp_to, AdamConfig, AdamSlot};
use stylegan_wgpu::Tensor;

#[test]
fn adam_matches_tensorflow_formula() {
    let g = gpu();
    let mut r = rng(9);
    let n = 1031; // not a multiple of the workgroup size
    let p0 = randn(&mut r, &[n]);
    let c = AdamConfig {
        lr: 0.003,
        beta1: 0.0,
        beta2: 0.99,
        eps: 1e-8,
    };
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
            p[i] -= lr_t * m[i] / (v[i].sqrt() + c.eps as f64);
        }
    }
    let got: Vec<f64> = param.to_vec().unwrap().iter().map(|&x| x as f64).collect();
    let (abs, rel) = errors(&got, &p);
    eprintln!("adam after 3 steps: abs {abs:.2e} rel {rel:.2e}");
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
