//! Reference matmul with transpose flags and the equalized-learning-rate dense layer (f64).

use super::Arr;

/// `alpha * op(a) @ op(b)`, `op` transposing when its flag is set.
pub fn matmul(a: &Arr, b: &Arr, ta: bool, tb: bool, alpha: f64) -> Arr {
    let (m, k) = if ta {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let n = if tb { b.shape[0] } else { b.shape[1] };
    let at = |i: usize, p: usize| {
        if ta {
            a.data[p * m + i]
        } else {
            a.data[i * k + p]
        }
    };
    let bt = |p: usize, j: usize| {
        if tb {
            b.data[j * k + p]
        } else {
            b.data[p * n + j]
        }
    };
    let mut y = Arr::zeros(&[m, n]);
    for i in 0..m {
        for j in 0..n {
            y.data[i * n + j] = alpha * (0..k).map(|p| at(i, p) * bt(p, j)).sum::<f64>();
        }
    }
    y
}

/// `x @ (w * gain/sqrt(I) * lrmul) + b * lrmul`, `x` flattened to `[N, I]` in NCHW order.
pub fn dense(x: &Arr, w: &Arr, b: Option<&Arr>, gain: f64, lrmul: f64) -> Arr {
    let n = x.shape[0];
    let i = x.numel() / n;
    let o = w.shape[1];
    let mut y = matmul(
        &x.reshape(&[n, i]),
        w,
        false,
        false,
        gain / (i as f64).sqrt() * lrmul,
    );
    if let Some(b) = b {
        for r in 0..n {
            for j in 0..o {
                y.data[r * o + j] += b.data[j] * lrmul;
            }
        }
    }
    y
}
