//! Max/average/global pooling and bilinear resizing: GPU vs the f64 reference, backward and
//! double backward vs finite differences; ties in max pooling; shape errors. The ignored
//! `against_pytorch` test compares with PyTorch itself (`benches/pytorch/pool_ops.py`): it needs
//! python3 with torch and numpy (STYLEGAN_PYTHON picks the interpreter) and runs with
//! `cargo test --test pool -- --ignored`.

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
fn resize_bilinear() {
    let g = gpu();
    let mut rn = rng(45);
    let c = Check::default();
    // Up, down, mixed, one axis unchanged, from and to a single pixel, and planes spanning
    // several workgroups.
    for (shape, ho, wo) in [
        ([2usize, 3, 5, 7], 11, 3),
        ([1, 2, 3, 4], 8, 9),
        ([1, 2, 9, 8], 4, 3),
        ([2, 1, 2, 3], 2, 5),
        ([1, 2, 1, 1], 3, 4),
        ([1, 2, 5, 4], 1, 1),
        ([1, 3, 12, 10], 23, 17),
    ] {
        let x = randn(&mut rn, &shape);
        check_op(
            &format!("resize_bilinear {shape:?} -> {ho}x{wo}"),
            &g,
            &[x],
            &|v| ops::resize_bilinear(&v[0], ho, wo),
            &|a| r::resize_bilinear(&a[0], ho, wo),
            &c,
        );
    }
    let x = randn(&mut rn, &[1, 2, 4, 6]);
    check_op(
        "square(resize_bilinear)",
        &g,
        &[x],
        &|v| ops::square(&ops::resize_bilinear(&v[0], 7, 3)?),
        &|a| r::resize_bilinear(&a[0], 7, 3).map(|v| v * v),
        &c,
    );
    // pytorch-fid's sizes, forward only.
    for (h, w) in [(28, 28), (64, 64), (300, 301)] {
        let x = randn(&mut rn, &[1, 1, h, w]);
        let y = ops::resize_bilinear_t(&upload(&g, &x), 299, 299).unwrap();
        let got = Arr::from_f32(y.shape(), &y.to_vec().unwrap());
        assert_close(
            &format!("resize_bilinear {h}x{w} -> 299x299 forward"),
            &got,
            &r::resize_bilinear(&x, 299, 299),
            1e-5,
        );
    }
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
        (
            msg(ops::resize_bilinear(&flat, 3, 3).unwrap_err()),
            "resize_bilinear",
            "[2, 6]",
        ),
        (
            msg(ops::resize_bilinear(&x, 0, 3).unwrap_err()),
            "resize_bilinear",
            "0x3",
        ),
    ] {
        assert!(err.contains(op) && err.contains(what), "{err}");
    }
}

fn python() -> String {
    std::env::var("STYLEGAN_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[test]
#[ignore = "needs python3 with torch; CI runs it: cargo test --test pool -- --ignored"]
fn against_pytorch() {
    use stylegan_wgpu::io::npy::{read_npy, write_npy};
    let g = gpu();
    let mut rn = rng(47);
    let dir = std::env::temp_dir().join(format!("stylegan-pool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    type Op =
        Box<dyn Fn(&stylegan_wgpu::tape::Var) -> stylegan_wgpu::Result<stylegan_wgpu::tape::Var>>;
    // (name, input, op line for the script, our op)
    let mut cases: Vec<(String, Arr, String, Op)> = Vec::new();
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
    for (shape, ho, wo) in [
        ([2usize, 3, 5, 7], 11, 3),
        ([1, 2, 9, 8], 4, 3),
        ([1, 3, 28, 28], 299, 299),
        ([1, 3, 64, 64], 299, 299),
        ([1, 1, 1024, 1024], 299, 299),
        ([1, 1, 300, 200], 299, 451),
    ] {
        cases.push((
            format!("resize_{}x{}_{ho}x{wo}", shape[2], shape[3]),
            randn(&mut rn, &shape),
            format!("resize {ho} {wo}"),
            Box::new(move |x| ops::resize_bilinear(x, ho, wo)),
        ));
    }
    let mut list = String::new();
    let mut ours = Vec::new();
    for (name, x, line, op) in &cases {
        let xv = param(&g, x);
        let y = op(&xv).unwrap();
        let proj = randn(&mut rn, y.shape());
        let dx = stylegan_wgpu::autodiff::grad(
            std::slice::from_ref(&y),
            &[stylegan_wgpu::tape::Var::constant(upload(&g, &proj))],
            std::slice::from_ref(&xv),
            false,
        )
        .unwrap();
        let f32s = |a: &Arr| a.to_f32();
        write_npy(dir.join(format!("{name}.x.npy")), &x.shape, &f32s(x)).unwrap();
        write_npy(dir.join(format!("{name}.r.npy")), &proj.shape, &f32s(&proj)).unwrap();
        list += &format!("{name} {line}\n");
        ours.push((download(&y), download(dx[0].as_ref().unwrap())));
    }
    std::fs::write(dir.join("cases.txt"), list).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch/pool_ops.py");
    let out = std::process::Command::new(python())
        .arg(script)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (needs python3 with torch and numpy)", python()));
    assert!(
        out.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for ((name, ..), (y, dx)) in cases.iter().zip(&ours) {
        let load = |what: &str| {
            let a = read_npy(dir.join(format!("{name}.{what}.npy"))).unwrap();
            Arr::from_f32(&a.shape, &a.data)
        };
        assert_close(&format!("{name} vs torch forward"), y, &load("y"), 2e-6);
        // PyTorch's CPU backward of bilinear resizing recomputes the source coordinate with a
        // fused multiply-add where its forward does not, so its gradient is not exactly the
        // adjoint of its forward: the weights differ by up to one f32 ulp of the coordinate
        // (7.6e-6 at 1024 -> 299, measured with torch 2.15). Ours is the exact adjoint of the
        // forward, which matches PyTorch's forward to rounding.
        let bwd_tol = if name.starts_with("resize") {
            2e-5
        } else {
            2e-6
        };
        assert_close(
            &format!("{name} vs torch backward"),
            dx,
            &load("dx"),
            bwd_tol,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
