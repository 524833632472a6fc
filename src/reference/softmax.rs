//! Reference log-softmax and softmax cross-entropy (`ops::softmax`).

use super::Arr;

/// `x - logsumexp(x)` along each row of `x: [N, K]` (max subtracted first).
pub fn log_softmax(x: &Arr) -> Arr {
    let k = x.shape[1];
    let mut out = Vec::with_capacity(x.numel());
    for row in x.data.chunks(k) {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        out.extend(row.iter().map(|v| v - lse));
    }
    Arr::new(&x.shape, out)
}

/// Per-sample `-Σ_k t[n,k] log softmax(x)[n,k]`, `[N]`.
pub fn softmax_cross_entropy(x: &Arr, t: &Arr) -> Arr {
    let k = x.shape[1];
    let ls = log_softmax(x);
    let v = ls
        .data
        .chunks(k)
        .zip(t.data.chunks(k))
        .map(|(l, t)| -l.iter().zip(t).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    Arr::new(&[x.shape[0]], v)
}
