//! `ops::epilogue` (noise + bias + lrelu in one kernel) and its noise-free forms `bias_act`
//! and `bias_add`: GPU vs the f64 reference (`reference::epilogue`), backward and double
//! backward vs finite differences.

mod common;
use common::*;
use stylegan_wgpu::autodiff::grad;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::epilogue;
use stylegan_wgpu::Var;

#[test]
fn epilogue_with_and_without_noise() {
    let g = gpu();
    let mut r = rng(11);
    let c = Check::default();
    // 5x5 planes take the one-element kernel, 4x6 planes (a multiple of 4) the vec4 one. (The
    // draws are ordered so no nested finite difference straddles lrelu's kink.)
    let x55 = randn(&mut r, &[2, 5, 5, 5]);
    let strength = randn(&mut r, &[5]);
    let bias = randn(&mut r, &[5]);
    for (h, w) in [(5, 5), (4, 6)] {
        let x = if h == 5 {
            x55.clone()
        } else {
            randn(&mut r, &[2, 5, h, w])
        };
        for nn in [2, 1] {
            let noise = randn(&mut r, &[nn, 1, h, w]);
            check_op(
                &format!("epilogue {h}x{w} noise [{nn},1,{h},{w}]"),
                &g,
                &[x.clone(), noise, strength.clone(), bias.clone()],
                &|v| ops::epilogue(&v[0], Some(&v[1]), &v[2], &v[3], 0.7, 0.2),
                &|a| epilogue::epilogue(&a[0], Some(&a[1]), &a[2], &a[3], 0.7, 0.2),
                &c,
            );
        }
        check_op(
            &format!("epilogue {h}x{w} without noise"),
            &g,
            &[x.clone(), bias.clone()],
            &|v| ops::bias_act(&v[0], &v[1], 1.3, 0.2),
            &|a| epilogue::epilogue(&a[0], None, &a[1], &a[1], 1.3, 0.2),
            &c,
        );
    }
    let x2 = randn(&mut r, &[3, 7]);
    let b2 = randn(&mut r, &[7]);
    check_op(
        "bias_act [N, C]",
        &g,
        &[x2.clone(), b2.clone()],
        &|v| ops::bias_act(&v[0], &v[1], 0.01, 0.2),
        &|a| epilogue::epilogue(&a[0], None, &a[1], &a[1], 0.01, 0.2),
        &c,
    );
    check_op(
        "bias_add [N, C]",
        &g,
        &[x2, b2],
        &|v| ops::bias_add(&v[0], &v[1], 1.0),
        &|a| epilogue::epilogue(&a[0], None, &a[1], &a[1], 1.0, 1.0),
        &c,
    );
    // Shape errors name the op and the shapes.
    let x = randn(&mut r, &[2, 5, 5, 5]);
    let bad = ops::epilogue(
        &param(&g, &x),
        Some(&param(&g, &randn(&mut r, &[2, 1, 5, 4]))),
        &param(&g, &strength),
        &param(&g, &bias),
        1.0,
        0.2,
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("epilogue") && bad.contains("[2, 1, 5, 4]"),
        "{bad}"
    );
}

/// The fused backward kernel (`ops::epilogue_backward`) against the f64 reference, and against
/// the composite backward rule it replaces where no history is recorded: the same values bit
/// for bit on llvmpipe (the adapter the golden training run was recorded on), within float
/// rounding elsewhere. Cases take both kernels (fewer than 256 planes: one workgroup per
/// channel, tree sums; at least 256 short planes, and dense activations: one invocation per
/// channel), one image, one channel (`sum_to` sums the whole tensor as one row), and both
/// noise layouts.
#[test]
fn fused_backward_matches_reference_and_composite_rule() {
    let g = gpu();
    let exact = g.describe().contains("llvmpipe");
    let mut r = rng(21);
    let cases: [(&[usize], Option<usize>); 13] = [
        (&[4, 1, 32, 32], Some(4)),
        (&[4, 1, 8, 8], None),
        (&[1, 1, 8, 8], Some(1)),
        (&[6, 1], None),
        (&[4, 8, 32, 32], Some(4)),
        (&[4, 8, 16, 16], None),
        (&[2, 5, 5, 5], Some(2)),
        (&[3, 4, 4, 6], Some(1)),
        (&[2, 5, 5, 5], None),
        (&[16, 32, 4, 4], Some(16)),
        (&[1, 6, 8, 8], Some(1)),
        (&[5, 7], None),
        (&[4, 64, 2, 2], None),
    ];
    for (shape, nn) in cases {
        let c = shape[1];
        let x = randn(&mut r, shape);
        let noise = nn.map(|nn| randn(&mut r, &[nn, 1, shape[2], shape[3]]));
        let strength = randn(&mut r, &[c]);
        let bias = randn(&mut r, &[c]);
        let dy = randn(&mut r, shape);
        let name = format!("epilogue backward {shape:?} noise {nn:?}");
        let (bias_mul, slope) = (0.7, 0.2);
        let (xv, sv, bv) = (param(&g, &x), param(&g, &strength), param(&g, &bias));
        let nv = noise.as_ref().map(|a| Var::constant(upload(&g, a)));
        let y = ops::epilogue(&xv, nv.as_ref(), &sv, &bv, bias_mul, slope).unwrap();
        let gv = Var::constant(upload(&g, &dy));
        let f = ops::epilogue_backward(&gv, &y.detach(), nv.as_ref(), bias_mul, slope)
            .unwrap()
            .expect("fused");
        let (want_dx, want_db, want_ds) =
            epilogue::epilogue_backward(&dy, &download(&y), noise.as_ref(), 0.7, 0.2);
        assert_close(&format!("{name} dx"), &download(&f.dx), &want_dx, 1e-5);
        assert_close(
            &format!("{name} dbias"),
            &download(&f.dbias),
            &want_db,
            1e-5,
        );
        assert_eq!(f.dstrength.is_some(), nn.is_some());
        if let (Some(ds), Some(want)) = (&f.dstrength, &want_ds) {
            assert_close(&format!("{name} dstrength"), &download(ds), want, 1e-5);
        }
        // The composite rule (a backward pass that records history), and the backward pass
        // that records nothing (the fused kernel, through the op's rule).
        let wrt = [xv.clone(), bv.clone(), sv.clone()];
        let wrt = if nn.is_some() { &wrt[..] } else { &wrt[..2] };
        let run = |create_graph| {
            grad(
                std::slice::from_ref(&y),
                std::slice::from_ref(&gv),
                wrt,
                create_graph,
            )
            .unwrap()
        };
        let (composite, through_rule) = (run(true), run(false));
        let fused = [Some(f.dx), Some(f.dbias), f.dstrength];
        for k in 0..wrt.len() {
            let a = fused[k].as_ref().unwrap().to_vec().unwrap();
            let b = composite[k].as_ref().unwrap().to_vec().unwrap();
            assert_eq!(a, through_rule[k].as_ref().unwrap().to_vec().unwrap());
            let (abs, rel) = errors_f32(&a, &b);
            eprintln!("{name} gradient {k}: fused vs composite abs {abs:.2e} rel {rel:.2e}");
            if exact {
                let same = a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same, "{name} gradient {k}: not bit-exact");
            } else {
                assert!(
                    rel < 1e-5,
                    "{name} gradient {k}: fused vs composite {rel:.2e}"
                );
            }
        }
    }
}

#[test]
fn a_backward_that_records_nothing_runs_the_fused_kernel() {
    let g = gpu();
    let mut r = rng(22);
    let x = param(&g, &randn(&mut r, &[2, 4, 8, 8]));
    let (s, b) = (
        param(&g, &randn(&mut r, &[4])),
        param(&g, &randn(&mut r, &[4])),
    );
    let noise = Var::constant(upload(&g, &randn(&mut r, &[2, 1, 8, 8])));
    let y = ops::epilogue(&x, Some(&noise), &s, &b, 1.0, 0.2).unwrap();
    let dy = Var::constant(upload(&g, &randn(&mut r, &[2, 4, 8, 8])));
    let count = |create_graph: bool| {
        let before = g.stats().dispatches;
        let wrt = [x.clone(), s.clone(), b.clone()];
        let gr = grad(
            std::slice::from_ref(&y),
            std::slice::from_ref(&dy),
            &wrt,
            create_graph,
        )
        .unwrap();
        assert!(gr.iter().all(|v| v.is_some()));
        g.stats().dispatches - before
    };
    let (fused, composite) = (count(false), count(true));
    eprintln!("epilogue backward: {fused} dispatch(es) fused, {composite} composed");
    assert_eq!(fused, 1);
    assert!(composite >= 7);
}
