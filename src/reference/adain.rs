//! Reference instance norm and AdaIN (`ops::adain`), written straight from the spec.

use super::{Arr, EPS};

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

/// Gradients of instance norm (`style` None) or `adain` with respect to `x` and the style, given
/// the gradient `g` of the output: per plane, with `xhat` the normalized plane, `r` its
/// `1/sqrt(var + eps)` and `gs = g * (style[:, c] + 1)` (instance norm: `g`),
/// `dx = r * (gs - mean(gs) - xhat * mean(gs * xhat))`, `dstyle[:, c] = Σ g * xhat`,
/// `dstyle[:, C + c] = Σ g`.
pub fn adain_backward(x: &Arr, style: Option<&Arr>, g: &Arr) -> (Arr, Option<Arr>) {
    let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3]);
    let n = x.shape[0];
    let mut dx = x.clone();
    let mut ds = style.map(|_| Arr::zeros(&[n, 2 * c]));
    for plane in 0..n * c {
        let (ni, ch) = (plane / c, plane % c);
        let xs = &x.data[plane * hw..(plane + 1) * hw];
        let gp = &g.data[plane * hw..(plane + 1) * hw];
        let mean = xs.iter().sum::<f64>() / hw as f64;
        let var = xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / hw as f64;
        let r = 1.0 / (var + EPS).sqrt();
        let xhat: Vec<f64> = xs.iter().map(|v| (v - mean) * r).collect();
        let scale = style.map_or(1.0, |s| s.data[ni * 2 * c + ch] + 1.0);
        let gs: Vec<f64> = gp.iter().map(|v| v * scale).collect();
        let m1 = gs.iter().sum::<f64>() / hw as f64;
        let m2 = gs.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / hw as f64;
        for l in 0..hw {
            dx.data[plane * hw + l] = r * (gs[l] - m1 - xhat[l] * m2);
        }
        if let Some(d) = ds.as_mut() {
            d.data[ni * 2 * c + ch] = gp.iter().zip(&xhat).map(|(a, b)| a * b).sum();
            d.data[ni * 2 * c + c + ch] = gp.iter().sum();
        }
    }
    (dx, ds)
}
