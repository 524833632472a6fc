//! Reference pixel norm (`ops::pixel_norm`), written straight from the spec.

use super::{Arr, EPS};

/// `x * rsqrt(mean over dim 1 of x^2 + eps)` for `[N, C, ...]`.
pub fn pixel_norm(x: &Arr) -> Arr {
    let (n, c) = (x.shape[0], x.shape[1]);
    let hw: usize = x.shape[2..].iter().product();
    let mut y = x.clone();
    for i in 0..n {
        for p in 0..hw {
            let idx = |ch: usize| (i * c + ch) * hw + p;
            let ms = (0..c).map(|ch| x.data[idx(ch)].powi(2)).sum::<f64>() / c as f64;
            let r = 1.0 / (ms + EPS).sqrt();
            for ch in 0..c {
                y.data[idx(ch)] = x.data[idx(ch)] * r;
            }
        }
    }
    y
}
