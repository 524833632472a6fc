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

#[test]
fn add_n_adds_left_to_right_as_add_does() {
    let g = gpu();
    let mut r = rng(5);
    let c = Check::default();
    // 3x5 (one element per invocation) and 4x6 (vec4); 2, 3 and 4 operands.
    for shape in [[3, 5], [4, 6]] {
        for k in 2..=4 {
            let xs: Vec<Arr> = (0..k).map(|_| randn(&mut r, &shape)).collect();
            check_op(
                &format!("add_n {k} of {shape:?}"),
                &g,
                &xs,
                &|v| ops::add_n(&v.iter().collect::<Vec<_>>()),
                &|a| elementwise::add_n(&a.iter().collect::<Vec<_>>()),
                &c,
            );
            // The same bits as adding one at a time (each sum is rounded once either way).
            let vs: Vec<_> = xs.iter().map(|a| param(&g, a)).collect();
            let fused = ops::add_n(&vs.iter().collect::<Vec<_>>()).unwrap();
            let mut chain = vs[0].clone();
            for v in &vs[1..] {
                chain = ops::add(&chain, v).unwrap();
            }
            assert_eq!(fused.to_vec().unwrap(), chain.to_vec().unwrap());
        }
    }
    let x = param(&g, &randn(&mut r, &[3]));
    let y = param(&g, &randn(&mut r, &[4]));
    let err = ops::add_n(&[&x, &y]).unwrap_err().to_string();
    assert!(err.contains("add_n") && err.contains("[4]"), "{err}");
    assert!(ops::add_n(&[&x]).is_err() && ops::add_n(&[&x; 5]).is_err());
}

#[test]
fn a_backward_that_records_nothing_adds_gradients_four_at_a_time() {
    // x feeds seven ops whose gradients depend on x (so a second differentiation would need
    // their history): recording, six additions one at a time; otherwise two with add_n.
    let g = gpu();
    let mut r = rng(6);
    let xa = randn(&mut r, &[8]);
    let x = param(&g, &xa);
    let ys: Vec<_> = (1..=7)
        .map(|i| ops::scale(&ops::square(&x).unwrap(), i as f32).unwrap())
        .collect();
    let y = ops::add_n(&[&ys[0], &ys[1], &ys[2], &ys[3]]).unwrap();
    let y = ops::add_n(&[&y, &ys[4], &ys[5], &ys[6]]).unwrap();
    let s = ops::sum(&y).unwrap();
    let count = |create_graph: bool| {
        let before = g.stats().dispatches;
        let gx = stylegan_wgpu::autodiff::grad_scalar(&s, std::slice::from_ref(&x), create_graph)
            .unwrap()[0]
            .clone()
            .unwrap();
        let d = g.stats().dispatches - before;
        assert_eq!(gx.requires_grad(), create_graph);
        let want = xa.map(|v| 56.0 * v);
        assert_close("d/dx of sum of i x^2", &download(&gx), &want, 1e-5);
        d
    };
    let (fused, chained) = (count(false), count(true));
    eprintln!("gradient of a var used 7 times: {fused} dispatches with add_n, {chained} chained");
    assert_eq!(chained - fused, 4);
}
