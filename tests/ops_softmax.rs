//! `log_softmax` and `softmax_cross_entropy` (`ops::softmax`), with `exp`: GPU vs the f64
//! reference (`reference::softmax`), backward and double backward vs finite differences; large
//! logits (no overflow); shape errors.

mod common;
use common::*;
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::softmax as r;
use stylegan_wgpu::reference::Arr;

#[test]
fn exp_and_log_softmax() {
    let g = gpu();
    let mut rn = rng(5);
    let c = Check::default();
    let x = randn(&mut rn, &[3, 7]);
    check_op(
        "exp",
        &g,
        std::slice::from_ref(&x),
        &|v| ops::exp(&v[0]),
        &|a| a[0].map(f64::exp),
        &c,
    );
    // One row, ten classes (the classifiers), a long row over several invocation loops.
    for shape in [[4usize, 10], [1, 10], [2, 300]] {
        let x = randn(&mut rn, &shape);
        check_op(
            &format!("log_softmax {shape:?}"),
            &g,
            &[x],
            &|v| ops::log_softmax(&v[0]),
            &|a| r::log_softmax(&a[0]),
            &c,
        );
    }
}

#[test]
fn cross_entropy_hard_and_soft_targets() {
    let g = gpu();
    let mut rn = rng(6);
    let c = Check {
        no_grad: vec![1],
        ..Check::default()
    };
    let x = randn(&mut rn, &[5, 10]);
    // Hard labels as one-hot rows, and soft targets (label smoothing) that sum to one.
    let labels = [3usize, 0, 9, 3, 7];
    let mut hard = Arr::zeros(&[5, 10]);
    for (i, &l) in labels.iter().enumerate() {
        hard.data[i * 10 + l] = 1.0;
    }
    let soft = hard.map(|v| 0.9 * v + 0.01);
    for (what, t) in [("one-hot", hard.clone()), ("smoothed", soft)] {
        check_op(
            &format!("softmax_cross_entropy {what}"),
            &g,
            &[x.clone(), t],
            &|v| ops::softmax_cross_entropy(&v[0], &v[1]),
            &|a| r::softmax_cross_entropy(&a[0], &a[1]),
            &c,
        );
    }
    // `one_hot` builds the same targets; a label out of range is an error naming it.
    let t = ops::one_hot(&g, &labels, 10).unwrap();
    assert_close("one_hot", &download(&t), &hard, 0.0);
    let e = ops::one_hot(&g, &[1, 10], 10).unwrap_err().to_string();
    assert!(e.contains("label 10") && e.contains("sample 1"), "{e}");
}

#[test]
fn large_logits_do_not_overflow() {
    let g = gpu();
    let x = Arr::new(&[2, 3], vec![1000.0, 0.0, -1000.0, 88.0, 89.0, 90.0]);
    let y = download(&ops::log_softmax(&param(&g, &x)).unwrap());
    let want = r::log_softmax(&x);
    assert!(y.data.iter().all(|v| v.is_finite()), "{:?}", y.data);
    assert_close("log_softmax of large logits", &y, &want, 1e-6);
}

#[test]
fn bad_shapes_are_named() {
    let g = gpu();
    let x = param(&g, &Arr::zeros(&[2, 3, 4]));
    let e = ops::log_softmax(&x).unwrap_err().to_string();
    assert!(e.contains("log_softmax") && e.contains("[2, 3, 4]"), "{e}");
    let x = param(&g, &Arr::zeros(&[2, 3]));
    let t = param(&g, &Arr::zeros(&[2, 4]));
    let e = ops::softmax_cross_entropy(&x, &t).unwrap_err().to_string();
    assert!(e.contains("targets [2, 4]"), "{e}");
}
