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
