//! Reference elementwise ops, broadcast and reductions.

use super::Arr;

pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn pad(shape: &[usize], rank: usize) -> Vec<usize> {
    let mut v = vec![1; rank - shape.len()];
    v.extend_from_slice(shape);
    v
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        idx[k] = i % shape[k];
        i /= shape[k];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Tiles `x` to `shape`.
pub fn broadcast_to(x: &Arr, shape: &[usize]) -> Arr {
    let xs = pad(&x.shape, shape.len());
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| {
            let idx: Vec<usize> = unravel(i, shape)
                .iter()
                .zip(&xs)
                .map(|(&a, &d)| if d == 1 { 0 } else { a })
                .collect();
            x.data[ravel(&idx, &xs)]
        })
        .collect();
    Arr::new(shape, data)
}

/// `alpha *` sum of `x` over the dims where `shape` is 1.
pub fn sum_to(x: &Arr, shape: &[usize], alpha: f64) -> Arr {
    let mut out = Arr::zeros(shape);
    for i in 0..x.numel() {
        let idx: Vec<usize> = unravel(i, &x.shape)
            .iter()
            .zip(shape)
            .map(|(&a, &d)| if d == 1 { 0 } else { a })
            .collect();
        out.data[ravel(&idx, shape)] += x.data[i];
    }
    out.map(|v| v * alpha)
}

pub fn sum_sq_per_sample(x: &Arr) -> Arr {
    let n = x.shape[0];
    let per = x.numel() / n;
    Arr::new(
        &[n],
        (0..n)
            .map(|i| x.data[i * per..(i + 1) * per].iter().map(|v| v * v).sum())
            .collect(),
    )
}

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

/// `x + b[c]` then ReLU, for `[N, C, ...]`.
pub fn bias_relu(x: &Arr, b: &Arr) -> Arr {
    let c = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    let data = x
        .data
        .iter()
        .enumerate()
        .map(|(i, v)| (v + b.data[(i / inner) % c]).max(0.0))
        .collect();
    Arr::new(&x.shape, data)
}

/// `torch.roll(x, shifts=(dy, dx), dims=(-2, -1))`.
pub fn roll(x: &Arr, dy: isize, dx: isize) -> Arr {
    let r = x.shape.len();
    let (h, w) = (x.shape[r - 2], x.shape[r - 1]);
    let data = (0..x.numel())
        .map(|i| {
            let (j, k, plane) = ((i / w) % h, i % w, i / (h * w));
            let sj = (j as isize - dy).rem_euclid(h as isize) as usize;
            let sk = (k as isize - dx).rem_euclid(w as isize) as usize;
            x.data[(plane * h + sj) * w + sk]
        })
        .collect();
    Arr::new(&x.shape, data)
}
