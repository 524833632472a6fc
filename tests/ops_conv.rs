//! Convolutions (`ops::conv`), their weight gradients and the weight transforms: GPU vs the f64
//! reference (`reference::conv`), backward and double backward vs finite differences; the
//! identities the fused resampling convs rely on (on the reference and on the GPU); shape
//! errors.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::Precision::F32;
use stylegan_wgpu::reference::conv as rc;

const ALPHA: f32 = 0.7;
const A64: f64 = ALPHA as f64;

#[test]
fn conv2d_forward_backward() {
    let g = gpu();
    let mut r = rng(11);
    let c = Check::default();
    for k in [1usize, 3] {
        let x = randn(&mut r, &[2, 3, 5, 6]);
        let w = randn(&mut r, &[k, k, 3, 5]);
        check_op(
            &format!("conv2d k={k}"),
            &g,
            &[x, w],
            &|v| ops::conv2d(&v[0], &v[1], ALPHA, F32),
            &|a| rc::conv2d(&a[0], &a[1], A64),
            &c,
        );
    }
    // Width 6: the generic weight-gradient kernel; 8 and 4 (multiples of 4): the blocked 3x3
    // kernel, with two vec4s per row and one (both halos padding).
    for (k, hw) in [(1usize, [5, 6]), (3, [5, 6]), (3, [5, 8]), (3, [3, 4])] {
        let x = randn(&mut r, &[2, 3, hw[0], hw[1]]);
        let dy = randn(&mut r, &[2, 5, hw[0], hw[1]]);
        check_op(
            &format!("conv2d_wgrad k={k} {}x{}", hw[0], hw[1]),
            &g,
            &[x, dy],
            &|v| ops::conv2d_wgrad(&v[0], &v[1], k, ALPHA),
            &|a| rc::conv2d_wgrad(&a[0], &a[1], k, A64),
            &c,
        );
    }
}

#[test]
fn stride2_forward_backward() {
    let g = gpu();
    let mut r = rng(12);
    let c = Check::default();
    let x = randn(&mut r, &[2, 3, 6, 4]);
    let k4 = randn(&mut r, &[4, 4, 3, 5]);
    check_op(
        "conv_down2",
        &g,
        &[x.clone(), k4.clone()],
        &|v| ops::conv_down2(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv_down2(&a[0], &a[1], A64),
        &c,
    );
    // Odd input sizes are fine for the up conv.
    let xs = randn(&mut r, &[2, 3, 3, 2]);
    check_op(
        "conv_up2",
        &g,
        &[xs.clone(), k4.clone()],
        &|v| ops::conv_up2(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv_up2(&a[0], &a[1], A64),
        &c,
    );
    let dy_down = randn(&mut r, &[2, 5, 3, 2]);
    check_op(
        "conv_down2_wgrad",
        &g,
        &[x.clone(), dy_down],
        &|v| ops::conv_down2_wgrad(&v[0], &v[1], ALPHA),
        &|a| rc::conv_down2_wgrad(&a[0], &a[1], A64),
        &c,
    );
    let dy_up = randn(&mut r, &[2, 5, 6, 4]);
    check_op(
        "conv_up2_wgrad",
        &g,
        &[xs.clone(), dy_up.clone()],
        &|v| ops::conv_up2_wgrad(&v[0], &v[1], ALPHA),
        &|a| rc::conv_up2_wgrad(&a[0], &a[1], A64),
        &c,
    );
    // wgrad_up(x, dy) == swap_io(wgrad_down(dy, x)), on the reference (both written from
    // their own definitions).
    let direct = rc::conv_up2_wgrad(&xs, &dy_up, A64);
    let swapped = rc::flip_swap(&rc::conv_down2_wgrad(&dy_up, &xs, A64), false, true);
    assert_close("ref wgrad_up == swap(wgrad_down)", &swapped, &direct, 1e-12);
    // conv_up2(., k4) is the adjoint of conv_down2(., swap(k4)): <up(a,k), b> == <a, down(b, swap k)>.
    let bb = randn(&mut r, &[2, 5, 6, 4]);
    let lhs = rc::conv_up2(&xs, &k4, A64).dot(&bb);
    let rhs = xs.dot(&rc::conv_down2(&bb, &rc::flip_swap(&k4, false, true), A64));
    eprintln!("ref up/down adjoint: {lhs:.9e} vs {rhs:.9e}");
    assert!((lhs - rhs).abs() <= 1e-9 * lhs.abs().max(1.0));
}

#[test]
fn weight_transforms() {
    let g = gpu();
    let mut r = rng(13);
    let c = Check::default();
    let w = randn(&mut r, &[3, 2, 3, 5]);
    for (flip, swap) in [(false, false), (true, false), (false, true), (true, true)] {
        check_op(
            &format!("flip_swap {flip} {swap}"),
            &g,
            std::slice::from_ref(&w),
            &|v| ops::flip_swap(&v[0], flip, swap),
            &|a| rc::flip_swap(&a[0], flip, swap),
            &c,
        );
    }
    let w3 = randn(&mut r, &[3, 3, 3, 5]);
    let k4 = randn(&mut r, &[4, 4, 3, 5]);
    check_op(
        "fuse_kernel",
        &g,
        std::slice::from_ref(&w3),
        &|v| ops::fuse_kernel(&v[0]),
        &|a| rc::fuse_kernel(&a[0]),
        &c,
    );
    check_op(
        "fuse_kernel_adjoint",
        &g,
        std::slice::from_ref(&k4),
        &|v| ops::fuse_kernel_adjoint(&v[0]),
        &|a| rc::fuse_kernel_adjoint(&a[0]),
        &c,
    );
    let lhs = rc::fuse_kernel(&w3).dot(&k4);
    let rhs = w3.dot(&rc::fuse_kernel_adjoint(&k4));
    eprintln!("ref fuse adjoint: {lhs:.9e} vs {rhs:.9e}");
    assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0));
}

#[test]
fn fused_resampling_convs() {
    let g = gpu();
    let mut r = rng(14);
    let c = Check::default();
    let x = randn(&mut r, &[2, 3, 3, 2]);
    let w3 = randn(&mut r, &[3, 3, 3, 5]);
    check_op(
        "conv_up2_fused",
        &g,
        &[x.clone(), w3.clone()],
        &|v| ops::conv_up2_fused(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv_up2_fused(&a[0], &a[1], A64),
        &c,
    );
    let xd = randn(&mut r, &[2, 3, 6, 4]);
    check_op(
        "conv_down2_fused",
        &g,
        &[xd.clone(), w3.clone()],
        &|v| ops::conv_down2_fused(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv_down2_fused(&a[0], &a[1], A64),
        &c,
    );
}

/// (a) fused up == nearest x2 then same conv3x3 with the kernel rotated 180 degrees;
/// (b) fused down == same conv3x3 then 2x2 box average. On the reference and on the GPU.
#[test]
fn fused_equivalences() {
    let g = gpu();
    let mut r = rng(15);
    let x = randn(&mut r, &[2, 3, 5, 4]);
    let w3 = randn(&mut r, &[3, 3, 3, 5]);
    let up = rc::upsample_nearest2(&x);
    let rot = rc::flip_swap(&w3, true, false);

    let want_a = rc::conv2d(&up, &rot, A64);
    assert_close(
        "ref: up_fused == conv3x3(rot180, nearest x2)",
        &rc::conv_up2_fused(&x, &w3, A64),
        &want_a,
        1e-12,
    );
    let gpu_fused =
        download(&ops::conv_up2_fused(&param(&g, &x), &param(&g, &w3), ALPHA, F32).unwrap());
    let gpu_unfused =
        download(&ops::conv2d(&param(&g, &up), &param(&g, &rot), ALPHA, F32).unwrap());
    assert_close(
        "gpu: up_fused == conv3x3(rot180, nearest x2)",
        &gpu_fused,
        &gpu_unfused,
        1e-5,
    );
    assert_close("gpu: up_fused vs ref", &gpu_fused, &want_a, 1e-5);

    let xd = randn(&mut r, &[2, 3, 6, 8]);
    let want_b = rc::downsample_box2(&rc::conv2d(&xd, &w3, A64));
    assert_close(
        "ref: down_fused == box2(conv3x3)",
        &rc::conv_down2_fused(&xd, &w3, A64),
        &want_b,
        1e-12,
    );
    let gpu_fused =
        download(&ops::conv_down2_fused(&param(&g, &xd), &param(&g, &w3), ALPHA, F32).unwrap());
    let conv = download(&ops::conv2d(&param(&g, &xd), &param(&g, &w3), ALPHA, F32).unwrap());
    assert_close(
        "gpu: down_fused == box2(conv3x3)",
        &gpu_fused,
        &rc::downsample_box2(&conv),
        1e-5,
    );
    assert_close("gpu: down_fused vs ref", &gpu_fused, &want_b, 1e-5);
}

/// Forward values and weight gradients with more invocations than one workgroup, odd sizes
/// and channel counts that are not multiples of 4.
#[test]
fn larger_shapes_forward() {
    let g = gpu();
    let mut r = rng(16);
    let (n, ci, co) = (2, 7, 6);
    let x = randn(&mut r, &[n, ci, 9, 11]);
    for k in [1usize, 3, 5] {
        let w = randn(&mut r, &[k, k, ci, co]);
        let y = download(&ops::conv2d(&param(&g, &x), &param(&g, &w), ALPHA, F32).unwrap());
        assert_close(
            &format!("conv2d k={k} 9x11"),
            &y,
            &rc::conv2d(&x, &w, A64),
            1e-5,
        );
        let dy = randn(&mut r, &[n, co, 9, 11]);
        let dw = download(&ops::conv2d_wgrad(&param(&g, &x), &param(&g, &dy), k, ALPHA).unwrap());
        assert_close(
            &format!("conv2d_wgrad k={k} 9x11"),
            &dw,
            &rc::conv2d_wgrad(&x, &dy, k, A64),
            1e-5,
        );
    }
    // A width that is a multiple of 4: the vec4 3x3 weight-gradient kernel, several rows.
    let x12 = randn(&mut r, &[n, ci, 7, 12]);
    let dy = randn(&mut r, &[n, co, 7, 12]);
    let dw = download(&ops::conv2d_wgrad(&param(&g, &x12), &param(&g, &dy), 3, ALPHA).unwrap());
    assert_close(
        "conv2d_wgrad k=3 7x12",
        &dw,
        &rc::conv2d_wgrad(&x12, &dy, 3, A64),
        1e-5,
    );
    let xe = randn(&mut r, &[n, ci, 10, 14]);
    let k4 = randn(&mut r, &[4, 4, ci, co]);
    let y = download(&ops::conv_down2(&param(&g, &xe), &param(&g, &k4), ALPHA, F32).unwrap());
    assert_close("conv_down2 10x14", &y, &rc::conv_down2(&xe, &k4, A64), 1e-5);
    let y = download(&ops::conv_up2(&param(&g, &x), &param(&g, &k4), ALPHA, F32).unwrap());
    assert_close("conv_up2 9x11", &y, &rc::conv_up2(&x, &k4, A64), 1e-5);
    let dy = randn(&mut r, &[n, co, 5, 7]);
    let dk = download(&ops::conv_down2_wgrad(&param(&g, &xe), &param(&g, &dy), ALPHA).unwrap());
    assert_close(
        "conv_down2_wgrad 10x14",
        &dk,
        &rc::conv_down2_wgrad(&xe, &dy, A64),
        1e-5,
    );
    let dy = randn(&mut r, &[n, co, 18, 22]);
    let dk = download(&ops::conv_up2_wgrad(&param(&g, &x), &param(&g, &dy), ALPHA).unwrap());
    assert_close(
        "conv_up2_wgrad 9x11",
        &dk,
        &rc::conv_up2_wgrad(&x, &dy, A64),
        1e-5,
    );
    // A 1x1 image with a 3x3 kernel: every tap but the centre is padding.
    let x1 = randn(&mut r, &[3, ci, 1, 1]);
    let w = randn(&mut r, &[3, 3, ci, co]);
    let y = download(&ops::conv2d(&param(&g, &x1), &param(&g, &w), ALPHA, F32).unwrap());
    assert_close("conv2d 1x1 image", &y, &rc::conv2d(&x1, &w, A64), 1e-5);
    let dy = randn(&mut r, &[3, co, 1, 1]);
    let dw = download(&ops::conv2d_wgrad(&param(&g, &x1), &param(&g, &dy), 3, ALPHA).unwrap());
    assert_close(
        "conv2d_wgrad 1x1 image",
        &dw,
        &rc::conv2d_wgrad(&x1, &dy, 3, A64),
        1e-5,
    );
}

#[test]
fn shape_errors() {
    let g = gpu();
    let mut r = rng(17);
    let x = param(&g, &randn(&mut r, &[2, 3, 6, 6]));
    let w = param(&g, &randn(&mut r, &[3, 3, 4, 5]));
    let err = ops::conv2d(&x, &w, 1.0, F32).unwrap_err().to_string();
    eprintln!("{err}");
    assert!(
        err.contains("conv2d") && err.contains("[2, 3, 6, 6]") && err.contains("[3, 3, 4, 5]"),
        "{err}"
    );
    let even = param(&g, &randn(&mut r, &[2, 2, 3, 5]));
    let err = ops::conv2d(&x, &even, 1.0, F32).unwrap_err().to_string();
    assert!(err.contains("conv2d") && err.contains("odd"), "{err}");
    let odd = param(&g, &randn(&mut r, &[2, 3, 5, 6]));
    let k4 = param(&g, &randn(&mut r, &[4, 4, 3, 5]));
    let err = ops::conv_down2(&odd, &k4, 1.0, F32)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("conv_down2") && err.contains("[2, 3, 5, 6]"),
        "{err}"
    );
    let err = ops::conv_up2(&x, &w, 1.0, F32).unwrap_err().to_string();
    assert!(
        err.contains("conv_up2") && err.contains("[3, 3, 4, 5]"),
        "{err}"
    );
    let err = ops::fuse_kernel(&k4).unwrap_err().to_string();
    assert!(
        err.contains("fuse_kernel") && err.contains("[4, 4, 3, 5]"),
        "{err}"
    );
    let dy = param(&g, &randn(&mut r, &[2, 5, 6, 5]));
    let err = ops::conv_up2_wgrad(&x, &dy, 1.0).unwrap_err().to_string();
    assert!(
        err.contains("conv_up2_wgrad") && err.contains("[2, 5, 6, 5]"),
        "{err}"
    );
}
