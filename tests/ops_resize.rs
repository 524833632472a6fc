//! Bilinear resizing (`ops::resize`, `F.interpolate(mode="bilinear", align_corners=False)`):
//! GPU vs the f64 reference (`reference::resize`), backward and double backward vs finite
//! differences, pytorch-fid's sizes; shape errors. The ignored `against_pytorch` test compares
//! with PyTorch itself (`benches/pytorch/pool_ops.py`): it needs python3 with torch and numpy
//! (STYLEGAN_PYTHON picks the interpreter) and runs with
//! `cargo test --test ops_resize -- --ignored`.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::resize as r;
use stylegan_wgpu::reference::Arr;

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

#[test]
#[ignore = "needs python3 with torch; CI runs it: cargo test --test ops_resize -- --ignored"]
fn against_pytorch() {
    let g = gpu();
    let mut rn = rng(48);
    let mut cases: Vec<torch_ops::Case> = Vec::new();
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
    torch_ops::compare_with_pytorch(&g, &mut rn, "resize", &cases);
}
