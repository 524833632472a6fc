//! The fast conv3x3 forward kernel (`ops::conv_fast::conv3x3_fast_t`) against a plain f64 loop,
//! and the shapes / adapters where it must decline (`Ok(None)` -> generic kernel).

mod common;

use stylegan_wgpu::ops::conv_fast::{conv3x3_fast_supported, conv3x3_fast_t};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::Tensor;

/// `alpha * conv3x3(x, w)`, x NCHW, w HWIO `[3,3,C,K]`, stride 1, zero padding 1.
fn conv3x3_ref(x: &Arr, w: &Arr, alpha: f64) -> Arr {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let k = w.shape[3];
    let mut y = Arr::zeros(&[n, k, h, wd]);
    for b in 0..n {
        for o in 0..k {
            for oy in 0..h {
                for ox in 0..wd {
                    let mut acc = 0.0;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let iy = oy as i64 + ky as i64 - 1;
                            let ix = ox as i64 + kx as i64 - 1;
                            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                continue;
                            }
                            for i in 0..c {
                                let xv = x.data[((b * c + i) * h + iy as usize) * wd + ix as usize];
                                let wv = w.data[((ky * 3 + kx) * c + i) * k + o];
                                acc += xv * wv;
                            }
                        }
                    }
                    y.data[((b * k + o) * h + oy) * wd + ox] = alpha * acc;
                }
            }
        }
    }
    y
}

/// Max |a-b| / max(1, |b|) over all elements (relative to the output scale for large values,
/// absolute near zero where cancellation makes a pure relative error meaningless).
fn max_rel(a: &[f32], b: &Arr) -> f64 {
    a.iter()
        .zip(&b.data)
        .map(|(&g, &r)| (g as f64 - r).abs() / r.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn conv3x3_fast_matches_reference() {
    let gpu = common::gpu();
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
    let mut rng = common::rng(7);
    // (N, C, K, H, W, alpha)
    let shapes = [
        (2, 5, 16, 8, 8, 1.0),
        (1, 32, 32, 16, 16, 0.25),
        (3, 3, 16, 5, 8, 1.0), // odd H, batch of 3: segment count not a multiple of 8
        (1, 7, 48, 2, 24, 0.5), // 3 segments per row, 3 channel blocks
        (1, 1, 16, 1, 8, 2.0), // single row: every vertical tap but the middle is padding
        (2, 6, 32, 4, 4, 1.0), // 4 pixels per invocation (W % 8 != 0)
        (1, 3, 16, 3, 12, 1.0), // 4 pixels per invocation, 3 segments per row
    ];
    let was_disabled = std::env::var("STYLEGAN_NO_FAST_CONV").ok();
    for &(n, c, k, h, w, alpha) in &shapes {
        let x = common::randn(&mut rng, &[n, c, h, w]);
        let wt = common::randn(&mut rng, &[3, 3, c, k]);
        let xt = common::upload(&gpu, &x);
        let wtt = common::upload(&gpu, &wt);
        let y = conv3x3_fast_t(&xt, &wtt, alpha as f32).expect("conv3x3_fast_t");
        let label = format!("N={n} C={c} K={k} H={h} W={w} alpha={alpha}");
        match y {
            Some(y) => {
                assert!(
                    fast,
                    "{label}: fast path taken on an adapter without subgroup8"
                );
                assert_eq!(y.shape(), &[n, k, h, w]);
                let r = conv3x3_ref(&x, &wt, alpha);
                let e = max_rel(&y.to_vec().unwrap(), &r);
                eprintln!("conv3x3_fast {label}: max rel err {e:.3e}");
                assert!(e < 1e-5, "{label}: max rel err {e:.3e}");
            }
            None => {
                assert!(
                    !fast || was_disabled.is_some(),
                    "{label}: supported shape on a subgroup8 adapter returned None"
                );
                eprintln!("conv3x3_fast {label}: declined (generic kernel)");
            }
        }
    }
    // The A/B switch forces the generic kernel even for supported shapes.
    if was_disabled.is_none() {
        let xt = Tensor::zeros(&gpu, &[1, 4, 8, 8]).unwrap();
        let wtt = Tensor::zeros(&gpu, &[3, 3, 4, 16]).unwrap();
        std::env::set_var("STYLEGAN_NO_FAST_CONV", "1");
        let y = conv3x3_fast_t(&xt, &wtt, 1.0);
        std::env::remove_var("STYLEGAN_NO_FAST_CONV");
        assert!(
            y.expect("conv3x3_fast_t").is_none(),
            "STYLEGAN_NO_FAST_CONV=1 must force Ok(None)"
        );
        eprintln!("conv3x3_fast with STYLEGAN_NO_FAST_CONV=1: declined");
    }
}

#[test]
fn conv3x3_fast_declines_unsupported() {
    let gpu = common::gpu();
    let t = |s: &[usize]| Tensor::zeros(&gpu, s).unwrap();
    // (x shape, w shape): K not a multiple of 16, W not a multiple of 4, not 3x3, channel mismatch.
    let cases: [(&[usize], &[usize]); 5] = [
        (&[1, 4, 8, 8], &[3, 3, 4, 8]),
        (&[1, 4, 8, 10], &[3, 3, 4, 16]),
        (&[1, 4, 2, 2], &[3, 3, 4, 16]),
        (&[1, 4, 8, 8], &[1, 1, 4, 16]),
        (&[1, 4, 8, 8], &[3, 3, 5, 16]),
    ];
    for (xs, ws) in cases {
        let y = conv3x3_fast_t(&t(xs), &t(ws), 1.0).expect("conv3x3_fast_t");
        eprintln!("conv3x3_fast x{xs:?} w{ws:?}: declined = {}", y.is_none());
        assert!(
            y.is_none(),
            "x{xs:?} w{ws:?} must fall back to the generic kernel"
        );
    }
    assert_eq!(
        conv3x3_fast_supported(&gpu, &[2, 5, 8, 8], 16),
        gpu.has_subgroup8()
    );
}
