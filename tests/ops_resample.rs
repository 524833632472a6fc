//! Upsample, downsample and blur (depthwise 3x3; `ops::resample`): GPU vs the f64 reference
//! (`reference::resample`), backward and double backward vs finite differences; shape errors.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::resample as r;

#[test]
fn upsample_downsample() {
    let g = gpu();
    let mut rn = rng(11);
    let c = Check::default();
    // 2*3*5*7 = 210 inputs -> 840 outputs: not a multiple of the workgroup size.
    let x = randn(&mut rn, &[2, 3, 5, 7]);
    check_op(
        "upsample2",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::upsample2(&v[0], 1.0),
        &|a| r::upsample2(&a[0], 1.0),
        &c,
    );
    check_op(
        "upsample2 gain 0.7",
        &g,
        &[x],
        &|v| ops::upsample2(&v[0], 0.7),
        &|a| r::upsample2(&a[0], 0.7),
        &c,
    );
    let x = randn(&mut rn, &[2, 3, 6, 10]);
    check_op(
        "downsample2 box",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::downsample2(&v[0], 0.25),
        &|a| r::downsample2(&a[0], 0.25),
        &c,
    );
    check_op(
        "downsample2 gain 1.3",
        &g,
        &[x],
        &|v| ops::downsample2(&v[0], 1.3),
        &|a| r::downsample2(&a[0], 1.3),
        &c,
    );
    // Nonlinear chains so the second-order check goes through each op's backward.
    let x = randn(&mut rn, &[2, 3, 4, 6]);
    check_op(
        "square(upsample2)",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::square(&ops::upsample2(&v[0], 0.7)?),
        &|a| r::upsample2(&a[0], 0.7).map(|v| v * v),
        &c,
    );
    check_op(
        "square(downsample2)",
        &g,
        &[x],
        &|v| ops::square(&ops::downsample2(&v[0], 0.25)?),
        &|a| r::downsample2(&a[0], 0.25).map(|v| v * v),
        &c,
    );
    // Low-resolution widths that are multiples of 4 take the vec4 kernels (up reads 4 pixels,
    // down writes 4); their backward is the other one's vec4 form. Odd heights, several rows
    // of vec4s, a total that is not a multiple of the workgroup size.
    for (shape, what) in [
        ([2, 3, 5, 8], "w 8"),
        ([1, 2, 3, 4], "w 4"),
        ([3, 1, 1, 12], "w 12"),
    ] {
        let x = randn(&mut rn, &shape);
        check_op(
            &format!("square(upsample2) vec4 {what}"),
            &g,
            std::slice::from_ref(&x),
            &|v| ops::square(&ops::upsample2(&v[0], 0.7)?),
            &|a| r::upsample2(&a[0], 0.7).map(|v| v * v),
            &c,
        );
        let big = randn(&mut rn, &[shape[0], shape[1], 2 * shape[2], 2 * shape[3]]);
        check_op(
            &format!("square(downsample2) vec4 {what}"),
            &g,
            &[big],
            &|v| ops::square(&ops::downsample2(&v[0], 0.25)?),
            &|a| r::downsample2(&a[0], 0.25).map(|v| v * v),
            &c,
        );
    }
    // Composition (the adjoint pair used by each other's backward) round-trips exactly.
    let x = randn(&mut rn, &[1, 5, 4, 6]);
    check_op(
        "downsample2(upsample2)",
        &g,
        &[x],
        &|v| ops::downsample2(&ops::upsample2(&v[0], 0.5)?, 0.5),
        &|a| r::downsample2(&r::upsample2(&a[0], 0.5), 0.5),
        &c,
    );
}

#[test]
fn blur_and_depthwise() {
    let g = gpu();
    let mut rn = rng(12);
    let c = Check::default();
    let x = randn(&mut rn, &[2, 3, 5, 7]);
    check_op(
        "blur 5x7",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::blur(&v[0]),
        &|a| r::blur(&a[0]),
        &c,
    );
    // An asymmetric filter: the backward must use the flipped taps.
    let taps = [0.1f32, -0.7, 0.3, 1.1, 0.5, -0.2, 0.9, 0.4, -1.3];
    let taps64 = taps.map(|t| t as f64);
    check_op(
        "depthwise3x3 asym",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::depthwise3x3(&v[0], taps),
        &|a| r::depthwise3x3(&a[0], &taps64),
        &c,
    );
    // Tiny planes where every pixel touches the border; a larger one spanning several workgroups.
    let x1 = randn(&mut rn, &[1, 3, 1, 2]);
    check_op(
        "depthwise3x3 1x2",
        &g,
        &[x1],
        &|v| ops::depthwise3x3(&v[0], taps),
        &|a| r::depthwise3x3(&a[0], &taps64),
        &c,
    );
    let big = randn(&mut rn, &[1, 5, 13, 11]);
    check_op(
        "blur 13x11",
        &g,
        &[big],
        &|v| ops::blur(&v[0]),
        &|a| r::blur(&a[0]),
        &c,
    );
    // Widths that are a multiple of 4 take the four-pixel kernel (the vec4 form of
    // resample/blur.wgsl): the asymmetric filter checks its host-side rotation in the backward;
    // one vec4 per row has both halos zero; several vec4s per row and rows spanning workgroups.
    for shape in [
        [2usize, 3, 5, 8],
        [1, 2, 1, 4],
        [2, 3, 6, 12],
        [1, 4, 9, 16],
    ] {
        let x4 = randn(&mut rn, &shape);
        check_op(
            &format!("depthwise3x3 asym {}x{} (vec4)", shape[2], shape[3]),
            &g,
            &[x4],
            &|v| ops::depthwise3x3(&v[0], taps),
            &|a| r::depthwise3x3(&a[0], &taps64),
            &c,
        );
    }
    // Blur in a nonlinear chain so the second-order check has something to see.
    check_op(
        "square(blur)",
        &g,
        &[x],
        &|v| ops::square(&ops::blur(&v[0])?),
        &|a| r::blur(&a[0]).map(|v| v * v),
        &c,
    );
}

#[test]
fn shape_errors() {
    let g = gpu();
    let mut rn = rng(14);
    let odd = param(&g, &randn(&mut rn, &[1, 2, 5, 6]));
    let err = ops::downsample2(&odd, 0.25).unwrap_err().to_string();
    assert!(
        err.contains("downsample2") && err.contains("[1, 2, 5, 6]"),
        "{err}"
    );
    let flat = param(&g, &randn(&mut rn, &[2, 6]));
    let err = ops::upsample2(&flat, 1.0).unwrap_err().to_string();
    assert!(err.contains("upsample2") && err.contains("[2, 6]"), "{err}");
    let err = ops::blur(&flat).unwrap_err().to_string();
    assert!(
        err.contains("depthwise3x3") && err.contains("[2, 6]"),
        "{err}"
    );
}
