//! Reference minibatch stddev (`ops::mbstd`), written straight from the spec.

use super::{Arr, EPS};

/// Minibatch stddev, `[N, C, H, W] -> [N, C+1, H, W]`; `None` when N is not a multiple of
/// `min(group_size, N)`.
pub fn minibatch_stddev(x: &Arr, group_size: usize) -> Option<Arr> {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let g = group_size.min(n);
    if n % g != 0 {
        return None;
    }
    let m = n / g;
    let chw = c * h * w;
    let stats: Vec<f64> = (0..m)
        .map(|mm| {
            (0..chw)
                .map(|j| {
                    let vals: Vec<f64> = (0..g).map(|gg| x.data[(gg * m + mm) * chw + j]).collect();
                    let mu = vals.iter().sum::<f64>() / g as f64;
                    let var = vals.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / g as f64;
                    (var + EPS).sqrt()
                })
                .sum::<f64>()
                / chw as f64
        })
        .collect();
    let mut y = Arr::zeros(&[n, c + 1, h, w]);
    for i in 0..n {
        y.data[i * (chw + h * w)..i * (chw + h * w) + chw]
            .copy_from_slice(&x.data[i * chw..(i + 1) * chw]);
        for p in 0..h * w {
            y.data[i * (chw + h * w) + chw + p] = stats[i % m];
        }
    }
    Some(y)
}
