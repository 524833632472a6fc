//! Elementwise ops, broadcast and reductions: GPU vs reference, backward and double backward
//! vs finite differences.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::{basic, lrelu, Arr};

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
        &|a| a[0].map(basic::sigmoid),
        &c,
    );
    check_op(
        "softplus",
        &g,
        &[x.scale(4.0)],
        &|v| ops::softplus(&v[0]),
        &|a| a[0].map(basic::softplus),
        &c,
    );
    check_op(
        "lrelu",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::lrelu(&v[0], 0.2, 2f32.sqrt()),
        &|a| a[0].map(|x| lrelu(x, 0.2) * 2f64.sqrt()),
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
    // A size that is a multiple of 4 takes the vec4 kernel (elementwise/binary4.wgsl).
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
fn broadcast_and_reductions() {
    let g = gpu();
    let mut r = rng(3);
    let c = Check::default();
    let x = randn(&mut r, &[1, 3, 1, 5]);
    check_op(
        "broadcast_to",
        &g,
        &[x],
        &|v| ops::broadcast_to(&v[0], &[4, 3, 2, 5]),
        &|a| basic::broadcast_to(&a[0], &[4, 3, 2, 5]),
        &c,
    );
    // A last dim that is a multiple of 4 takes the vec4 kernel (reduce/broadcast4.wgsl): splat along
    // it (per-plane statistics), or copy it with vec4 loads while other dims broadcast.
    for (from, to) in [
        ([2usize, 3, 1, 1], [2usize, 3, 5, 8]),
        ([1, 3, 1, 8], [4, 3, 2, 8]),
        ([2, 1, 3, 4], [2, 5, 3, 4]),
        ([1, 1, 1, 1], [3, 1, 1, 12]),
    ] {
        let x = randn(&mut r, &from);
        check_op(
            &format!("broadcast_to {from:?} -> {to:?} (vec4)"),
            &g,
            &[x],
            &|v| ops::broadcast_to(&v[0], &to),
            &|a| basic::broadcast_to(&a[0], &to),
            &c,
        );
    }
    let big = randn(&mut r, &[3, 5, 7, 9]);
    for target in [
        [1, 5, 1, 1],
        [3, 1, 7, 9],
        [3, 5, 1, 1],
        [1, 1, 1, 1],
        [1, 5, 7, 1],
        [3, 5, 7, 9],
    ] {
        check_op(
            &format!("sum_to {target:?}"),
            &g,
            std::slice::from_ref(&big),
            &|v| ops::sum_to(&v[0], &target, 0.5),
            &|a| basic::sum_to(&a[0], &target, 0.5),
            &c,
        );
    }
    // Many short rows: the one-invocation-per-row path.
    let many = randn(&mut r, &[300, 7, 5]);
    check_op(
        "sum_to many rows",
        &g,
        &[many],
        &|v| ops::sum_to(&v[0], &[300, 1, 1], 2.0),
        &|a| basic::sum_to(&a[0], &[300, 1, 1], 2.0),
        &Check {
            second_order: false,
            ..Check::default()
        },
    );
    // Long rows (more than one workgroup's worth per row) and odd sizes.
    // Positive values: a sum with heavy cancellation would measure f32 rounding, not the kernel.
    let long = uniform(&mut r, &[3, 1000], 0.5, 1.5);
    // Linear, so its second derivative is zero (checked on the small shapes above); with 3000
    // inputs the nested finite differences are pure rounding noise.
    let first_order = Check {
        second_order: false,
        ..Check::default()
    };
    check_op(
        "sum (long rows)",
        &g,
        std::slice::from_ref(&long),
        &|v| ops::sum(&v[0]),
        &|a| Arr::new(&[1], vec![a[0].data.iter().sum()]),
        &first_order,
    );
    check_op(
        "mean",
        &g,
        std::slice::from_ref(&long),
        &|v| ops::mean(&v[0]),
        &|a| Arr::new(&[1], vec![a[0].data.iter().sum::<f64>() / 3000.0]),
        &c,
    );
    check_op(
        "sum_sq_per_sample",
        &g,
        std::slice::from_ref(&big),
        &|v| ops::sum_sq_per_sample(&v[0]),
        &|a| basic::sum_sq_per_sample(&a[0]),
        &c,
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
