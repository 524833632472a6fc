//! Reductions longer than one invocation may loop on lavapipe: llvmpipe ends all loops of an
//! invocation after 65535 iterations in total, which silently truncated weight gradients of
//! 64²-and-up training batches (found by the PyTorch twin at 128², batch 4). Every kernel whose
//! trip count grows with the data now works in parts of at most `ops::MAX_LOOP` iterations;
//! these shapes need several parts. Tolerance 1e-4: f32 sums of ~10^5 random products.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::{conv as rc, dense, reduce, Arr};

const TOL: f64 = 1e-4;

#[test]
fn conv_weight_gradients_over_long_reductions() {
    let g = gpu();
    let mut r = rng(21);
    // N*H*W = 2*192*192 = 73728 > 65535 for the stride-1 kernels (1x1: generic, 3x3: blocked).
    let x = randn(&mut r, &[2, 2, 192, 192]);
    let dy = randn(&mut r, &[2, 3, 192, 192]);
    for k in [1usize, 3] {
        let dw = ops::conv2d_wgrad(&param(&g, &x), &param(&g, &dy), k, 0.5).unwrap();
        assert_close(
            &format!("conv2d_wgrad k={k} N2 192x192"),
            &download(&dw),
            &rc::conv2d_wgrad(&x, &dy, k, 0.5),
            TOL,
        );
    }
    // Stride 2: 2*192*192 outputs of the down-conv reduce over its 384x384 input's taps.
    let xe = randn(&mut r, &[2, 1, 384, 384]);
    let dk = ops::conv_down2_wgrad(&param(&g, &xe), &param(&g, &dy), 0.5).unwrap();
    assert_close(
        "conv_down2_wgrad N2 384->192",
        &download(&dk),
        &rc::conv_down2_wgrad(&xe, &dy, 0.5),
        TOL,
    );
    let dy2 = randn(&mut r, &[2, 1, 384, 384]);
    let dk = ops::conv_up2_wgrad(&param(&g, &x), &param(&g, &dy2), 0.5).unwrap();
    assert_close(
        "conv_up2_wgrad N2 192->384",
        &download(&dk),
        &rc::conv_up2_wgrad(&x, &dy2, 0.5),
        TOL,
    );
}

#[test]
fn sums_over_long_leading_and_trailing_dims() {
    let g = gpu();
    let mut r = rng(22);
    // A leading dim of 70000 (the generic strided kernel), into [1, 3].
    let x = randn(&mut r, &[70_000, 3]);
    let y = ops::sum_to(&param(&g, &x), &[1, 3], 0.5).unwrap();
    assert_close(
        "sum_to [70000, 3] -> [1, 3]",
        &download(&y),
        &reduce::sum_to(&x, &[1, 3], 0.5),
        TOL,
    );
    // One row of 4.5 M: more than 256 lanes x MAX_LOOP, so it is summed in two parts.
    let x = randn(&mut r, &[1, 4_500_000]);
    let y = ops::sum(&param(&g, &x)).unwrap();
    let want = Arr::new(&[1], vec![x.data.iter().sum()]);
    assert_close("sum of 4.5 M", &download(&y), &want, TOL);
    let y = ops::sum_sq_per_sample(&param(&g, &x)).unwrap();
    assert_close(
        "sum_sq_per_sample [1, 4.5 M]",
        &download(&y),
        &reduce::sum_sq_per_sample(&x),
        TOL,
    );
}

#[test]
fn matmul_with_a_long_inner_dim() {
    let g = gpu();
    let mut r = rng(23);
    let a = randn(&mut r, &[3, 70_000]);
    let b = randn(&mut r, &[70_000, 5]);
    let y = ops::matmul(&param(&g, &a), &param(&g, &b), false, false, 0.5).unwrap();
    assert_close(
        "matmul 3x70000 @ 70000x5",
        &download(&y),
        &dense::matmul(&a, &b, false, false, 0.5),
        TOL,
    );
    // Transposed operands go through the same split.
    let at = randn(&mut r, &[70_000, 3]);
    let y = ops::matmul(&param(&g, &at), &param(&g, &b), true, false, 1.0).unwrap();
    assert_close(
        "matmul (70000x3)^T @ 70000x5",
        &download(&y),
        &dense::matmul(&at, &b, true, false, 1.0),
        TOL,
    );
}
