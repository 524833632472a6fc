//! `ops::epilogue` (noise + bias + lrelu in one kernel) and its noise-free forms `bias_act`
//! and `bias_add`: GPU vs the f64 reference (`reference::epilogue`), backward and double
//! backward vs finite differences.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::epilogue;

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
