//! Reference elementwise functions (`ops::elementwise`).

/// `lrelu(x) = max(x, slope*x)`.
pub fn lrelu(x: f64, slope: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        x * slope
    }
}

pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `Σ xs` elementwise (`ops::add_n`).
pub fn add_n(xs: &[&super::Arr]) -> super::Arr {
    let mut out = xs[0].clone();
    for x in &xs[1..] {
        out = out.zip(x, |a, b| a + b);
    }
    out
}
