//! Elementwise ops (`ops::elementwise`): GPU vs the f64 reference (`reference::elementwise`),
//! backward and double backward vs finite differences; sizes past one dispatch dimension.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::{elementwise, Arr};

#[test]
fn unary_ops() {
    let g = gpu();
    let mut r = rng(1);
    let x = randn(&mut r, &[3, 5, 7]);
    let pos = uniform(&mut r, &[3, 5, 7], 0.5, 2.0);
    let c = Check::default();
    check_op(
        "affine",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::affine(&v[0], 1.7, -0.3),
        &|a| a[0].map(|x| 1.7 * x - 0.3),
        &c,
    );
    check_op(
        "square",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::square(&v[0]),
        &|a| a[0].map(|x| x * x),
        &c,
    );
    check_op(
        "sqrt",
        &g,
        std::slice::from_ref(&pos),
        &|v| ops::sqrt(&v[0]),
        &|a| a[0].map(f64::sqrt),
        &c,
    );
    check_op(
        "rsqrt",
        &g,
        std::slice::from_ref(&pos),
        &|v| ops::rsqrt(&v[0]),
        &|a| a[0].map(|x| 1.0 / x.sqrt()),
        &c,
    );
    check_op(
        "sigmoid",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::sigmoid(&v[0]),
        &|a| a[0].map(elementwise::sigmoid),
        &c,
    );
    check_op(
        "softplus",
        &g,
        &[x.scale(4.0)],
        &|v| ops::softplus(&v[0]),
        &|a| a[0].map(elementwise::softplus),
        &c,
    );
    check_op(
        "lrelu",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::lrelu(&v[0], 0.2, 2f32.sqrt()),
        &|a| a[0].map(|x| elementwise::lrelu(x, 0.2) * 2f64.sqrt()),
        &c,
    );
}

trait Scale {
    fn scale(&self, s: f64) -> Arr;
}
impl Scale for Arr {
    fn scale(&self, s: f64) -> Arr {
        self.map(|v| v * s)
    }
}

#[test]
fn binary_ops() {
    let g = gpu();
    let mut r = rng(2);
    let a = randn(&mut r, &[2, 3, 5, 5]);
    let b = randn(&mut r, &[2, 3, 5, 5]);
    let c = Check::default();
    let ins = [a.clone(), b.clone()];
    check_op(
        "add",
        &g,
        &ins,
        &|v| ops::add(&v[0], &v[1]),
        &|x| x[0].zip(&x[1], |p, q| p + q),
        &c,
    );
    check_op(
        "sub",
        &g,
        &ins,
        &|v| ops::sub(&v[0], &v[1]),
        &|x| x[0].zip(&x[1], |p, q| p - q),
        &c,
    );
    check_op(
        "lerp",
        &g,
        &ins,
        &|v| ops::lerp(&v[0], &v[1], 0.3),
        &|x| x[0].zip(&x[1], |p, q| p + 0.3 * (q - p)),
        &c,
    );
    check_op(
        "mul",
        &g,
        &ins,
        &|v| ops::mul(&v[0], &v[1]),
        &|x| x[0].zip(&x[1], |p, q| p * q),
        &c,
    );
    check_op(
        "leaky_mask",
        &g,
        &ins,
        &|v| ops::leaky_mask(&v[0], &v[1], 1.0, 0.2),
        &|x| x[0].zip(&x[1], |p, q| q * if p > 0.0 { 1.0 } else { 0.2 }),
        &c,
    );
    // A size that is a multiple of 4 takes the vec4 form of elementwise/binary.wgsl.
    let ins4 = [randn(&mut r, &[2, 3, 2, 6]), randn(&mut r, &[2, 3, 2, 6])];
    check_op(
        "lerp (vec4)",
        &g,
        &ins4,
        &|v| ops::lerp(&v[0], &v[1], 0.3),
        &|x| x[0].zip(&x[1], |p, q| p + 0.3 * (q - p)),
        &c,
    );
    check_op(
        "mul (vec4)",
        &g,
        &ins4,
        &|v| ops::mul(&v[0], &v[1]),
        &|x| x[0].zip(&x[1], |p, q| p * q),
        &c,
    );
    check_op(
        "leaky_mask (vec4)",
        &g,
        &ins4,
        &|v| ops::leaky_mask(&v[0], &v[1], 1.0, 0.2),
        &|x| x[0].zip(&x[1], |p, q| q * if p > 0.0 { 1.0 } else { 0.2 }),
        &c,
    );
    let err = ops::add(&param(&g, &a), &param(&g, &randn(&mut r, &[2, 3, 5, 4])))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("axpby") && err.contains("[2, 3, 5, 4]"),
        "{err}"
    );
}

#[test]
fn large_tensor_uses_2d_grid() {
    // More than 65535 workgroups of 256: exercises the 2-D dispatch grid.
    let g = gpu();
    let n = 65536 * 256 + 1000;
    let x: Vec<f32> = (0..n).map(|i| (i % 1013) as f32).collect();
    let t = stylegan_wgpu::Var::constant(stylegan_wgpu::Tensor::from_slice(&g, &[n], &x).unwrap());
    let y = ops::affine(&t, 2.0, 1.0).unwrap().to_vec().unwrap();
    let bad = (0..n).filter(|&i| y[i] != 2.0 * x[i] + 1.0).count();
    eprintln!("2-D grid: {n} elements, {bad} wrong");
    assert_eq!(bad, 0);
}
