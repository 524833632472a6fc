//! The tiled implicit-GEMM conv kernel (`ops::conv_tiled`) in both tile configurations and
//! every mode it serves (stride-1 "same" convs of any odd size, the stride-2 4x4 down-conv, the
//! transposed stride-2 up-conv in its four phase classes) against the f64 reference, on shapes
//! that leave every tile partial (channels, pixels and the reduction not multiples of the tile).
//! Through the ops (`conv2d`, `conv_up2_fused`, `conv_down2_fused`) it also carries their
//! backward passes; those are checked against finite differences at a size that takes it.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv_tiled::{conv_tiled_t, ConvGeom, Tile, TILE_LARGE, TILE_SMALL};
use stylegan_wgpu::reference::conv as rc;
use stylegan_wgpu::reference::Arr;

const ALPHA: f32 = 0.37;

fn run(g: &stylegan_wgpu::Gpu, x: &Arr, w: &Arr, geom: &ConvGeom, tile: Tile) -> Arr {
    assert!(geom.supported(), "{geom:?} should be supported");
    let y = conv_tiled_t(&upload(g, x), &upload(g, w), geom, tile, ALPHA).unwrap();
    Arr::from_f32(y.shape(), &y.to_vec().unwrap())
}

fn geom(x: &Arr, w: &Arr, out: (usize, usize), stride: usize, pad: usize, t: bool) -> ConvGeom {
    ConvGeom {
        n: x.shape[0],
        c: x.shape[1],
        h: x.shape[2],
        w: x.shape[3],
        o: w.shape[3],
        ho: out.0,
        wo: out.1,
        k: w.shape[0],
        stride,
        pad,
        transposed: t,
    }
}

#[test]
fn tiled_conv_every_mode_and_tile() {
    let g = gpu();
    let mut r = rng(31);
    for tile in [TILE_SMALL, TILE_LARGE] {
        // Stride 1: 1x1, 3x3, 5x5; 70 output channels (one full and one partial 64-tile),
        // 2 * 9 * 11 = 198 pixels, reduction 9 * 19 = 171 rows (not a multiple of BK).
        let x = randn(&mut r, &[2, 19, 9, 11]);
        for k in [1usize, 3, 5] {
            let w = randn(&mut r, &[k, k, 19, 70]);
            let y = run(&g, &x, &w, &geom(&x, &w, (9, 11), 1, k / 2, false), tile);
            assert_close(
                &format!("tiled {}x{} conv k={k}", tile.bm, tile.bn),
                &y,
                &rc::conv2d(&x, &w, ALPHA as f64),
                1e-5,
            );
        }
        // Stride-2 4x4 down-conv, padding 1.
        let xe = randn(&mut r, &[3, 13, 10, 14]);
        let k4 = randn(&mut r, &[4, 4, 13, 33]);
        let y = run(&g, &xe, &k4, &geom(&xe, &k4, (5, 7), 2, 1, false), tile);
        assert_close(
            &format!("tiled {}x{} down2", tile.bm, tile.bn),
            &y,
            &rc::conv_down2(&xe, &k4, ALPHA as f64),
            1e-5,
        );
        // Transposed stride-2 4x4 up-conv: four phase classes.
        let k4 = randn(&mut r, &[4, 4, 19, 21]);
        let y = run(&g, &x, &k4, &geom(&x, &k4, (18, 22), 2, 1, true), tile);
        assert_close(
            &format!("tiled {}x{} up2 (transposed)", tile.bm, tile.bn),
            &y,
            &rc::conv_up2(&x, &k4, ALPHA as f64),
            1e-5,
        );
    }
}

#[test]
fn tiled_conv_declines_what_it_cannot_do() {
    let base = ConvGeom {
        n: 1,
        c: 4,
        h: 8,
        w: 8,
        o: 16,
        ho: 16,
        wo: 16,
        k: 4,
        stride: 2,
        pad: 1,
        transposed: true,
    };
    assert!(base.supported());
    // Transposed with k not a multiple of the stride: taps per class would differ.
    assert!(!ConvGeom { k: 3, ..base }.supported());
    // A reduction longer than one invocation may loop (lavapipe's loop budget).
    assert!(!ConvGeom {
        c: ops::MAX_LOOP,
        transposed: false,
        k: 3,
        stride: 1,
        ho: 8,
        wo: 8,
        ..base
    }
    .supported());
}

#[test]
fn ops_through_the_tiled_kernel_forward_and_backward() {
    // 16 output channels send conv2d (on adapters without the subgroup kernel, and for 1x1
    // everywhere) and both fused resampling convs through the tiled kernel; their input
    // gradients are tiled convs too (flipped kernel; the transposed conv and its adjoint).
    let g = gpu();
    let mut r = rng(32);
    let c = Check {
        second_order: false,
        ..Check::default()
    };
    let x = randn(&mut r, &[1, 3, 6, 6]);
    check_op(
        "conv2d 1x1 3->16 (tiled)",
        &g,
        &[x.clone(), randn(&mut r, &[1, 1, 3, 16])],
        &|v| ops::conv2d(&v[0], &v[1], ALPHA),
        &|a| rc::conv2d(&a[0], &a[1], ALPHA as f64),
        &c,
    );
    check_op(
        "conv_up2_fused 3->16 (tiled)",
        &g,
        &[x.clone(), randn(&mut r, &[3, 3, 3, 16])],
        &|v| ops::conv_up2_fused(&v[0], &v[1], ALPHA),
        &|a| rc::conv_up2_fused(&a[0], &a[1], ALPHA as f64),
        &c,
    );
    let x16 = randn(&mut r, &[1, 16, 6, 6]);
    check_op(
        "conv_down2_fused 16->16 (tiled, input gradient transposed)",
        &g,
        &[x16, randn(&mut r, &[3, 3, 16, 16])],
        &|v| ops::conv_down2_fused(&v[0], &v[1], ALPHA),
        &|a| rc::conv_down2_fused(&a[0], &a[1], ALPHA as f64),
        &c,
    );
}
