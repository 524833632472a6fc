//! `ops::instance_norm` and `ops::adain`: GPU vs the f64 reference (`reference::adain`),
//! backward and double backward vs finite differences; large planes (several loads per lane)
//! and nearly constant planes (no cancellation).

mod common;
use common::*;
use stylegan_wgpu::autodiff::grad;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::{adain, Arr};
use stylegan_wgpu::Var;

#[test]
fn instance_norm_and_adain() {
    let g = gpu();
    let mut r = rng(12);
    let c = Check::default();
    // Planes of 7x9 (the one-element kernel), 4x6 (the vec4 kernel; on a CPU adapter one
    // invocation per plane) and 4x8, with an offset so the mean matters.
    for (n, ch, h, w) in [(2, 3, 7, 9), (2, 3, 4, 6), (3, 4, 4, 8)] {
        let x = randn(&mut r, &[n, ch, h, w]).map(|v| 2.0 * v + 0.5);
        check_op(
            &format!("instance_norm {h}x{w}"),
            &g,
            std::slice::from_ref(&x),
            &|v| ops::instance_norm(&v[0]),
            &|a| adain::instance_norm(&a[0]),
            &c,
        );
        let style = randn(&mut r, &[n, 2 * ch]);
        check_op(
            &format!("adain {h}x{w}"),
            &g,
            &[x.clone(), style],
            &|v| ops::adain(&v[0], &v[1]),
            &|a| adain::adain(&a[0], &a[1]),
            &c,
        );
    }
    let x = randn(&mut r, &[2, 3, 7, 9]);
    let bad = ops::adain(&param(&g, &x), &param(&g, &randn(&mut r, &[2, 5])))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("adain") && bad.contains("[2, 5]"), "{bad}");
}

#[test]
fn instance_norm_large_planes() {
    // 64x64 planes: each of the 256 invocations sums 16 values before the tree reduction.
    let g = gpu();
    let mut r = rng(13);
    let x = randn(&mut r, &[1, 4, 64, 64]).map(|v| 3.0 * v - 1.0);
    let style = randn(&mut r, &[1, 8]);
    let xv = param(&g, &x);
    let y = ops::instance_norm(&xv).unwrap();
    assert_close(
        "instance_norm 1x4x64x64",
        &download(&y),
        &adain::instance_norm(&x),
        1e-5,
    );
    let y = ops::adain(&xv, &param(&g, &style)).unwrap();
    assert_close(
        "adain 1x4x64x64",
        &download(&y),
        &adain::adain(&x, &style),
        1e-5,
    );
}

#[test]
fn adain_constant_planes() {
    // A constant plane (the official init's 4x4 const input) has variance 0, so
    // rsqrt(var + eps) = 1e4: the kernel must subtract the mean before scaling. Folding the mean
    // into the shift (x * a + (b - mean * a)) left ~1e-3 relative error there (caught by the
    // PyTorch twin). Per-plane constants in f32, so mean and variance are exact on both sides.
    let g = gpu();
    let mut r = rng(15);
    let consts = randn(&mut r, &[4 * 3]);
    let mut x = Arr::zeros(&[4, 3, 4, 4]);
    for (i, v) in x.data.iter_mut().enumerate() {
        *v = consts.data[i / 16] as f32 as f64;
    }
    let style = randn(&mut r, &[4, 6]);
    let y = ops::adain(&param(&g, &x), &param(&g, &style)).unwrap();
    assert_close(
        "adain on constant planes",
        &download(&y),
        &adain::adain(&x, &style),
        1e-6,
    );
}

/// The fused backward kernel (`ops::adain_backward`) against the f64 reference, and against
/// the composite backward rule it replaces where no history is recorded: the same value bit
/// for bit on llvmpipe (the adapter the golden training run was recorded on), within float
/// rounding elsewhere. Shapes take both of its kernels: fewer than 256 planes (one workgroup
/// per plane, tree sums) and at least 256 short planes (one invocation per plane).
#[test]
fn fused_backward_matches_reference_and_composite_rule() {
    let g = gpu();
    let exact = g.describe().contains("llvmpipe");
    let mut r = rng(16);
    for shape in [
        [2, 3, 7, 9],
        [2, 3, 4, 6],
        [4, 64, 4, 4],
        [1, 2, 40, 40],
        [3, 1, 6, 6],
    ] {
        let (n, c) = (shape[0], shape[1]);
        let x = randn(&mut r, &shape).map(|v| 2.0 * v + 0.5);
        let dy = randn(&mut r, &shape);
        let style = randn(&mut r, &[n, 2 * c]);
        for with_style in [false, true] {
            let name = format!(
                "{} {shape:?}",
                if with_style { "adain" } else { "instance_norm" }
            );
            let (xv, sv) = (param(&g, &x), param(&g, &style));
            let gv = Var::constant(upload(&g, &dy));
            let (dx, ds) = ops::adain_backward(&xv, with_style.then_some(&sv), &gv)
                .unwrap()
                .expect("planes this short are fused");
            let (want_dx, want_ds) = adain::adain_backward(&x, with_style.then_some(&style), &dy);
            assert_close(&format!("{name} dx"), &download(&dx), &want_dx, 1e-4);
            assert_eq!(ds.is_some(), with_style);
            if let (Some(ds), Some(want)) = (&ds, &want_ds) {
                assert_close(&format!("{name} dstyle"), &download(ds), want, 1e-4);
            }
            // The composite rule: what a backward pass that records history runs.
            let y = if with_style {
                ops::adain(&xv, &sv).unwrap()
            } else {
                ops::instance_norm(&xv).unwrap()
            };
            let wrt = [xv.clone(), sv.clone()];
            let wrt = if with_style { &wrt[..] } else { &wrt[..1] };
            let composite = grad(
                std::slice::from_ref(&y),
                std::slice::from_ref(&gv),
                wrt,
                true,
            )
            .unwrap();
            let fused = [Some(dx), ds];
            for (k, (a, b)) in fused.iter().zip(&composite).enumerate() {
                let (a, b) = (
                    a.as_ref().unwrap().to_vec().unwrap(),
                    b.as_ref().unwrap().to_vec().unwrap(),
                );
                let (abs, rel) = errors_f32(&a, &b);
                eprintln!("{name} gradient {k}: fused vs composite abs {abs:.2e} rel {rel:.2e}");
                if exact {
                    assert!(
                        a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                        "{name}: not bit-exact"
                    );
                } else {
                    assert!(rel < 1e-5, "{name}: fused vs composite {rel:.2e}");
                }
            }
        }
    }
}

#[test]
fn a_backward_that_records_nothing_runs_the_fused_kernel() {
    let g = gpu();
    let mut r = rng(17);
    let x = param(&g, &randn(&mut r, &[2, 4, 8, 8]));
    let s = param(&g, &randn(&mut r, &[2, 8]));
    let y = ops::adain(&x, &s).unwrap();
    let dy = Var::constant(upload(&g, &randn(&mut r, &[2, 4, 8, 8])));
    let count = |create_graph: bool| {
        let before = g.stats().dispatches;
        let gr = grad(
            std::slice::from_ref(&y),
            std::slice::from_ref(&dy),
            &[x.clone(), s.clone()],
            create_graph,
        )
        .unwrap();
        assert!(gr.iter().all(|v| v.is_some()));
        g.stats().dispatches - before
    };
    let (fused, composite) = (count(false), count(true));
    eprintln!("adain backward: {fused} dispatch(es) fused, {composite} composed");
    assert_eq!(fused, 1);
    assert!(composite > 20);
}
