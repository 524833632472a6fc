//! Reference epilogue (noise + bias + lrelu), instance norm, AdaIN, pixel norm and minibatch
//! stddev, in f64, written straight from the spec.

use super::{lrelu, Arr};

pub const EPS: f64 = 1e-8;

/// `lrelu(x + noise[n % NN, 0, p] * strength[c] + bias[c] * bias_mul, slope)`; `x` is `[N, C, ...]`.
pub fn epilogue(
    x: &Arr,
    noise: Option<&Arr>,
    strength: &Arr,
    bias: &Arr,
    bias_mul: f64,
    slope: f64,
) -> Arr {
    let (n, c) = (x.shape[0], x.shape[1]);
    let hw: usize = x.shape[2..].iter().product();
    let mut y = x.clone();
    for i in 0..n {
        for ch in 0..c {
            for p in 0..hw {
                let k = (i * c + ch) * hw + p;
                let mut v = x.data[k] + bias.data[ch] * bias_mul;
                if let Some(nz) = noise {
                    v += nz.data[(i % nz.shape[0]) * hw + p] * strength.data[ch];
                }
                y.data[k] = lrelu(v, slope);
            }
        }
    }
    y
}

/// Instance norm of `[N, C, H, W]`, biased variance.
pub fn instance_norm(x: &Arr) -> Arr {
    let hw = x.shape[2] * x.shape[3];
    let mut y = x.clone();
    for (src, dst) in x.data.chunks(hw).zip(y.data.chunks_mut(hw)) {
        let mean = src.iter().sum::<f64>() / hw as f64;
        let var = src.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / hw as f64;
        let r = 1.0 / (var + EPS).sqrt();
        for (d, s) in dst.iter_mut().zip(src) {
            *d = (s - mean) * r;
        }
    }
    y
}

/// `instance_norm(x) * (style[:, :C] + 1) + style[:, C:]`, style `[N, 2C]`.
pub fn adain(x: &Arr, style: &Arr) -> Arr {
    let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3]);
    let mut y = instance_norm(x);
    for (plane, d) in y.data.chunks_mut(hw).enumerate() {
        let (n, ch) = (plane / c, plane % c);
        let s = style.data[n * 2 * c + ch] + 1.0;
        let b = style.data[n * 2 * c + c + ch];
        for v in d {
            *v = *v * s + b;
        }
    }
    y
}

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
