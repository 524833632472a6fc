//! Every conv kernel, named (`conv_on`), against the f64 reference on every shape of a table
//! that it takes: the nets' 3x3 / 1x1 / fused 4x4 stride-2 pair, and the shapes the next
//! networks bring (1x7, 7x1, 1x3, 3x1, 5x5, stride 2 without fused resampling, padding 0,
//! transposed strides). Shapes leave tiles partial (channels, pixels and the reduction not
//! multiples of a tile). Then what each kernel must decline, the planner under explicit
//! policies, and the ops' gradients on the subgroup and tiled kernels.

mod common;
use common::*;

use stylegan_wgpu::gpu::Policy;
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::Precision::F32;
use stylegan_wgpu::ops::conv::{
    candidates, conv_on, coop, direct, plan, subgroup, subgroup_general, supports, tiled, winograd,
    ConvGeometry, ConvKernel,
};
use stylegan_wgpu::reference::conv as rc;
use stylegan_wgpu::reference::Arr;

const ALPHA: f32 = 0.37;

/// (label, input shape, weight shape, stride, padding, transposed)
type Case = (
    &'static str,
    [usize; 4],
    [usize; 4],
    usize,
    (usize, usize),
    bool,
);

const CASES: &[Case] = &[
    // The subgroup kernel's shapes (K a multiple of 16, widths multiples of 4).
    ("3x3 same", [2, 5, 8, 8], [3, 3, 5, 16], 1, (1, 1), false),
    (
        "3x3 same 32ch",
        [1, 32, 16, 16],
        [3, 3, 32, 32],
        1,
        (1, 1),
        false,
    ),
    (
        "3x3 odd H, batch 3",
        [3, 3, 5, 8],
        [3, 3, 3, 16],
        1,
        (1, 1),
        false,
    ),
    (
        "3x3 3 segs/row, 3 blocks",
        [1, 7, 2, 24],
        [3, 3, 7, 48],
        1,
        (1, 1),
        false,
    ),
    (
        "3x3 single row",
        [1, 1, 1, 8],
        [3, 3, 1, 16],
        1,
        (1, 1),
        false,
    ),
    (
        "3x3 4 px/invocation",
        [2, 6, 4, 4],
        [3, 3, 6, 32],
        1,
        (1, 1),
        false,
    ),
    (
        "down2 8 px",
        [2, 5, 16, 16],
        [4, 4, 5, 16],
        2,
        (1, 1),
        false,
    ),
    (
        "down2 3 segs, 2 blocks",
        [1, 3, 6, 48],
        [4, 4, 3, 32],
        2,
        (1, 1),
        false,
    ),
    ("down2 4 px", [3, 4, 8, 8], [4, 4, 4, 16], 2, (1, 1), false),
    (
        "down2 one output row",
        [1, 2, 2, 24],
        [4, 4, 2, 16],
        2,
        (1, 1),
        false,
    ),
    (
        "up2 both parities",
        [2, 5, 8, 8],
        [4, 4, 5, 16],
        2,
        (1, 1),
        true,
    ),
    (
        "up2 odd H, 3 segs",
        [1, 3, 3, 12],
        [4, 4, 3, 32],
        2,
        (1, 1),
        true,
    ),
    (
        "up2 one input row",
        [3, 2, 1, 4],
        [4, 4, 2, 16],
        2,
        (1, 1),
        true,
    ),
    (
        "up2 3 blocks",
        [1, 16, 4, 16],
        [4, 4, 16, 48],
        2,
        (1, 1),
        true,
    ),
    // K a multiple of 8 but not of 16: 8 channels per invocation.
    (
        "3x3 8 channels",
        [2, 5, 8, 8],
        [3, 3, 5, 8],
        1,
        (1, 1),
        false,
    ),
    (
        "down2 3 blocks of 8",
        [2, 3, 8, 16],
        [4, 4, 3, 24],
        2,
        (1, 1),
        false,
    ),
    (
        "up2 8 channels",
        [2, 4, 4, 8],
        [4, 4, 4, 8],
        2,
        (1, 1),
        true,
    ),
    // Partial tiles: 70 outputs, 198 pixels, reductions not multiples of BK.
    (
        "1x1 partial tiles",
        [2, 19, 9, 11],
        [1, 1, 19, 70],
        1,
        (0, 0),
        false,
    ),
    (
        "3x3 partial tiles",
        [2, 19, 9, 11],
        [3, 3, 19, 70],
        1,
        (1, 1),
        false,
    ),
    (
        "3x3 even sides, partial tiles",
        [2, 19, 6, 10],
        [3, 3, 19, 70],
        1,
        (1, 1),
        false,
    ),
    (
        "5x5 partial tiles",
        [2, 19, 9, 11],
        [5, 5, 19, 70],
        1,
        (2, 2),
        false,
    ),
    (
        "down2 partial tiles",
        [3, 13, 10, 14],
        [4, 4, 13, 33],
        2,
        (1, 1),
        false,
    ),
    (
        "up2 partial tiles",
        [2, 19, 9, 11],
        [4, 4, 19, 21],
        2,
        (1, 1),
        true,
    ),
    (
        "ToRGB 1x1 -> 3",
        [2, 8, 8, 8],
        [1, 1, 8, 3],
        1,
        (0, 0),
        false,
    ),
    // What Inception-v3 and VGG16 bring.
    (
        "1x7 pad (0,3)",
        [2, 12, 9, 9],
        [1, 7, 12, 20],
        1,
        (0, 3),
        false,
    ),
    (
        "7x1 pad (3,0)",
        [2, 12, 9, 9],
        [7, 1, 12, 20],
        1,
        (3, 0),
        false,
    ),
    (
        "1x3 pad (0,1)",
        [1, 9, 6, 7],
        [1, 3, 9, 24],
        1,
        (0, 1),
        false,
    ),
    (
        "3x1 pad (1,0)",
        [1, 9, 6, 7],
        [3, 1, 9, 24],
        1,
        (1, 0),
        false,
    ),
    ("5x5 pad 2", [2, 6, 11, 11], [5, 5, 6, 17], 1, (2, 2), false),
    (
        "3x3 stride 2 pad 0",
        [2, 5, 15, 15],
        [3, 3, 5, 32],
        2,
        (0, 0),
        false,
    ),
    (
        "3x3 stride 2 pad 1",
        [1, 4, 9, 12],
        [3, 3, 4, 18],
        2,
        (1, 1),
        false,
    ),
    (
        "3x3 pad 0 (valid)",
        [2, 3, 13, 13],
        [3, 3, 3, 32],
        1,
        (0, 0),
        false,
    ),
    (
        "1x1 stride 2",
        [1, 6, 8, 8],
        [1, 1, 6, 16],
        2,
        (0, 0),
        false,
    ),
    // Inception's shapes on the general subgroup kernel (O a multiple of 16, odd widths,
    // partial row segments).
    (
        "1x7 odd width, 2 blocks of 32",
        [2, 5, 17, 17],
        [1, 7, 5, 64],
        1,
        (0, 3),
        false,
    ),
    (
        "7x1 odd width",
        [1, 6, 17, 17],
        [7, 1, 6, 16],
        1,
        (3, 0),
        false,
    ),
    (
        "1x3 pad (0,1) K16",
        [1, 4, 8, 8],
        [1, 3, 4, 16],
        1,
        (0, 1),
        false,
    ),
    (
        "3x1 pad (1,0) K16",
        [1, 4, 8, 6],
        [3, 1, 4, 16],
        1,
        (1, 0),
        false,
    ),
    (
        "5x5 pad 2 K16",
        [2, 3, 9, 11],
        [5, 5, 3, 16],
        1,
        (2, 2),
        false,
    ),
    (
        "3x3 stride 2 odd width",
        [1, 3, 15, 15],
        [3, 3, 3, 32],
        2,
        (0, 0),
        false,
    ),
    (
        "1x1 odd width K16",
        [2, 7, 5, 19],
        [1, 1, 7, 16],
        1,
        (0, 0),
        false,
    ),
    // The 1x1 matmul kernel's layouts: lanes on output channels (O >= H*W) or pixels, 4 or 8
    // per lane, batches, sizes not multiples of 4 (scalar loads and stores, a C % 4 tail).
    (
        "1x1 rows 8x32, batch 3",
        [3, 13, 3, 5],
        [1, 1, 13, 70],
        1,
        (0, 0),
        false,
    ),
    (
        "1x1 rows 4x32 aligned",
        [2, 8, 4, 4],
        [1, 1, 8, 32],
        1,
        (0, 0),
        false,
    ),
    (
        "1x1 cols 4x32, batch 3",
        [3, 12, 4, 6],
        [1, 1, 12, 20],
        1,
        (0, 0),
        false,
    ),
    (
        "FromRGB 1x1 3 -> 64",
        [2, 3, 16, 16],
        [1, 1, 3, 64],
        1,
        (0, 0),
        false,
    ),
    // Tall kernels run down columns: stride 2, a partial last column segment, 2 blocks.
    (
        "5x1 stride 2 pad (2,0), column segments",
        [2, 5, 13, 9],
        [5, 1, 5, 64],
        2,
        (2, 0),
        false,
    ),
    (
        "7x7 stride 2 pad 3",
        [1, 3, 12, 13],
        [7, 7, 3, 16],
        2,
        (3, 3),
        false,
    ),
    (
        "transposed 3x3 stride 2",
        [1, 4, 5, 6],
        [3, 3, 4, 16],
        2,
        (1, 1),
        true,
    ),
    (
        "transposed 2x2 stride 2 pad 0",
        [2, 4, 3, 5],
        [2, 2, 4, 16],
        2,
        (0, 0),
        true,
    ),
];

fn geometry(c: &Case) -> ConvGeometry {
    ConvGeometry::new("conv", &c.1, &c.2, c.3, c.4, c.5).unwrap()
}

fn reference(c: &Case, x: &Arr, w: &Arr) -> Arr {
    rc::conv(x, w, c.3, c.4, c.5, ALPHA as f64)
}

#[test]
fn every_kernel_matches_the_reference_on_every_shape_it_takes() {
    let g = gpu();
    let caps = g.caps();
    let mut r = rng(7);
    let mut ran = std::collections::BTreeMap::<&str, usize>::new();
    for case in CASES {
        let geom = geometry(case);
        let x = randn(&mut r, &case.1);
        let w = randn(&mut r, &case.2);
        let want = reference(case, &x, &w);
        assert_eq!(
            want.shape,
            geom.out_shape(),
            "{}: geometry vs reference",
            case.0
        );
        let (xt, wt) = (upload(&g, &x), upload(&g, &w));
        let mut any = false;
        for &kernel in ConvKernel::ALL {
            if !supports(kernel, &geom, &caps) {
                continue;
            }
            let y = conv_on(kernel, &xt, &wt, &geom, ALPHA).unwrap();
            let got = Arr::from_f32(y.shape(), &y.to_vec().unwrap());
            assert_close(&format!("{} {}", kernel.name(), case.0), &got, &want, 1e-5);
            *ran.entry(kernel.name()).or_default() += 1;
            any = true;
        }
        // The tiled kernel in both tile configurations (the planner uses the large one only on
        // GPUs).
        for tile in [tiled::TILE_SMALL, tiled::TILE_LARGE] {
            if let Ok(y) = tiled::run_with_tile(&xt, &wt, &geom, tile, ALPHA) {
                let got = Arr::from_f32(y.shape(), &y.to_vec().unwrap());
                let what = format!("tiled {}x{} {}", tile.bm, tile.bn, case.0);
                assert_close(&what, &got, &want, 1e-5);
            }
        }
        assert!(any, "{}: no kernel took it", case.0);
    }
    eprintln!("cases per kernel: {ran:?}");
    // The direct kernel takes everything; the tiled kernel all but the transposed conv whose
    // kernel (3) is not a multiple of its stride (2).
    assert_eq!(ran.get("direct"), Some(&CASES.len()));
    assert_eq!(ran.get("tiled"), Some(&(CASES.len() - 1)));
    if caps.subgroup8 {
        assert_eq!(
            ran.get("subgroup"),
            Some(&17),
            "the first 17 cases are subgroup shapes"
        );
        // Every forward case with O % 16 == 0: the 10 forward ones of those 17, and 14 more.
        assert_eq!(ran.get("subgroup-general"), Some(&24));
        // Every stride-1 unpadded 1x1.
        assert_eq!(ran.get("matmul"), Some(&7));
        // Every 3x3 "same" with even sides.
        assert_eq!(ran.get("winograd"), Some(&6));
    }
    if g.info().name.to_ascii_lowercase().contains("llvmpipe") {
        assert!(caps.subgroup8, "lavapipe must expose 8-wide subgroups");
    }
}

#[test]
fn kernels_decline_what_they_cannot_do() {
    use stylegan_wgpu::gpu::AdapterCaps;
    let lavapipe = AdapterCaps {
        subgroup8: true,
        coop_f16_subgroup: 0,
        cpu: true,
        max_workgroups: 65535,
    };
    let g = |x: [usize; 4], w: [usize; 4], s: usize, p: usize, t: bool| {
        ConvGeometry::new("t", &x, &w, s, (p, p), t).unwrap()
    };
    let sub = |geom: &ConvGeometry| supports(subgroup::KERNEL, geom, &lavapipe);
    let general = |geom: &ConvGeometry| supports(subgroup_general::KERNEL, geom, &lavapipe);
    assert!(general(&g([1, 4, 9, 9], [7, 7, 4, 16], 2, 3, false)));
    for (what, geom) in [
        ("K of 24", g([1, 4, 8, 8], [3, 3, 4, 24], 1, 1, false)),
        ("8x8 kernel", g([1, 4, 9, 9], [8, 8, 4, 16], 1, 0, false)),
        ("stride 3", g([1, 4, 9, 9], [3, 3, 4, 16], 3, 0, false)),
        ("transposed", g([1, 4, 8, 8], [3, 3, 4, 16], 2, 1, true)),
    ] {
        assert!(!general(&geom), "subgroup-general must decline: {what}");
    }
    assert!(sub(&g([1, 4, 8, 8], [3, 3, 4, 16], 1, 1, false)));
    for (what, geom) in [
        (
            "K not a multiple of 8",
            g([1, 4, 8, 8], [3, 3, 4, 12], 1, 1, false),
        ),
        (
            "W not a multiple of 4",
            g([1, 4, 8, 10], [3, 3, 4, 16], 1, 1, false),
        ),
        ("W of 2", g([1, 4, 2, 2], [3, 3, 4, 16], 1, 1, false)),
        ("1x1", g([1, 4, 8, 8], [1, 1, 4, 16], 1, 0, false)),
        ("3x3 pad 0", g([1, 4, 8, 8], [3, 3, 4, 16], 1, 0, false)),
        ("3x3 stride 2", g([1, 4, 8, 8], [3, 3, 4, 16], 2, 1, false)),
        (
            "down2 output width 6",
            g([1, 4, 8, 12], [4, 4, 4, 16], 2, 1, false),
        ),
        (
            "down2 odd height",
            g([1, 4, 7, 8], [4, 4, 4, 16], 2, 1, false),
        ),
        (
            "up2 input width 6",
            g([1, 4, 8, 6], [4, 4, 4, 16], 2, 1, true),
        ),
        ("up2 K of 12", g([1, 4, 8, 8], [4, 4, 4, 12], 2, 1, true)),
    ] {
        assert!(!sub(&geom), "subgroup must decline: {what}");
    }
    let no_sg = AdapterCaps {
        subgroup8: false,
        ..lavapipe
    };
    assert!(!supports(
        subgroup::KERNEL,
        &g([1, 4, 8, 8], [3, 3, 4, 16], 1, 1, false),
        &no_sg
    ));
    // Winograd: 3x3 "same" with even sides and transformed tensors within 128 MiB; a
    // candidate at f32 only.
    let wino = |geom: &ConvGeometry| supports(winograd::KERNEL, geom, &lavapipe);
    assert!(wino(&g([1, 4, 8, 10], [3, 3, 4, 5], 1, 1, false)));
    for (what, geom) in [
        ("odd height", g([1, 4, 7, 8], [3, 3, 4, 16], 1, 1, false)),
        ("5x5", g([1, 4, 8, 8], [5, 5, 4, 16], 1, 2, false)),
        ("pad 0", g([1, 4, 8, 8], [3, 3, 4, 16], 1, 0, false)),
        ("stride 2", g([1, 4, 8, 8], [3, 3, 4, 16], 2, 1, false)),
        (
            "V of 256 MiB",
            g([4, 512, 128, 128], [3, 3, 512, 16], 1, 1, false),
        ),
    ] {
        assert!(!wino(&geom), "winograd must decline: {what}");
    }
    assert!(!supports(
        winograd::KERNEL,
        &g([1, 4, 8, 8], [3, 3, 4, 16], 1, 1, false),
        &no_sg
    ));
    let policy = Policy::default();
    let wide = g([1, 64, 8, 8], [3, 3, 64, 64], 1, 1, false);
    let cands = |geom: &ConvGeometry, prec| candidates(geom, &lavapipe, &policy, prec);
    assert!(cands(&wide, F32).contains(&winograd::KERNEL));
    assert!(!cands(&wide, stylegan_wgpu::ops::conv::Precision::F16).contains(&winograd::KERNEL));
    // Last in the fixed order, after the direct kernel that takes everything: only measured
    // times pick it.
    for geom in [wide, g([1, 4, 8, 10], [3, 3, 4, 5], 1, 1, false)] {
        assert_ne!(plan(&geom, &lavapipe, &policy, F32), Some(winograd::KERNEL));
    }
    // Tiled: a transposed conv whose kernel is not a multiple of the stride has classes with
    // different taps; a reduction longer than one invocation's loop budget.
    let tiled = |geom: &ConvGeometry| supports(tiled::KERNEL, geom, &lavapipe);
    assert!(tiled(&g([1, 4, 8, 8], [4, 4, 4, 16], 2, 1, true)));
    assert!(!tiled(&g([1, 4, 8, 8], [3, 3, 4, 16], 2, 1, true)));
    assert!(!tiled(&g(
        [1, ops::MAX_LOOP, 8, 8],
        [3, 3, ops::MAX_LOOP, 16],
        1,
        1,
        false
    )));
    assert!(!supports(
        coop::KERNEL,
        &g([1, 4, 8, 8], [3, 3, 4, 16], 1, 1, false),
        &lavapipe
    ));
    // Naming a kernel that does not take the shape is an error, not a silent fallback.
    let gpu = gpu();
    let geom = g([1, 4, 8, 10], [3, 3, 4, 16], 1, 1, false);
    let x = stylegan_wgpu::Tensor::zeros(&gpu, &[1, 4, 8, 10]).unwrap();
    let w = stylegan_wgpu::Tensor::zeros(&gpu, &[3, 3, 4, 16]).unwrap();
    let e = conv_on(subgroup::KERNEL, &x, &w, &geom, 1.0).unwrap_err();
    eprintln!("{e}");
    assert!(e.to_string().contains("does not take"), "{e}");
}

#[test]
fn the_policy_steers_the_plan_without_the_environment() {
    // Policies given explicitly: no `set_var` while other tests run.
    let off = Policy {
        subgroup_conv: false,
        tiled_conv: false,
        ..Policy::default()
    };
    let g = gpu_with(off.clone());
    assert_eq!(g.policy(), &off);
    let mut r = rng(3);
    let x = param(&g, &randn(&mut r, &[1, 4, 8, 8]));
    let w = param(&g, &randn(&mut r, &[3, 3, 4, 16]));
    let geom = ConvGeometry::same(x.shape(), w.shape()).unwrap();
    assert_eq!(
        plan(&geom, &g.caps(), g.policy(), F32),
        Some(direct::KERNEL)
    );
    let y = ops::conv2d(&x, &w, ALPHA, F32).unwrap();
    y.to_vec().unwrap();
    assert_eq!(g.tallies(), vec![("conv f32 on direct", 1)]);
    // The default policy on the same adapter plans the fast kernels again.
    let d = gpu();
    let want = if d.caps().subgroup8 {
        subgroup::KERNEL
    } else {
        tiled::KERNEL
    };
    assert_eq!(plan(&geom, &d.caps(), d.policy(), F32), Some(want));
}

/// The ops on shapes the subgroup kernels take (K = 16, widths multiples of 4), so their
/// forward runs on them, with gradients against finite differences of the reference.
#[test]
fn conv_ops_on_subgroup_shapes_match_finite_differences() {
    let g = gpu();
    let mut r = rng(9);
    let c = Check::default();
    let x = randn(&mut r, &[1, 2, 4, 8]);
    let k4 = randn(&mut r, &[4, 4, 2, 16]);
    check_op(
        "conv_down2 (subgroup shape)",
        &g,
        &[x.clone(), k4.clone()],
        &|v| ops::conv_down2(&v[0], &v[1], 0.5, F32),
        &|a| rc::conv_down2(&a[0], &a[1], 0.5),
        &c,
    );
    let xs = randn(&mut r, &[1, 2, 2, 4]);
    check_op(
        "conv_up2 (subgroup shape)",
        &g,
        &[xs, k4],
        &|v| ops::conv_up2(&v[0], &v[1], 0.5, F32),
        &|a| rc::conv_up2(&a[0], &a[1], 0.5),
        &c,
    );
    let w3 = randn(&mut r, &[3, 3, 2, 16]);
    check_op(
        "conv2d 3x3 (subgroup shape)",
        &g,
        &[x, w3],
        &|v| ops::conv2d(&v[0], &v[1], 0.5, F32),
        &|a| rc::conv2d(&a[0], &a[1], 0.5),
        &c,
    );
    if g.caps().subgroup8 {
        let tallies = g.tallies();
        eprintln!("{tallies:?}");
        assert!(tallies.iter().any(|(k, _)| *k == "conv f32 on subgroup"));
    }
}

#[test]
fn ops_through_the_tiled_kernel_forward_and_backward() {
    // With the subgroup kernel off, 16 output channels send conv2d and both fused resampling
    // convs through the tiled kernel; their input gradients are tiled convs too (flipped
    // kernel; the transposed conv and its adjoint).
    let g = gpu_with(Policy {
        subgroup_conv: false,
        ..Policy::default()
    });
    let mut r = rng(32);
    let c = Check {
        second_order: false,
        ..Check::default()
    };
    let x = randn(&mut r, &[1, 3, 6, 8]);
    check_op(
        "conv2d 1x1 3->16 (tiled)",
        &g,
        &[x.clone(), randn(&mut r, &[1, 1, 3, 16])],
        &|v| ops::conv2d(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv2d(&a[0], &a[1], ALPHA as f64),
        &c,
    );
    check_op(
        "conv_up2_fused 3->16 (tiled)",
        &g,
        &[x, randn(&mut r, &[3, 3, 3, 16])],
        &|v| ops::conv_up2_fused(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv_up2_fused(&a[0], &a[1], ALPHA as f64),
        &c,
    );
    let x16 = randn(&mut r, &[1, 16, 6, 8]);
    check_op(
        "conv_down2_fused 16->16 (tiled, input gradient transposed)",
        &g,
        &[x16, randn(&mut r, &[3, 3, 16, 16])],
        &|v| ops::conv_down2_fused(&v[0], &v[1], ALPHA, F32),
        &|a| rc::conv_down2_fused(&a[0], &a[1], ALPHA as f64),
        &c,
    );
    let tallies = g.tallies();
    eprintln!("{tallies:?}");
    assert!(tallies.iter().any(|(k, _)| *k == "conv f32 on tiled"));
    assert!(!tallies.iter().any(|(k, _)| k.contains("subgroup")));
}

#[test]
fn stylegan_dump_wgsl_writes_every_compiled_kernel() {
    let dir = std::env::temp_dir().join(format!("stylegan-dump-{}", std::process::id()));
    let policy =
        Policy::from_vars(|k| (k == "STYLEGAN_DUMP_WGSL").then(|| dir.display().to_string()));
    let g = gpu_with(policy);
    let mut r = rng(4);
    let x = param(&g, &randn(&mut r, &[1, 4, 8, 8]));
    let w = param(&g, &randn(&mut r, &[3, 3, 4, 16]));
    ops::conv2d(&x, &w, ALPHA, F32).unwrap().to_vec().unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    eprintln!("{files:?}");
    assert!(!files.is_empty());
    for f in &files {
        assert!(f.ends_with(".wgsl"), "{f}");
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(
            text.contains(concat!("@", "compute")),
            "{f} holds no entry point"
        );
    }
    let want = if g.caps().subgroup8 {
        "conv_subgroup_3x3_n1_c4_k16_h8_w8.wgsl"
    } else {
        "conv_tiled_bm64_bn64_bk16_tm8_tn8.wgsl"
    };
    assert!(files.iter().any(|f| f == want), "{want} not in {files:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The general subgroup kernel with every block size and orientation it may be given
/// (`run_with_block`, what benchmarks compare), against the reference; a block that does not
/// divide the output channels is an error.
#[test]
fn subgroup_general_blocks_match_the_reference() {
    let g = gpu();
    if !g.caps().subgroup8 {
        eprintln!("no 8-wide subgroups: the general subgroup kernel is not offered here");
        let geom =
            ConvGeometry::new("conv", &[1, 3, 8, 8], &[3, 3, 3, 16], 1, (1, 1), false).unwrap();
        assert!(!supports(subgroup_general::KERNEL, &geom, &g.caps()));
        return;
    }
    let mut r = rng(11);
    let cases: [Case; 3] = [
        (
            "3x3 odd sizes",
            [2, 5, 9, 11],
            [3, 3, 5, 32],
            1,
            (1, 1),
            false,
        ),
        ("7x1", [1, 4, 17, 10], [7, 1, 4, 32], 1, (3, 0), false),
        (
            "1x3 stride 2",
            [1, 3, 9, 16],
            [1, 3, 3, 32],
            2,
            (0, 1),
            false,
        ),
    ];
    for case in &cases {
        let geom = geometry(case);
        let x = randn(&mut r, &case.1);
        let w = randn(&mut r, &case.2);
        let want = reference(case, &x, &w);
        let (xt, wt) = (upload(&g, &x), upload(&g, &w));
        for (kb, px) in [(16, 4), (16, 8), (32, 4), (32, 8)] {
            for vert in [false, true] {
                let y =
                    subgroup_general::run_with_block(&xt, &wt, &geom, kb, px, vert, ALPHA).unwrap();
                let got = Arr::from_f32(y.shape(), &y.to_vec().unwrap());
                let what = format!("{} {kb}x{px} vert={vert}", case.0);
                assert_close(&what, &got, &want, 1e-5);
            }
        }
        let e = subgroup_general::run_with_block(&xt, &wt, &geom, 24, 4, false, ALPHA);
        assert!(e.is_err(), "{}: 24 channels do not divide 32", case.0);
    }
}
