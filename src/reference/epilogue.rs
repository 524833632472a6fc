//! Reference layer epilogue (noise + bias + lrelu) and bias + ReLU (`ops::epilogue`), written
//! straight from the spec.

use super::elementwise::lrelu;
use super::Arr;

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

/// Gradients of `epilogue` from the gradient `g` of its output `y` (whose sign is that of the
/// pre-activation, as lrelu keeps signs): `dx = g * (y > 0 ? 1 : slope)`,
/// `dbias[c] = bias_mul * Σ dx[:, c]`, `dstrength[c] = Σ dx[n, c, p] * noise[n % NN, 0, p]`.
pub fn epilogue_backward(
    g: &Arr,
    y: &Arr,
    noise: Option<&Arr>,
    bias_mul: f64,
    slope: f64,
) -> (Arr, Arr, Option<Arr>) {
    let (n, c) = (y.shape[0], y.shape[1]);
    let hw: usize = y.shape[2..].iter().product();
    let dx = g.zip(y, |gv, yv| if yv > 0.0 { gv } else { gv * slope });
    let mut db = Arr::zeros(&[c]);
    let mut ds = noise.map(|_| Arr::zeros(&[c]));
    for i in 0..n {
        for ch in 0..c {
            for p in 0..hw {
                let d = dx.data[(i * c + ch) * hw + p];
                db.data[ch] += bias_mul * d;
                if let (Some(nz), Some(ds)) = (noise, ds.as_mut()) {
                    ds.data[ch] += d * nz.data[(i % nz.shape[0]) * hw + p];
                }
            }
        }
    }
    (dx, db, ds)
}
