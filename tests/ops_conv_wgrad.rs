//! Every weight-gradient kernel (`ops::conv::wgrad`), named (`wgrad_on`), against the f64
//! reference on every shape of a table that it takes: the 3x3 "same" conv, the 4x4 stride-2
//! down-conv and the up-conv (its transposed conv, run as the down-conv's with x and dy
//! exchanged), with partial lane groups (C not a multiple of 8), 8- and 16-channel output
//! blocks, one-vec4 rows, single rows, and reductions long enough to be split into parts.
//! Then what each kernel must decline, the planner under explicit capabilities and policies,
//! and the differentiable ops (backward and double backward, as R1 needs) on shapes the
//! subgroup kernel takes.

mod common;
use common::*;

use stylegan_wgpu::gpu::{AdapterCaps, Policy};
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::wgrad::{subgroup, BLOCKED, GENERIC};
use stylegan_wgpu::ops::conv::Precision::F32;
use stylegan_wgpu::ops::conv::{plan_wgrad, wgrad_on, wgrad_supports, ConvGeometry, WgradKernel};
use stylegan_wgpu::reference::conv as rc;
use stylegan_wgpu::reference::Arr;

const ALPHA: f32 = 0.37;

#[derive(Clone, Copy)]
enum Kind {
    Same(usize),
    Down2,
    Up2,
}

/// (label, kind, input shape [N,C,H,W], output channels)
type Case = (&'static str, Kind, [usize; 4], usize);

const CASES: &[Case] = &[
    ("3x3 C5 partial lanes", Kind::Same(3), [2, 5, 8, 8], 16),
    ("3x3 32ch", Kind::Same(3), [1, 32, 16, 16], 32),
    ("3x3 odd H, O8", Kind::Same(3), [3, 3, 5, 8], 8),
    ("3x3 O24, 6 vec4/row", Kind::Same(3), [1, 7, 2, 24], 24),
    ("3x3 single row", Kind::Same(3), [1, 1, 1, 8], 16),
    ("3x3 one vec4/row", Kind::Same(3), [2, 6, 4, 4], 32),
    ("3x3 default model 16²", Kind::Same(3), [4, 32, 16, 16], 32),
    ("3x3 W 10 (generic)", Kind::Same(3), [2, 4, 6, 10], 16),
    ("3x3 O 12", Kind::Same(3), [1, 4, 4, 8], 12),
    ("3x3 parts", Kind::Same(3), [1, 8, 8200, 4], 16),
    ("1x1", Kind::Same(1), [2, 8, 4, 8], 16),
    ("5x5", Kind::Same(5), [1, 3, 6, 8], 16),
    ("down2 C5", Kind::Down2, [2, 5, 16, 16], 16),
    ("down2 O24 3 steps", Kind::Down2, [1, 3, 6, 24], 24),
    ("down2 WO 4", Kind::Down2, [3, 4, 8, 8], 16),
    ("down2 one output row", Kind::Down2, [1, 2, 2, 24], 8),
    ("down2 WO 6 (blocked)", Kind::Down2, [1, 4, 8, 12], 16),
    ("down2 parts", Kind::Down2, [1, 8, 16400, 8], 8),
    ("down2 32ch", Kind::Down2, [2, 32, 16, 16], 32),
    ("up2 16->8", Kind::Up2, [2, 16, 4, 8], 8),
    ("up2 32->32", Kind::Up2, [2, 32, 8, 8], 32),
    ("up2 C5 (blocked)", Kind::Up2, [2, 5, 4, 4], 16),
];

fn geometry(c: &Case) -> ConvGeometry {
    let x = c.2;
    match c.1 {
        Kind::Same(k) => ConvGeometry::same(&x, &[k, k, x[1], c.3]),
        Kind::Down2 => ConvGeometry::down2(&x, &[4, 4, x[1], c.3]),
        Kind::Up2 => ConvGeometry::up2(&x, &[4, 4, x[1], c.3]),
    }
    .unwrap()
}

fn reference(c: &Case, x: &Arr, dy: &Arr) -> Arr {
    let a = ALPHA as f64;
    match c.1 {
        Kind::Same(k) => rc::conv2d_wgrad(x, dy, k, a),
        Kind::Down2 => rc::conv_down2_wgrad(x, dy, a),
        Kind::Up2 => rc::conv_up2_wgrad(x, dy, a),
    }
}

#[test]
fn every_wgrad_kernel_matches_the_reference_on_every_shape_it_takes() {
    let g = gpu();
    let caps = g.caps();
    let mut r = rng(17);
    let mut ran = std::collections::BTreeMap::<&str, usize>::new();
    for case in CASES {
        let geom = geometry(case);
        let x = randn(&mut r, &case.2);
        let dy = randn(&mut r, &geom.out_shape());
        let want = reference(case, &x, &dy);
        let (xt, dyt) = (upload(&g, &x), upload(&g, &dy));
        for &kernel in WgradKernel::ALL {
            if !wgrad_supports(kernel, &geom, &caps) {
                continue;
            }
            let dw = wgrad_on(kernel, &xt, &dyt, &geom, ALPHA).unwrap();
            let got = Arr::from_f32(dw.shape(), &dw.to_vec().unwrap());
            assert_close(&format!("{} {}", kernel.name(), case.0), &got, &want, 1e-5);
            *ran.entry(kernel.name()).or_default() += 1;
        }
    }
    eprintln!("cases per kernel: {ran:?}");
    assert_eq!(ran.get("generic"), Some(&CASES.len()));
    // All but the 1x1, the 5x5, the 3x3 of width 10.
    assert_eq!(ran.get("blocked"), Some(&(CASES.len() - 3)));
    if caps.subgroup8 {
        // Also not: O 12, down2 with WO 6, up2 whose forward problem has 5 output channels.
        assert_eq!(ran.get("subgroup"), Some(&(CASES.len() - 6)));
    }
    if g.info().name.to_ascii_lowercase().contains("llvmpipe") {
        assert!(caps.subgroup8, "lavapipe must expose 8-wide subgroups");
    }
}

fn lavapipe() -> AdapterCaps {
    AdapterCaps {
        subgroup8: true,
        coop_f16_subgroup: 0,
        cpu: true,
        max_workgroups: 65535,
    }
}

#[test]
fn kernels_decline_what_they_cannot_do_and_the_plan_follows() {
    let lp = lavapipe();
    let no_sg = AdapterCaps {
        subgroup8: false,
        ..lp
    };
    let p = Policy::default();
    let same = |x: [usize; 4], o: usize| ConvGeometry::same(&x, &[3, 3, x[1], o]).unwrap();
    let down = |x: [usize; 4], o: usize| ConvGeometry::down2(&x, &[4, 4, x[1], o]).unwrap();
    let up = |x: [usize; 4], o: usize| ConvGeometry::up2(&x, &[4, 4, x[1], o]).unwrap();
    // The networks' shapes: default model 4²..32² with 32 channels at batch 16, official
    // widths up to 512 channels at 4²..1024².
    for (n, c, hw) in [
        (16, 32, 4),
        (16, 32, 32),
        (1, 512, 4),
        (4, 512, 8),
        (16, 512, 64),
        (16, 64, 256),
        (16, 16, 1024),
    ] {
        let g3 = same([n, c, hw, hw], c);
        assert_eq!(plan_wgrad(&g3, &lp, &p), subgroup::KERNEL, "{}", g3.label());
        assert_eq!(plan_wgrad(&g3, &no_sg, &p), BLOCKED, "{}", g3.label());
        if hw >= 8 {
            let gd = down([n, c, hw, hw], 2 * c);
            assert_eq!(plan_wgrad(&gd, &lp, &p), subgroup::KERNEL, "{}", gd.label());
            let gu = up([n, 2 * c, hw / 2, hw / 2], c);
            assert_eq!(plan_wgrad(&gu, &lp, &p), subgroup::KERNEL, "{}", gu.label());
        }
    }
    let off = Policy {
        subgroup_conv: false,
        ..Policy::default()
    };
    assert_eq!(plan_wgrad(&same([1, 8, 8, 8], 16), &lp, &off), BLOCKED);
    for (what, geom) in [
        ("O of 12", same([1, 8, 8, 8], 12)),
        ("W of 6", same([1, 8, 8, 6], 16)),
        ("down2 WO of 6", down([1, 8, 8, 12], 16)),
        ("up2 to 12 channels", up([1, 12, 4, 4], 16)),
        (
            "5x5",
            ConvGeometry::same(&[1, 8, 8, 8], &[5, 5, 8, 16]).unwrap(),
        ),
    ] {
        assert!(
            !wgrad_supports(subgroup::KERNEL, &geom, &lp),
            "subgroup must decline: {what}"
        );
    }
    assert!(!wgrad_supports(
        subgroup::KERNEL,
        &same([1, 8, 8, 8], 16),
        &no_sg
    ));
    let g5 = ConvGeometry::same(&[1, 8, 8, 8], &[5, 5, 8, 16]).unwrap();
    assert_eq!(plan_wgrad(&g5, &lp, &p), GENERIC);
    assert!(!wgrad_supports(BLOCKED, &g5, &lp));
    // Names are unique and find their kernel.
    for &k in WgradKernel::ALL {
        assert_eq!(WgradKernel::by_name(k.name()), Some(k));
    }
    // Naming a kernel that does not take the shape is an error, not a silent fallback.
    let gpu = gpu();
    let x = stylegan_wgpu::Tensor::zeros(&gpu, &[1, 8, 8, 6]).unwrap();
    let dy = stylegan_wgpu::Tensor::zeros(&gpu, &[1, 16, 8, 6]).unwrap();
    let e = wgrad_on(BLOCKED, &x, &dy, &same([1, 8, 8, 6], 16), 1.0).unwrap_err();
    assert!(e.to_string().contains("does not take"), "{e}");
    let e = wgrad_on(GENERIC, &dy, &x, &same([1, 8, 8, 6], 16), 1.0).unwrap_err();
    eprintln!("{e}");
}

/// The differentiable ops on shapes the subgroup kernel takes: backward and double backward
/// (the R1 penalty differentiates the weight gradient again) against finite differences.
#[test]
fn wgrad_ops_on_subgroup_shapes_match_finite_differences() {
    let g = gpu();
    let mut r = rng(21);
    let c = Check::default();
    let x = randn(&mut r, &[1, 3, 4, 8]);
    let dy = randn(&mut r, &[1, 8, 4, 8]);
    check_op(
        "conv2d_wgrad 3x3 (subgroup shape)",
        &g,
        &[x.clone(), dy],
        &|v| ops::conv2d_wgrad(&v[0], &v[1], 3, 0.5),
        &|a| rc::conv2d_wgrad(&a[0], &a[1], 3, 0.5),
        &c,
    );
    let dy2 = randn(&mut r, &[1, 8, 2, 4]);
    check_op(
        "conv_down2_wgrad (subgroup shape)",
        &g,
        &[x, dy2],
        &|v| ops::conv_down2_wgrad(&v[0], &v[1], 0.5),
        &|a| rc::conv_down2_wgrad(&a[0], &a[1], 0.5),
        &c,
    );
    let xs = randn(&mut r, &[1, 8, 2, 4]);
    let dyu = randn(&mut r, &[1, 3, 4, 8]);
    check_op(
        "conv_up2_wgrad (subgroup shape)",
        &g,
        &[xs, dyu],
        &|v| ops::conv_up2_wgrad(&v[0], &v[1], 0.5),
        &|a| rc::conv_up2_wgrad(&a[0], &a[1], 0.5),
        &c,
    );
    let xw = randn(&mut r, &[1, 2, 4, 8]);
    let w = randn(&mut r, &[3, 3, 2, 16]);
    check_op(
        "conv2d 3x3, weight gradient on subgroup",
        &g,
        &[xw, w],
        &|v| ops::conv2d(&v[0], &v[1], 0.5, F32),
        &|a| rc::conv2d(&a[0], &a[1], 0.5),
        &c,
    );
    let tallies = g.tallies();
    eprintln!("{tallies:?}");
    if g.caps().subgroup8 {
        assert!(tallies.iter().any(|(k, _)| *k == "conv wgrad on subgroup"));
    }
}
