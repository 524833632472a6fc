//! Reference broadcast and reductions (`ops::reduce`).

use super::Arr;

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
