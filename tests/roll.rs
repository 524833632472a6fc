//! `ops::roll` (torch.roll over the last two axes) against the f64 reference, its backward and
//! double backward against finite differences; and the projector's noise regularization
//! (`projector::noise_regularization`, built from roll, mean and 2x2 average pooling) against
//! the official formula written out in f64, with its gradient.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::projector::noise_regularization;
use stylegan_wgpu::reference::basic::roll;
use stylegan_wgpu::reference::pool::avg_pool2d;
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

/// The official regularization in f64 (stylegan2-ada-pytorch `projector.py`).
fn reg_reference(maps: &[Arr]) -> f64 {
    let mut total = 0.0;
    for m in maps {
        let mut v = m.clone();
        loop {
            for (dy, dx) in [(0, 1), (1, 0)] {
                let p = v.zip(&roll(&v, dy, dx), |a, b| a * b);
                let mean = p.data.iter().sum::<f64>() / p.numel() as f64;
                total += mean * mean;
            }
            if v.shape[2] <= 8 {
                break;
            }
            v = avg_pool2d(&v, 2, 2, 0, true);
        }
    }
    total
}

#[test]
fn noise_regularization_matches_the_official_formula() {
    let g = gpu();
    let mut r = rng(2);
    // Sides 4, 8 (taken once) and 32 (32, 16, 8): a map with correlated neighbours so the
    // value is not tiny.
    let maps: Vec<Arr> = [4usize, 8, 32]
        .iter()
        .map(|&s| {
            let a = randn(&mut r, &[1, 1, s, s]);
            a.zip(&roll(&a, 0, 1), |p, q| p + 0.5 * q)
        })
        .collect();
    let check = Check::default();
    check_op(
        "noise_regularization",
        &g,
        &maps,
        &|v| noise_regularization(v),
        &|a| Arr::new(&[1], vec![reg_reference(a)]),
        &check,
    );
}
