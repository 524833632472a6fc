//! The executor: one submission per step, buffer reuse across steps, gradient accumulation,
//! gradients of gradients, and errors.

mod common;
use common::*;
use stylegan_wgpu::autodiff::{grad, grad_scalar};
use stylegan_wgpu::tape::Var;
use stylegan_wgpu::{ops, Tensor};

fn step(g: &stylegan_wgpu::Gpu, x: &Var, w: &Var) -> (Var, Var) {
    let y = ops::sum(&ops::softplus(&ops::mul(x, w).unwrap()).unwrap()).unwrap();
    let gw = grad_scalar(&y, std::slice::from_ref(w), false).unwrap()[0]
        .clone()
        .unwrap();
    let _ = g;
    (y, gw)
}

#[test]
fn a_step_is_one_submission_and_reuses_buffers() {
    let g = gpu();
    let n = 1000;
    let xs: Vec<f32> = (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect();
    let ws: Vec<f32> = (0..n)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
        .collect();
    let x = Var::constant(Tensor::from_slice(&g, &[n], &xs).unwrap());
    let w = Var::param(Tensor::from_slice(&g, &[n], &ws).unwrap());
    g.flush().unwrap();
    let s0 = g.stats();
    let (y, gw) = step(&g, &x, &w);
    let s1 = g.stats();
    assert_eq!(s1.submits, s0.submits, "recording a step must not submit");
    assert!(
        s1.dispatches - s0.dispatches >= 4,
        "forward and backward recorded"
    );
    let gv = gw.to_vec().unwrap();
    let s2 = g.stats();
    assert_eq!(
        s2.submits,
        s1.submits + 1,
        "forward + backward + read-back: one submission"
    );
    // d/dw sum softplus(x*w) = x * sigmoid(x*w)
    let want: Vec<f64> = xs
        .iter()
        .zip(&ws)
        .map(|(&a, &b)| a as f64 / (1.0 + (-(a as f64) * b as f64).exp()))
        .collect();
    let (abs, rel) = errors(&gv.iter().map(|&v| v as f64).collect::<Vec<_>>(), &want);
    eprintln!("softplus grad: abs {abs:.2e} rel {rel:.2e}");
    assert!(rel < 1e-6);
    drop((y, gw));
    let live_after_first = g.stats().live_bytes;
    let alloc_after_first = g.stats().allocated_bytes;
    assert_eq!(
        live_after_first, s0.live_bytes,
        "every intermediate returned to the pool"
    );
    for _ in 0..3 {
        let (y, gw) = step(&g, &x, &w);
        gw.to_vec().unwrap();
        drop((y, gw));
    }
    let s3 = g.stats();
    eprintln!(
        "pool: {} bytes allocated, {} live, peak {}",
        s3.allocated_bytes, s3.live_bytes, s3.peak_bytes
    );
    assert_eq!(
        s3.allocated_bytes, alloc_after_first,
        "later steps allocate nothing new"
    );
    assert_eq!(s3.live_bytes, s0.live_bytes);
}

#[test]
fn gradients_accumulate_over_shared_uses() {
    let g = gpu();
    let xs = [0.5f32, -1.5, 2.0, 3.25, -0.75];
    let x = Var::param(Tensor::from_slice(&g, &[5], &xs).unwrap());
    // y = sum(x*x + 3x) -> dy/dx = 2x + 3
    let y = ops::sum(&ops::axpby(&ops::mul(&x, &x).unwrap(), &x, 1.0, 3.0).unwrap()).unwrap();
    let gx = grad_scalar(&y, &[x], false).unwrap()[0]
        .clone()
        .unwrap()
        .to_vec()
        .unwrap();
    for (gv, xv) in gx.iter().zip(xs) {
        assert!(
            (gv - (2.0 * xv + 3.0)).abs() < 1e-6,
            "{gv} vs {}",
            2.0 * xv + 3.0
        );
    }
}

#[test]
fn gradient_of_a_gradient_norm() {
    // f(x) = sum softplus(a*x); df/dx = a*s(ax); F = sum (df/dx)^2;
    // dF/dx = 2 a^3 s(ax)^2 (1 - s(ax)).
    let g = gpu();
    let a = 1.7f64;
    let xs: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) / 9.0).collect();
    let x = Var::param(Tensor::from_slice(&g, &[37], &xs).unwrap());
    let f = ops::sum(&ops::softplus(&ops::scale(&x, a as f32).unwrap()).unwrap()).unwrap();
    let gx = grad_scalar(&f, std::slice::from_ref(&x), true).unwrap()[0]
        .clone()
        .unwrap();
    assert!(gx.requires_grad(), "create_graph keeps history");
    let big_f = ops::sum(&ops::square(&gx).unwrap()).unwrap();
    let h = grad_scalar(&big_f, &[x], false).unwrap()[0]
        .clone()
        .unwrap()
        .to_vec()
        .unwrap();
    let want: Vec<f64> = xs
        .iter()
        .map(|&v| {
            let s = 1.0 / (1.0 + (-a * v as f64).exp());
            2.0 * a.powi(3) * s * s * (1.0 - s)
        })
        .collect();
    let (abs, rel) = errors(&h.iter().map(|&v| v as f64).collect::<Vec<_>>(), &want);
    eprintln!("grad of grad norm: abs {abs:.2e} rel {rel:.2e}");
    assert!(rel < 1e-5);
}

#[test]
fn no_history_without_create_graph_or_in_no_grad() {
    let g = gpu();
    let x = Var::param(Tensor::from_slice(&g, &[3], &[1.0, 2.0, 3.0]).unwrap());
    let y = ops::sum(&ops::square(&x).unwrap()).unwrap();
    let gx = grad_scalar(&y, std::slice::from_ref(&x), false).unwrap()[0]
        .clone()
        .unwrap();
    assert!(!gx.requires_grad());
    let z = stylegan_wgpu::no_grad(|| ops::square(&x).unwrap());
    assert!(!z.requires_grad());
    assert_eq!(z.to_vec().unwrap(), vec![1.0, 4.0, 9.0]);
}

#[test]
fn bad_gradient_shapes_are_errors() {
    let g = gpu();
    let x = Var::param(Tensor::from_slice(&g, &[3], &[1.0, 2.0, 3.0]).unwrap());
    let y = ops::square(&x).unwrap();
    let wrong = Var::constant(Tensor::from_slice(&g, &[2], &[1.0, 1.0]).unwrap());
    let e = grad(&[y], &[wrong], &[x], false).unwrap_err().to_string();
    assert!(e.contains("[3]") && e.contains("[2]"), "{e}");
    let e = Tensor::from_slice(&g, &[2, 2], &[1.0])
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2, 2]"), "{e}");
}
