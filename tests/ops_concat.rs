//! Channel concat, slice and pad (`ops::concat`): GPU vs the f64 reference
//! (`reference::concat`), backward and double backward vs finite differences; shape errors.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::concat as r;

#[test]
fn concat_slice_pad() {
    let g = gpu();
    let mut rn = rng(13);
    let c = Check::default();
    let a = randn(&mut rn, &[2, 3, 5, 7]);
    let b = randn(&mut rn, &[2, 5, 5, 7]);
    check_op(
        "concat_channels",
        &g,
        &[a.clone(), b.clone()],
        &|v| ops::concat_channels(&v[0], &v[1]),
        &|x| r::concat_channels(&x[0], &x[1]),
        &c,
    );
    check_op(
        "slice_channels",
        &g,
        std::slice::from_ref(&b),
        &|v| ops::slice_channels(&v[0], 1, 3),
        &|x| r::slice_channels(&x[0], 1, 3),
        &c,
    );
    check_op(
        "pad_channels",
        &g,
        std::slice::from_ref(&a),
        &|v| ops::pad_channels(&v[0], 2, 7),
        &|x| r::pad_channels(&x[0], 2, 7),
        &c,
    );
    // Rank 2 ([N, C], as for dense features).
    let a2 = randn(&mut rn, &[3, 5]);
    let b2 = randn(&mut rn, &[3, 1]);
    check_op(
        "concat_channels [N,C]",
        &g,
        &[a2.clone(), b2],
        &|v| ops::concat_channels(&v[0], &v[1]),
        &|x| r::concat_channels(&x[0], &x[1]),
        &c,
    );
    check_op(
        "slice_channels [N,C]",
        &g,
        &[a2],
        &|v| ops::slice_channels(&v[0], 4, 1),
        &|x| r::slice_channels(&x[0], 4, 1),
        &c,
    );
    check_op(
        "square(concat_channels)",
        &g,
        &[a.clone(), b.clone()],
        &|v| ops::square(&ops::concat_channels(&v[0], &v[1])?),
        &|x| r::concat_channels(&x[0], &x[1]).map(|v| v * v),
        &c,
    );
    check_op(
        "square(pad_channels)",
        &g,
        std::slice::from_ref(&a),
        &|v| ops::square(&ops::pad_channels(&v[0], 2, 7)?),
        &|x| r::pad_channels(&x[0], 2, 7).map(|v| v * v),
        &c,
    );
    // A nonlinear use of both halves exercises the second-order path through slices and pads.
    check_op(
        "mul(slice, slice)",
        &g,
        &[b],
        &|v| {
            ops::mul(
                &ops::slice_channels(&v[0], 0, 2)?,
                &ops::slice_channels(&v[0], 3, 2)?,
            )
        },
        &|x| r::slice_channels(&x[0], 0, 2).zip(&r::slice_channels(&x[0], 3, 2), |p, q| p * q),
        &c,
    );
}

#[test]
fn shape_errors() {
    let g = gpu();
    let mut rn = rng(14);
    let odd = param(&g, &randn(&mut rn, &[1, 2, 5, 6]));
    let other = param(&g, &randn(&mut rn, &[1, 3, 5, 5]));
    let err = ops::concat_channels(&odd, &other).unwrap_err().to_string();
    assert!(
        err.contains("concat_channels")
            && err.contains("[1, 2, 5, 6]")
            && err.contains("[1, 3, 5, 5]"),
        "{err}"
    );
    let err = ops::slice_channels(&odd, 1, 2).unwrap_err().to_string();
    assert!(
        err.contains("slice_channels") && err.contains("[1, 2, 5, 6]"),
        "{err}"
    );
    let err = ops::pad_channels(&other, 1, 3).unwrap_err().to_string();
    assert!(
        err.contains("pad_channels") && err.contains("[1, 3, 5, 5]"),
        "{err}"
    );
    eprintln!("last error: {err}");
}
