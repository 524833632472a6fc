//! Matmul (all four transpose combinations, sizes not multiples of the 4x4 block) and the
//! equalized-learning-rate dense layer (`ops::dense`): GPU vs the f64 reference
//! (`reference::dense`), backward and double backward vs finite differences. Every matmul
//! kernel of the planner's table (`MatmulKernel::ALL`) on every flag combination, odd sizes
//! and inner dims split into parts, against the reference.

mod common;
use common::*;
use stylegan_wgpu::gpu::{AdapterCaps, Policy};
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::dense::{
    matmul_batched_on, matmul_batched_supports, matmul_on, matmul_plan, matmul_supports, Batch,
    MatmulKernel, MatmulShape,
};
use stylegan_wgpu::reference::dense as r;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::rng::Seeded;

#[test]
fn matmul_all_transposes() {
    let g = gpu();
    let mut rn = rng(21);
    let c = Check::default();
    let (m, k, n) = (5, 7, 9);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = randn(&mut rn, &(if ta { [k, m] } else { [m, k] }));
        let b = randn(&mut rn, &(if tb { [n, k] } else { [k, n] }));
        check_op(
            &format!("matmul ta={ta} tb={tb}"),
            &g,
            &[a, b],
            &|v| ops::matmul(&v[0], &v[1], ta, tb, 0.8),
            &|x| r::matmul(&x[0], &x[1], ta, tb, 0.8),
            &c,
        );
    }
}

#[test]
fn matmul_sizes() {
    let g = gpu();
    let mut rn = rng(22);
    let c = Check::default();
    // Single row/column, exact multiples of the block, and a grid of several workgroups
    // (ceil(37/4)*ceil(70/4) = 180 blocks > 64 per workgroup).
    for (m, k, n) in [(1, 3, 1), (4, 8, 4), (1, 13, 6), (37, 5, 70)] {
        let a = randn(&mut rn, &[m, k]);
        let b = randn(&mut rn, &[k, n]);
        check_op(
            &format!("matmul {m}x{k}x{n}"),
            &g,
            &[a, b],
            &|v| ops::matmul(&v[0], &v[1], false, false, 1.0),
            &|x| r::matmul(&x[0], &x[1], false, false, 1.0),
            &c,
        );
    }
    // A long reduction.
    let a = randn(&mut rn, &[3, 300]);
    let b = randn(&mut rn, &[6, 300]);
    let cl = Check {
        second_order: false,
        ..Default::default()
    };
    check_op(
        "matmul K=300",
        &g,
        &[a, b],
        &|v| ops::matmul(&v[0], &v[1], false, true, 0.1),
        &|x| r::matmul(&x[0], &x[1], false, true, 0.1),
        &cl,
    );
}

#[test]
fn dense_layers() {
    let g = gpu();
    let mut rn = rng(23);
    let c = Check::default();
    let (n, i, o) = (3, 7, 5);
    let x = randn(&mut rn, &[n, i]);
    // Stored mapping-net weights have std 1/lrmul.
    let w = randn(&mut rn, &[i, o]).map(|v| v * 100.0);
    let b = randn(&mut rn, &[o]).map(|v| v * 10.0);
    let (gain, lrmul) = (2f64.sqrt(), 0.01);
    check_op(
        "dense lrmul 0.01 +bias",
        &g,
        &[x.clone(), w.clone(), b.clone()],
        &|v| ops::dense(&v[0], &v[1], Some(&v[2]), gain as f32, lrmul as f32),
        &|a| r::dense(&a[0], &a[1], Some(&a[2]), gain, lrmul),
        &c,
    );
    check_op(
        "dense lrmul 0.01 no bias",
        &g,
        &[x.clone(), w.clone()],
        &|v| ops::dense(&v[0], &v[1], None, gain as f32, lrmul as f32),
        &|a| r::dense(&a[0], &a[1], None, gain, lrmul),
        &c,
    );
    let w1 = randn(&mut rn, &[i, o]);
    check_op(
        "dense gain 1 +bias",
        &g,
        &[x.clone(), w1.clone(), b.clone()],
        &|v| ops::dense(&v[0], &v[1], Some(&v[2]), 1.0, 1.0),
        &|a| r::dense(&a[0], &a[1], Some(&a[2]), 1.0, 1.0),
        &c,
    );
    // 4-D input [N, C, 4, 4] flattened in NCHW order (the discriminator head).
    let x4 = randn(&mut rn, &[2, 3, 4, 4]);
    let w4 = randn(&mut rn, &[48, 5]);
    let b4 = randn(&mut rn, &[5]);
    check_op(
        "dense 4-D input",
        &g,
        &[x4.clone(), w4.clone(), b4.clone()],
        &|v| ops::dense(&v[0], &v[1], Some(&v[2]), gain as f32, 1.0),
        &|a| r::dense(&a[0], &a[1], Some(&a[2]), gain, 1.0),
        &c,
    );
    // The NCHW flattening order, checked by hand: only input element (c=1,h=2,w=3) is set, and
    // only weight row 1*16+2*4+3 = 27 is nonzero.
    let mut xe = Arr::zeros(&[1, 3, 4, 4]);
    xe.data[27] = 1.0;
    let mut we = Arr::zeros(&[48, 1]);
    we.data[27] = 48f64.sqrt();
    let y = ops::dense(&param(&g, &xe), &param(&g, &we), None, 1.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!((y[0] - 1.0).abs() < 1e-6, "flatten order: {y:?}");
    // A nonlinear function of the output so that second order sees the x-w interaction and
    // the bias.
    check_op(
        "square(dense)",
        &g,
        &[x, w1, b],
        &|v| ops::square(&ops::dense(&v[0], &v[1], Some(&v[2]), gain as f32, 1.0)?),
        &|a| r::dense(&a[0], &a[1], Some(&a[2]), gain, 1.0).map(|v| v * v),
        &c,
    );
}

#[test]
fn shape_errors() {
    let g = gpu();
    let mut rn = rng(24);
    let a = param(&g, &randn(&mut rn, &[5, 7]));
    let b = param(&g, &randn(&mut rn, &[6, 9]));
    let err = ops::matmul(&a, &b, false, false, 1.0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("matmul") && err.contains("[5, 7]") && err.contains("[6, 9]"),
        "{err}"
    );
    eprintln!("matmul error: {err}");
    let v = param(&g, &randn(&mut rn, &[7]));
    let err = ops::matmul(&a, &v, false, false, 1.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("matmul") && err.contains("[7]"), "{err}");
    let w = param(&g, &randn(&mut rn, &[8, 3]));
    let err = ops::dense(&a, &w, None, 1.0, 1.0).unwrap_err().to_string();
    assert!(
        err.contains("dense") && err.contains("[5, 7]") && err.contains("[8, 3]"),
        "{err}"
    );
    let w = param(&g, &randn(&mut rn, &[7, 3]));
    let bias = param(&g, &randn(&mut rn, &[4]));
    let err = ops::dense(&a, &w, Some(&bias), 1.0, 1.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dense") && err.contains("[4]"), "{err}");
    eprintln!("dense error: {err}");
}

/// The operands of `op(a)[m, k] @ op(b)[k, n]` as stored for flags `ta`, `tb`.
fn operands(rn: &mut Seeded, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> (Arr, Arr) {
    let a = randn(rn, &(if ta { [k, m] } else { [m, k] }));
    let b = randn(rn, &(if tb { [n, k] } else { [k, n] }));
    (a, b)
}

/// Every kernel that takes the shape on this adapter, every flag combination, against the f64
/// reference: shapes of the networks (aligned: vec4 loads and stores), sizes that are not
/// multiples of 4 (scalar loads, a K % 4 tail, clamped edge tiles), single rows and columns,
/// a tile width that does not divide N, and inner dims long enough to be split into parts
/// (the subgroup kernels' parts hold 65536 values, the blocked kernel's 16384).
#[test]
fn matmul_every_kernel() {
    let g = gpu();
    let caps = g.caps();
    let mut rn = rng(25);
    let shapes = [
        (64, 512, 512),
        (4, 512, 512),
        (5, 7, 9),
        (37, 5, 70),
        (1, 13, 6),
        (3, 1, 2),
        (33, 66, 35),
        (40, 12, 8),
        (8, 20, 40),
        (2, 70001, 5),
        (4, 131080, 8),
    ];
    let mut ran = std::collections::BTreeMap::<&str, usize>::new();
    for &(m, k, n) in &shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            // The long reductions once per layout of the long side is enough.
            if k > 1000 && ta != tb {
                continue;
            }
            let (a, b) = operands(&mut rn, m, k, n, ta, tb);
            let want = r::matmul(&a, &b, ta, tb, 0.7);
            let (at, bt) = (upload(&g, &a), upload(&g, &b));
            let s = MatmulShape {
                m,
                k,
                n,
                trans_a: ta,
                trans_b: tb,
            };
            for &kernel in MatmulKernel::ALL {
                if !matmul_supports(kernel, &s, &caps) {
                    continue;
                }
                let got = matmul_on(kernel, &at, &bt, ta, tb, 0.7).unwrap();
                let got = Arr::from_f32(got.shape(), &got.to_vec().unwrap());
                // f32 sums of k products: the error grows like sqrt(k).
                let tol = 1e-6 * (k as f64).sqrt().max(10.0);
                assert_close(
                    &format!("{} {m}x{k}x{n} ta={ta} tb={tb}", kernel.name()),
                    &got,
                    &want,
                    tol,
                );
                *ran.entry(kernel.name()).or_default() += 1;
            }
        }
    }
    eprintln!("ran: {ran:?}");
    assert!(ran.get("blocked").copied().unwrap_or(0) > 0);
    if caps.subgroup8 {
        for k in MatmulKernel::ALL {
            assert!(
                ran.get(k.name()).copied().unwrap_or(0) > 30,
                "{k:?}: {ran:?}"
            );
        }
    }
}

/// Batched products in one dispatch (`matmul_batched_on`, what the 1x1 conv runs on): every
/// kernel that takes a batch, every flag combination, either operand batched (the other one
/// shared) or both, aligned and odd sizes, against the f64 reference of each product.
#[test]
fn matmul_batched_every_kernel() {
    let g = gpu();
    let caps = g.caps();
    let mut rn = rng(26);
    let mut ran = std::collections::BTreeMap::<&str, usize>::new();
    for (m, k, n) in [(64, 192, 36), (5, 7, 9), (37, 13, 70), (16, 8, 4)] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for (nb, ba, bb) in [(3, false, true), (2, true, false), (2, true, true)] {
                let batch = Batch {
                    n: nb,
                    a: ba,
                    b: bb,
                };
                let mats: Vec<(Arr, Arr)> = (0..nb)
                    .map(|_| operands(&mut rn, m, k, n, ta, tb))
                    .collect();
                // A shared operand is the first product's.
                let pick = |i: usize, on: bool| if on { i } else { 0 };
                let stack = |on: bool, f: &dyn Fn(&(Arr, Arr)) -> Arr| {
                    let one = f(&mats[0]);
                    if !on {
                        return one;
                    }
                    let mut shape = vec![nb];
                    shape.extend_from_slice(&one.shape);
                    let data = mats.iter().flat_map(|p| f(p).data).collect();
                    Arr { shape, data }
                };
                let a = stack(ba, &|p| p.0.clone());
                let b = stack(bb, &|p| p.1.clone());
                let mut want = Vec::new();
                for i in 0..nb {
                    let c = r::matmul(&mats[pick(i, ba)].0, &mats[pick(i, bb)].1, ta, tb, 0.7);
                    want.extend(c.data);
                }
                let want = Arr {
                    shape: vec![nb, m, n],
                    data: want,
                };
                let (at, bt) = (upload(&g, &a), upload(&g, &b));
                let s = MatmulShape {
                    m,
                    k,
                    n,
                    trans_a: ta,
                    trans_b: tb,
                };
                for &kernel in MatmulKernel::ALL {
                    if !matmul_batched_supports(kernel, &s, batch, &caps) {
                        continue;
                    }
                    let got = matmul_batched_on(kernel, &at, &bt, ta, tb, batch, 0.7).unwrap();
                    let got = Arr::from_f32(got.shape(), &got.to_vec().unwrap());
                    assert_close(
                        &format!("{} {m}x{k}x{n} ta={ta} tb={tb} {batch:?}", kernel.name()),
                        &got,
                        &want,
                        1e-5,
                    );
                    *ran.entry(kernel.name()).or_default() += 1;
                }
            }
        }
    }
    eprintln!("ran: {ran:?}");
    if caps.subgroup8 {
        for k in MatmulKernel::ALL {
            if k.name() != "blocked" {
                assert_eq!(ran.get(k.name()), Some(&48), "{k:?}: {ran:?}");
            }
        }
    }
    // A batched operand whose leading dim is not the batch is a shape error.
    let a = stylegan_wgpu::Tensor::zeros(&g, &[4, 4]).unwrap();
    let b = stylegan_wgpu::Tensor::zeros(&g, &[2, 4, 4]).unwrap();
    let three = Batch {
        n: 3,
        a: false,
        b: true,
    };
    let e = matmul_batched_on(
        MatmulKernel::SUBGROUP_ROWS_4X32,
        &a,
        &b,
        false,
        false,
        three,
        1.0,
    )
    .unwrap_err();
    assert!(e.to_string().contains("batched operand"), "{e}");
}

/// The planner: subgroup kernels only with 8-wide subgroups and the policy's switch on, lanes
/// on the longer side of the output; the blocked kernel otherwise.
#[test]
fn matmul_plan_choices() {
    let caps = |subgroup8| AdapterCaps {
        subgroup8,
        coop_f16_subgroup: 0,
        cpu: true,
        max_workgroups: 65535,
    };
    let s = |m, n| MatmulShape {
        m,
        k: 512,
        n,
        trans_a: false,
        trans_b: true,
    };
    let p = Policy::default();
    let plan = |sh, c, p| matmul_plan(&sh, &c, p).map(|k| k.name());
    assert_eq!(plan(s(64, 512), caps(true), &p), Some("subgroup-cols-8x32"));
    assert_eq!(plan(s(512, 4), caps(true), &p), Some("subgroup-rows-8x32"));
    assert_eq!(plan(s(16, 40), caps(true), &p), Some("subgroup-cols-4x32"));
    assert_eq!(plan(s(40, 16), caps(true), &p), Some("subgroup-rows-4x32"));
    assert_eq!(plan(s(64, 512), caps(false), &p), Some("blocked"));
    let off = Policy {
        subgroup_conv: false,
        ..Policy::default()
    };
    assert_eq!(plan(s(64, 512), caps(true), &off), Some("blocked"));
    for k in MatmulKernel::ALL {
        assert_eq!(MatmulKernel::by_name(k.name()), Some(*k));
        assert!(matmul_supports(*k, &s(3, 5), &caps(true)));
    }
    assert!(!matmul_supports(
        MatmulKernel::SUBGROUP_ROWS_4X32,
        &s(3, 5),
        &caps(false)
    ));
}

/// The gradients on each kernel, through the planner: a context whose policy turns the
/// subgroup kernels off runs everything on the blocked kernel.
#[test]
fn matmul_gradients_blocked() {
    let g = gpu_with(Policy {
        subgroup_conv: false,
        ..Policy::default()
    });
    let mut rn = rng(26);
    let c = Check::default();
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let (a, b) = operands(&mut rn, 6, 9, 5, ta, tb);
        check_op(
            &format!("blocked matmul ta={ta} tb={tb}"),
            &g,
            &[a, b],
            &|v| ops::matmul(&v[0], &v[1], ta, tb, 0.8),
            &|x| r::matmul(&x[0], &x[1], ta, tb, 0.8),
            &c,
        );
    }
}
