//! Broadcast and reductions (`ops::reduce`): GPU vs the f64 reference (`reference::reduce`),
//! backward and double backward vs finite differences.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::{reduce, Arr};

#[test]
fn broadcast_and_reductions() {
    let g = gpu();
    let mut r = rng(3);
    let c = Check::default();
    let x = randn(&mut r, &[1, 3, 1, 5]);
    check_op(
        "broadcast_to",
        &g,
        &[x],
        &|v| ops::broadcast_to(&v[0], &[4, 3, 2, 5]),
        &|a| reduce::broadcast_to(&a[0], &[4, 3, 2, 5]),
        &c,
    );
    // A last dim that is a multiple of 4 takes the vec4 form of reduce/broadcast.wgsl: splat
    // along it (per-plane statistics), or copy it with vec4 loads while other dims broadcast.
    for (from, to) in [
        ([2usize, 3, 1, 1], [2usize, 3, 5, 8]),
        ([1, 3, 1, 8], [4, 3, 2, 8]),
        ([2, 1, 3, 4], [2, 5, 3, 4]),
        ([1, 1, 1, 1], [3, 1, 1, 12]),
    ] {
        let x = randn(&mut r, &from);
        check_op(
            &format!("broadcast_to {from:?} -> {to:?} (vec4)"),
            &g,
            &[x],
            &|v| ops::broadcast_to(&v[0], &to),
            &|a| reduce::broadcast_to(&a[0], &to),
            &c,
        );
    }
    let big = randn(&mut r, &[3, 5, 7, 9]);
    for target in [
        [1, 5, 1, 1],
        [3, 1, 7, 9],
        [3, 5, 1, 1],
        [1, 1, 1, 1],
        [1, 5, 7, 1],
        [3, 5, 7, 9],
    ] {
        check_op(
            &format!("sum_to {target:?}"),
            &g,
            std::slice::from_ref(&big),
            &|v| ops::sum_to(&v[0], &target, 0.5),
            &|a| reduce::sum_to(&a[0], &target, 0.5),
            &c,
        );
    }
    // Many short rows: the one-invocation-per-row path.
    let many = randn(&mut r, &[300, 7, 5]);
    check_op(
        "sum_to many rows",
        &g,
        &[many],
        &|v| ops::sum_to(&v[0], &[300, 1, 1], 2.0),
        &|a| reduce::sum_to(&a[0], &[300, 1, 1], 2.0),
        &Check {
            second_order: false,
            ..Check::default()
        },
    );
    // Long rows (more than one workgroup's worth per row) and odd sizes.
    // Positive values: a sum with heavy cancellation would measure f32 rounding, not the kernel.
    let long = uniform(&mut r, &[3, 1000], 0.5, 1.5);
    // Linear, so its second derivative is zero (checked on the small shapes above); with 3000
    // inputs the nested finite differences are pure rounding noise.
    let first_order = Check {
        second_order: false,
        ..Check::default()
    };
    check_op(
        "sum (long rows)",
        &g,
        std::slice::from_ref(&long),
        &|v| ops::sum(&v[0]),
        &|a| Arr::new(&[1], vec![a[0].data.iter().sum()]),
        &first_order,
    );
    check_op(
        "mean",
        &g,
        std::slice::from_ref(&long),
        &|v| ops::mean(&v[0]),
        &|a| Arr::new(&[1], vec![a[0].data.iter().sum::<f64>() / 3000.0]),
        &c,
    );
    check_op(
        "sum_sq_per_sample",
        &g,
        std::slice::from_ref(&big),
        &|v| ops::sum_sq_per_sample(&v[0]),
        &|a| reduce::sum_sq_per_sample(&a[0]),
        &c,
    );
}
