//! The subgroup conv kernels (`ops::conv_fast::conv_fast_t`: 3x3 same, 4x4 stride-2 down, and
//! its transposed up) against the f64 reference, and the shapes / adapters where they must
//! decline (`Ok(None)` -> another kernel).

mod common;
use common::*;

use stylegan_wgpu::ops::conv::ConvKind;
use stylegan_wgpu::ops::conv_fast::{conv_fast_supported, conv_fast_t};
use stylegan_wgpu::reference::conv as rc;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::Tensor;

/// The reference for `kind` and its kernel size.
fn reference(kind: ConvKind, x: &Arr, w: &Arr, alpha: f64) -> Arr {
    match kind {
        ConvKind::Same => rc::conv2d(x, w, alpha),
        ConvKind::Down2 => rc::conv_down2(x, w, alpha),
        ConvKind::Up2 => rc::conv_up2(x, w, alpha),
    }
}

fn kernel_size(kind: ConvKind) -> usize {
    if kind == ConvKind::Same {
        3
    } else {
        4
    }
}

#[test]
fn conv_fast_matches_reference() {
    let gpu = gpu();
    let name = gpu.info().name.to_ascii_lowercase();
    let fast = gpu.has_subgroup8();
    if name.contains("llvmpipe") {
        assert!(
            fast,
            "lavapipe must expose 8-wide subgroups for the fast conv path"
        );
    }
    if !fast {
        eprintln!("adapter has no 8-wide subgroups: only the Ok(None) path is tested");
    }
    let mut r = rng(7);
    use ConvKind::*;
    // (kind, N, C, K, H, W, alpha): H, W are the input's.
    let shapes = [
        (Same, 2, 5, 16, 8, 8, 1.0),
        (Same, 1, 32, 32, 16, 16, 0.25),
        (Same, 3, 3, 16, 5, 8, 1.0), // odd H, batch of 3: segment count not a multiple of 8
        (Same, 1, 7, 48, 2, 24, 0.5), // 3 segments per row, 3 channel blocks
        (Same, 1, 1, 16, 1, 8, 2.0), // single row: every vertical tap but the middle is padding
        (Same, 2, 6, 32, 4, 4, 1.0), // 4 pixels per invocation (W % 8 != 0)
        (Same, 1, 3, 16, 3, 12, 1.0), // 4 pixels per invocation, 3 segments per row
        (Down2, 2, 5, 16, 16, 16, 0.5), // 8 output pixels per invocation, one segment per row
        (Down2, 1, 3, 32, 6, 48, 1.0), // 3 segments per row, 2 channel blocks
        (Down2, 3, 4, 16, 8, 8, 1.0), // 4 output pixels per invocation
        (Down2, 1, 2, 16, 2, 24, 1.0), // one output row: the bottom taps are padding
        (Up2, 2, 5, 16, 8, 8, 0.5),  // one segment per output row, both parities
        (Up2, 1, 3, 32, 3, 12, 1.0), // odd input height, 3 segments per row
        (Up2, 3, 2, 16, 1, 4, 1.0),  // one input row: each output row has one valid tap
        (Up2, 1, 16, 48, 4, 16, 2.0), // 3 channel blocks, 6 z slices
    ];
    let was_disabled = std::env::var("STYLEGAN_NO_FAST_CONV").ok();
    for &(kind, n, c, k, h, w, alpha) in &shapes {
        let ks = kernel_size(kind);
        let x = randn(&mut r, &[n, c, h, w]);
        let wt = randn(&mut r, &[ks, ks, c, k]);
        let y = conv_fast_t(kind, &upload(&gpu, &x), &upload(&gpu, &wt), alpha as f32)
            .expect("conv_fast_t");
        let label = format!("{kind:?} N={n} C={c} K={k} H={h} W={w} alpha={alpha}");
        match y {
            Some(y) => {
                assert!(
                    fast,
                    "{label}: fast path taken on an adapter without subgroup8"
                );
                let got = Arr::from_f32(y.shape(), &y.to_vec().unwrap());
                assert_close(
                    &format!("conv_fast {label}"),
                    &got,
                    &reference(kind, &x, &wt, alpha),
                    1e-5,
                );
            }
            None => {
                assert!(
                    !fast || was_disabled.is_some(),
                    "{label}: supported shape on a subgroup8 adapter returned None"
                );
                eprintln!("conv_fast {label}: declined");
            }
        }
    }
    // The A/B switch forces the other kernels even for supported shapes.
    if was_disabled.is_none() {
        let xt = Tensor::zeros(&gpu, &[1, 4, 8, 8]).unwrap();
        let wtt = Tensor::zeros(&gpu, &[3, 3, 4, 16]).unwrap();
        std::env::set_var("STYLEGAN_NO_FAST_CONV", "1");
        let y = conv_fast_t(Same, &xt, &wtt, 1.0);
        std::env::remove_var("STYLEGAN_NO_FAST_CONV");
        assert!(
            y.expect("conv_fast_t").is_none(),
            "STYLEGAN_NO_FAST_CONV=1 must force Ok(None)"
        );
        eprintln!("conv_fast with STYLEGAN_NO_FAST_CONV=1: declined");
    }
}

#[test]
fn conv_fast_declines_unsupported() {
    let gpu = gpu();
    let t = |s: &[usize]| Tensor::zeros(&gpu, s).unwrap();
    use ConvKind::*;
    // (kind, x shape, w shape)
    let cases: [(ConvKind, &[usize], &[usize]); 10] = [
        (Same, &[1, 4, 8, 8], &[3, 3, 4, 8]),   // K not a multiple of 16
        (Same, &[1, 4, 8, 10], &[3, 3, 4, 16]), // W not a multiple of 4
        (Same, &[1, 4, 2, 2], &[3, 3, 4, 16]),
        (Same, &[1, 4, 8, 8], &[1, 1, 4, 16]),   // not 3x3
        (Same, &[1, 4, 8, 8], &[3, 3, 5, 16]),   // channel mismatch
        (Down2, &[1, 4, 8, 12], &[4, 4, 4, 16]), // output width 6
        (Down2, &[1, 4, 7, 8], &[4, 4, 4, 16]),  // odd height
        (Down2, &[1, 4, 8, 8], &[3, 3, 4, 16]),  // not 4x4
        (Up2, &[1, 4, 8, 6], &[4, 4, 4, 16]),    // input width not a multiple of 4
        (Up2, &[1, 4, 8, 8], &[4, 4, 4, 24]),    // K not a multiple of 16
    ];
    for (kind, xs, ws) in cases {
        let y = conv_fast_t(kind, &t(xs), &t(ws), 1.0).expect("conv_fast_t");
        eprintln!(
            "conv_fast {kind:?} x{xs:?} w{ws:?}: declined = {}",
            y.is_none()
        );
        assert!(y.is_none(), "{kind:?} x{xs:?} w{ws:?} must be declined");
    }
    assert_eq!(
        conv_fast_supported(&gpu, Same, &[2, 5, 8, 8], 3, 16),
        gpu.has_subgroup8()
    );
    assert_eq!(
        conv_fast_supported(&gpu, Up2, &[2, 5, 8, 8], 4, 16),
        gpu.has_subgroup8()
    );
}

/// The ops on shapes the subgroup kernels take (K = 16, widths multiples of 4), so their
/// forward runs on them, with gradients against finite differences of the reference.
#[test]
fn conv_ops_on_fast_shapes_match_finite_differences() {
    use stylegan_wgpu::ops;
    let g = gpu();
    let mut r = rng(9);
    let c = Check::default();
    let x = randn(&mut r, &[1, 2, 4, 8]);
    let k4 = randn(&mut r, &[4, 4, 2, 16]);
    check_op(
        "conv_down2 (fast shape)",
        &g,
        &[x.clone(), k4.clone()],
        &|v| ops::conv_down2(&v[0], &v[1], 0.5),
        &|a| rc::conv_down2(&a[0], &a[1], 0.5),
        &c,
    );
    let xs = randn(&mut r, &[1, 2, 2, 4]);
    check_op(
        "conv_up2 (fast shape)",
        &g,
        &[xs, k4],
        &|v| ops::conv_up2(&v[0], &v[1], 0.5),
        &|a| rc::conv_up2(&a[0], &a[1], 0.5),
        &c,
    );
    let w3 = randn(&mut r, &[3, 3, 2, 16]);
    check_op(
        "conv2d 3x3 (fast shape)",
        &g,
        &[x, w3],
        &|v| ops::conv2d(&v[0], &v[1], 0.5),
        &|a| rc::conv2d(&a[0], &a[1], 0.5),
        &c,
    );
}
