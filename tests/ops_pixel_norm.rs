//! `ops::pixel_norm`: GPU vs the f64 reference (`reference::pixel_norm`), backward and double
//! backward vs finite differences, on `[N, C]` and `[N, C, H, W]`.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::pixel_norm;

#[test]
fn pixel_norm_rank2_and_rank4() {
    let g = gpu();
    let mut r = rng(14);
    let c = Check::default();
    let x2 = randn(&mut r, &[3, 5]);
    check_op(
        "pixel_norm [3, 5]",
        &g,
        &[x2],
        &|v| ops::pixel_norm(&v[0]),
        &|a| pixel_norm::pixel_norm(&a[0]),
        &c,
    );
    let x4 = randn(&mut r, &[2, 3, 5, 5]);
    check_op(
        "pixel_norm [2, 3, 5, 5]",
        &g,
        &[x4],
        &|v| ops::pixel_norm(&v[0]),
        &|a| pixel_norm::pixel_norm(&a[0]),
        &c,
    );
}
