//! The differentiable general conv (`ops::conv` with a `ConvSpec`): the shapes Inception-v3
//! and VGG16 bring (1x7, 7x1, 1x3, 3x1, 5x5, 1x1, stride 2 without resampling, padding 0) and
//! transposed convs with output padding, checked like every op: forward against the f64
//! reference, backward (input and weight) and double backward against finite differences.
//! The input gradient of a forward conv is a transposed conv, with output padding where the
//! stride leaves input rows unread; the weight gradient is the generic `conv_wgrad` kernel.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::{conv_on, supports, ConvGeometry, ConvKernel, ConvSpec, Precision};
use stylegan_wgpu::reference::conv as rc;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;

const ALPHA: f32 = 0.7;

/// (name, input NCHW, weight HWIO, stride, padding, transposed, output padding)
type Case = (
    &'static str,
    [usize; 4],
    [usize; 4],
    usize,
    (usize, usize),
    bool,
    (usize, usize),
);

const CASES: &[Case] = &[
    (
        "1x7 pad (0,3)",
        [2, 3, 5, 9],
        [1, 7, 3, 4],
        1,
        (0, 3),
        false,
        (0, 0),
    ),
    (
        "7x1 pad (3,0)",
        [1, 3, 9, 5],
        [7, 1, 3, 4],
        1,
        (3, 0),
        false,
        (0, 0),
    ),
    (
        "1x3 pad (0,1)",
        [2, 2, 4, 6],
        [1, 3, 2, 3],
        1,
        (0, 1),
        false,
        (0, 0),
    ),
    (
        "3x1 pad (1,0)",
        [2, 2, 6, 4],
        [3, 1, 2, 3],
        1,
        (1, 0),
        false,
        (0, 0),
    ),
    (
        "5x5 pad 2",
        [1, 2, 7, 7],
        [5, 5, 2, 3],
        1,
        (2, 2),
        false,
        (0, 0),
    ),
    ("1x1", [2, 4, 5, 5], [1, 1, 4, 3], 1, (0, 0), false, (0, 0)),
    (
        "3x3 valid",
        [1, 3, 7, 8],
        [3, 3, 3, 2],
        1,
        (0, 0),
        false,
        (0, 0),
    ),
    // 9 = (4 - 1) * 2 + 3: every input row is read; 10: the last row is not, so the input
    // gradient needs output padding 1.
    (
        "3x3 stride 2 valid, 9x9",
        [2, 2, 9, 9],
        [3, 3, 2, 3],
        2,
        (0, 0),
        false,
        (0, 0),
    ),
    (
        "3x3 stride 2 valid, 10x11",
        [1, 2, 10, 11],
        [3, 3, 2, 3],
        2,
        (0, 0),
        false,
        (0, 0),
    ),
    (
        "3x3 stride 2 pad 1",
        [1, 3, 8, 7],
        [3, 3, 3, 2],
        2,
        (1, 1),
        false,
        (0, 0),
    ),
    (
        "transposed 3x3 stride 2 op (1,0)",
        [1, 2, 4, 5],
        [3, 3, 2, 3],
        2,
        (1, 1),
        true,
        (1, 0),
    ),
    (
        "transposed 3x3 stride 2 op (1,1)",
        [2, 2, 3, 3],
        [3, 3, 2, 2],
        2,
        (0, 0),
        true,
        (1, 1),
    ),
];

fn spec(c: &Case) -> ConvSpec {
    let s = if c.5 {
        ConvSpec::transposed(c.3, c.4)
    } else {
        ConvSpec::forward(c.3, c.4)
    };
    s.with_output_padding(c.6)
}

fn reference(c: &Case, x: &Arr, w: &Arr) -> Arr {
    rc::conv_padded(x, w, c.3, c.4, c.5, c.6, ALPHA as f64)
}

#[test]
fn general_conv_forward_backward_and_double_backward() {
    let g = gpu();
    let mut r = rng(11);
    for case in CASES {
        let x = randn(&mut r, &case.1);
        let w = randn(&mut r, &case.2);
        let s = spec(case);
        check_op(
            case.0,
            &g,
            &[x, w],
            &|v| ops::conv(&v[0], &v[1], s, ALPHA, Precision::F32),
            &|a| reference(case, &a[0], &a[1]),
            &Check::default(),
        );
    }
}

#[test]
fn every_kernel_takes_output_padding_correctly() {
    // Wide enough (16 outputs) that the tiled kernel is a candidate too.
    let g = gpu();
    let caps = g.caps();
    let mut r = rng(12);
    for (name, x, w, s, p, op) in [
        (
            "2x2 s2 op (1,1)",
            [1, 4, 3, 5],
            [2, 2, 4, 16],
            2,
            (0, 0),
            (1, 1),
        ),
        (
            "4x4 s2 p1 op (1,0)",
            [2, 3, 4, 4],
            [4, 4, 3, 16],
            2,
            (1, 1),
            (1, 0),
        ),
        (
            "3x3 s2 p1 op (1,1)",
            [1, 4, 5, 6],
            [3, 3, 4, 16],
            2,
            (1, 1),
            (1, 1),
        ),
    ] {
        let geom = ConvGeometry::with_output_padding("conv", &x, &w, s, p, true, op).unwrap();
        let (xa, wa) = (randn(&mut r, &x), randn(&mut r, &w));
        let want = rc::conv_padded(&xa, &wa, s, p, true, op, ALPHA as f64);
        assert_eq!(
            want.shape,
            geom.out_shape(),
            "{name}: geometry vs reference"
        );
        let (xt, wt) = (upload(&g, &xa), upload(&g, &wa));
        let mut ran = vec![];
        for &kernel in ConvKernel::ALL {
            if !supports(kernel, &geom, &caps) {
                continue;
            }
            let y = conv_on(kernel, &xt, &wt, &geom, ALPHA).unwrap();
            let got = Arr::from_f32(y.shape(), &y.to_vec().unwrap());
            assert_close(&format!("{} {name}", kernel.name()), &got, &want, 1e-5);
            ran.push(kernel.name());
        }
        assert!(
            ran.contains(&"direct"),
            "{name}: the direct kernel takes every conv"
        );
    }
}

#[test]
fn adjoint_geometry_returns_to_the_input_shape() {
    // <conv(x, w), y> == <x, adjoint(y, swap(w))> holds only if the adjoint maps back to H x W;
    // check the sizes over a grid of shapes, including the ones that need output padding.
    for h in 5..12 {
        for (k, s, p) in [
            (3, 2, 0),
            (3, 2, 1),
            (1, 2, 0),
            (5, 3, 2),
            (7, 1, 3),
            (4, 2, 1),
        ] {
            let g = ConvGeometry::new("conv", &[1, 2, h, h + 1], &[k, k, 2, 3], s, (p, p), false);
            let Ok(g) = g else { continue };
            let a = g.adjoint().unwrap();
            assert_eq!((a.ho, a.wo), (h, h + 1), "adjoint of {}", g.label());
            assert_eq!(
                a.adjoint().unwrap().out_shape(),
                g.out_shape(),
                "{}",
                g.label()
            );
        }
    }
}

#[test]
fn shape_errors_name_the_conv() {
    let g = gpu();
    let x = Var::constant(upload(&g, &Arr::zeros(&[1, 3, 5, 5])));
    let w = Var::constant(upload(&g, &Arr::zeros(&[3, 3, 4, 2])));
    let e = ops::conv(&x, &w, ConvSpec::forward(1, (1, 1)), 1.0, Precision::F32)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv") && e.contains("channels"), "{e}");
    let w = Var::constant(upload(&g, &Arr::zeros(&[7, 1, 3, 2])));
    let e = ops::conv(&x, &w, ConvSpec::forward(1, (0, 0)), 1.0, Precision::F32)
        .unwrap_err()
        .to_string();
    assert!(e.contains("conv"), "{e}");
    let e = ops::conv(
        &x,
        &Var::constant(upload(&g, &Arr::zeros(&[3, 3, 3, 2]))),
        ConvSpec::forward(2, (0, 0)).with_output_padding((1, 0)),
        1.0,
        Precision::F32,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("output padding"), "{e}");
}
