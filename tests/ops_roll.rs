//! `ops::roll` (torch.roll over the last two axes) against the f64 reference
//! (`reference::roll`), its backward and double backward against finite differences.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::roll::roll;
use stylegan_wgpu::reference::Arr;

#[test]
fn roll_matches_the_reference() {
    let g = gpu();
    let mut r = rng(1);
    let c = Check::default();
    // Shifts of one pixel both ways, larger than the side, zero; odd sizes; rank 2 and 4.
    for (shape, dy, dx) in [
        (vec![2usize, 3, 5, 7], 1isize, 0isize),
        (vec![2, 3, 5, 7], 0, 1),
        (vec![1, 1, 8, 8], -1, 3),
        (vec![1, 2, 4, 6], 9, -13),
        (vec![5, 3], 2, 0),
        (vec![1, 1, 4, 4], 0, 0),
    ] {
        let x = randn(&mut r, &shape);
        // A nonlinear use of the output, so the second-order check runs through the backward.
        check_op(
            &format!("roll {shape:?} by ({dy}, {dx})"),
            &g,
            &[x],
            &|v| ops::mul(&v[0], &ops::roll(&v[0], dy, dx)?),
            &|a| a[0].zip(&roll(&a[0], dy, dx), |p, q| p * q),
            &c,
        );
    }
    let e = ops::roll_t(&upload(&g, &Arr::zeros(&[4])), 1, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("roll") && e.contains("[4]"), "{e}");
}
