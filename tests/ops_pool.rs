//! Max, average and global pooling (`ops::pool`): GPU vs the f64 reference (`reference::pool`),
//! backward and double backward vs finite differences; ties in max pooling; shape errors. The
//! ignored `against_pytorch` test compares with PyTorch itself (`benches/pytorch/pool_ops.py`):
//! it needs python3 with torch and numpy (STYLEGAN_PYTHON picks the interpreter) and runs with
//! `cargo test --test ops_pool -- --ignored`.

mod common;
use common::*;
use rand::seq::SliceRandom;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::pool as r;
use stylegan_wgpu::reference::Arr;

/// Distinct values at least 0.02 apart in random order, so no finite difference (steps of
/// 1e-4, and 1e-3 along a direction for the second order) changes any window's argmax.
fn distinct(rn: &mut stylegan_wgpu::rng::Seeded, shape: &[usize]) -> Arr {
    let n: usize = shape.iter().product();
    let mut v: Vec<f64> = (0..n).map(|i| 0.02 * i as f64 - 0.01 * n as f64).collect();
    v.shuffle(rn);
    Arr::new(shape, v)
}

#[test]
fn max_pool() {
    let g = gpu();
    let mut rn = rng(41);
    let c = Check::default();
    // (shape, k, stride, pad): Inception's (3,2,0) and (3,1,1), VGG's (2,2,0), odd sizes,
    // planes spanning several workgroups (5*13*11 = 715 inputs), a window as large as the input.
    for (shape, k, s, p) in [
        ([2usize, 3, 7, 9], 3, 2, 0),
        ([2, 3, 7, 9], 3, 1, 1),
        ([1, 2, 8, 10], 2, 2, 0),
        ([1, 5, 13, 11], 3, 2, 1),
        ([1, 2, 5, 6], 5, 3, 2),
        ([2, 2, 4, 4], 4, 1, 0),
    ] {
        let x = distinct(&mut rn, &shape);
        check_op(
            &format!("max_pool2d {shape:?} k{k} s{s} p{p}"),
            &g,
            &[x],
            &|v| ops::max_pool2d(&v[0], k, s, p),
            &|a| r::max_pool2d(&a[0], k, s, p),
            &c,
        );
    }
    // A nonlinear chain, so the second-order check goes through the backward's backward.
    let x = distinct(&mut rn, &[2, 3, 7, 9]);
    check_op(
        "square(max_pool2d)",
        &g,
        &[x],
        &|v| ops::square(&ops::max_pool2d(&v[0], 3, 2, 1)?),
        &|a| r::max_pool2d(&a[0], 3, 2, 1).map(|v| v * v),
        &c,
    );
}

#[test]
fn max_pool_ties() {
    // Values from {-1, 0, 1} and a constant plane: ties everywhere; the gradient goes to the
    // first pixel of each window in row-major order, as in PyTorch.
    let g = gpu();
    let mut rn = rng(42);
    let mut x = randn(&mut rn, &[2, 3, 9, 8]).map(|v| v.round().clamp(-1.0, 1.0));
    for v in &mut x.data[..72] {
        *v = 0.5;
    }
    for (k, s, p) in [(3, 2, 0), (3, 1, 1), (2, 2, 0), (3, 2, 1)] {
        let xv = param(&g, &x);
        let y = ops::max_pool2d(&xv, k, s, p).unwrap();
        assert_close(
            &format!("max_pool2d ties k{k} s{s} p{p} forward"),
            &download(&y),
            &r::max_pool2d(&x, k, s, p),
            0.0,
        );
        let gy = randn(&mut rn, y.shape());
        let dx = stylegan_wgpu::autodiff::grad(
            std::slice::from_ref(&y),
            &[stylegan_wgpu::tape::Var::constant(upload(&g, &gy))],
            std::slice::from_ref(&xv),
            false,
        )
        .unwrap();
        let want = r::max_pool2d_backward(&x, &gy, k, s, p);
        assert_close(
            &format!("max_pool2d ties k{k} s{s} p{p} backward"),
            &download(dx[0].as_ref().unwrap()),
            &want,
            1e-6,
        );
    }
}

#[test]
fn avg_pool() {
    let g = gpu();
    let mut rn = rng(43);
    let c = Check::default();
    for (shape, k, s, p) in [
        ([2usize, 3, 7, 9], 3, 1, 1),
        ([2, 3, 7, 9], 3, 2, 0),
        ([1, 2, 8, 10], 2, 2, 0),
        ([1, 5, 13, 11], 3, 2, 1),
        ([1, 2, 5, 6], 5, 3, 2),
    ] {
        for include in [false, true] {
            let x = randn(&mut rn, &shape);
            check_op(
                &format!("avg_pool2d {shape:?} k{k} s{s} p{p} incl {include}"),
                &g,
                &[x],
                &|v| ops::avg_pool2d(&v[0], k, s, p, include),
                &|a| r::avg_pool2d(&a[0], k, s, p, include),
                &c,
            );
        }
    }
    for include in [false, true] {
        let x = randn(&mut rn, &[2, 3, 6, 7]);
        check_op(
            &format!("square(avg_pool2d) incl {include}"),
            &g,
            &[x],
            &|v| ops::square(&ops::avg_pool2d(&v[0], 3, 1, 1, include)?),
            &|a| r::avg_pool2d(&a[0], 3, 1, 1, include).map(|v| v * v),
            &c,
        );
    }
}

#[test]
fn global_avg_pool() {
    let g = gpu();
    let mut rn = rng(44);
    let c = Check::default();
    for shape in [[2usize, 3, 5, 7], [1, 300, 1, 1], [3, 2, 17, 19]] {
        let x = randn(&mut rn, &shape);
        check_op(
            &format!("global_avg_pool2d {shape:?}"),
            &g,
            &[x],
            &|v| ops::global_avg_pool2d(&v[0]),
            &|a| r::global_avg_pool2d(&a[0]),
            &c,
        );
    }
    let x = randn(&mut rn, &[2, 3, 4, 5]);
    check_op(
        "square(global_avg_pool2d)",
        &g,
        &[x],
        &|v| ops::square(&ops::global_avg_pool2d(&v[0])?),
        &|a| r::global_avg_pool2d(&a[0]).map(|v| v * v),
        &c,
    );
}

#[test]
fn shape_errors() {
    let g = gpu();
    let mut rn = rng(46);
    let x = param(&g, &randn(&mut rn, &[1, 2, 5, 6]));
    let flat = param(&g, &randn(&mut rn, &[2, 6]));
    let msg = |e: stylegan_wgpu::Error| e.to_string();
    for (err, op, what) in [
        (
            msg(ops::max_pool2d(&flat, 2, 2, 0).unwrap_err()),
            "max_pool2d",
            "[2, 6]",
        ),
        (
            msg(ops::max_pool2d(&x, 3, 1, 2).unwrap_err()),
            "max_pool2d",
            "pad=2",
        ),
        (
            msg(ops::max_pool2d(&x, 7, 1, 0).unwrap_err()),
            "max_pool2d",
            "[1, 2, 5, 6]",
        ),
        (
            msg(ops::max_pool2d(&x, 3, 0, 0).unwrap_err()),
            "max_pool2d",
            "stride=0",
        ),
        (
            msg(ops::avg_pool2d(&x, 0, 1, 0, true).unwrap_err()),
            "avg_pool2d",
            "k=0",
        ),
        (
            msg(ops::avg_pool2d(&flat, 2, 2, 0, false).unwrap_err()),
            "avg_pool2d",
            "[2, 6]",
        ),
        (
            msg(ops::global_avg_pool2d(&flat).unwrap_err()),
            "global_avg_pool2d",
            "[2, 6]",
        ),
    ] {
        assert!(err.contains(op) && err.contains(what), "{err}");
    }
}

#[test]
#[ignore = "needs python3 with torch; CI runs it: cargo test --test ops_pool -- --ignored"]
fn against_pytorch() {
    let g = gpu();
    let mut rn = rng(47);
    let mut cases: Vec<torch_ops::Case> = Vec::new();
    // Ties (values rounded to halves) check PyTorch's argmax rule in the backward.
    let ties = randn(&mut rn, &[2, 3, 9, 11]).map(|v| (2.0 * v).round() / 2.0);
    for (k, s, p) in [(3, 2, 0), (3, 1, 1), (2, 2, 0), (3, 2, 1)] {
        cases.push((
            format!("max_pool_k{k}s{s}p{p}"),
            ties.clone(),
            format!("max_pool {k} {s} {p}"),
            Box::new(move |x| ops::max_pool2d(x, k, s, p)),
        ));
        for include in [false, true] {
            cases.push((
                format!("avg_pool_k{k}s{s}p{p}i{}", include as u8),
                randn(&mut rn, &[2, 3, 9, 11]),
                format!("avg_pool {k} {s} {p} {}", include as u8),
                Box::new(move |x| ops::avg_pool2d(x, k, s, p, include)),
            ));
        }
    }
    cases.push((
        "global_avg_pool".into(),
        randn(&mut rn, &[2, 5, 8, 8]),
        "global_avg_pool".into(),
        Box::new(ops::global_avg_pool2d),
    ));
    torch_ops::compare_with_pytorch(&g, &mut rn, "pool", &cases);
}
