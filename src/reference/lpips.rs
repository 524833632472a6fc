//! LPIPS-VGG16 (`eval::lpips`, `eval::vgg16`) in f64, written from the lpips package's formulas
//! rather than composed of the crate's ops: scaling layer, VGG16 stages, per-pixel unit
//! normalization over channels with the package's `+ 1e-10`, lin weights, spatial mean, sum.

use super::conv::conv;
use super::epilogue::bias_relu;
use super::pool::max_pool2d;
use super::Arr;
use crate::eval::lpips::{lin_tensors, SCALE, SHIFT};
use crate::eval::vgg16::convs;
use crate::nn::params::HostWeights;

fn arr(t: &HostWeights, name: &str) -> Arr {
    let v = &t[name];
    Arr::from_f32(&v.shape, &v.data)
}

/// OIHW -> HWIO.
fn hwio(w: &Arr) -> Arr {
    let (o, i, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    let mut out = Arr::zeros(&[kh, kw, i, o]);
    for oi in 0..o {
        for ci in 0..i {
            for a in 0..kh {
                for b in 0..kw {
                    out.data[((a * kw + b) * i + ci) * o + oi] = w.at4(oi, ci, a, b);
                }
            }
        }
    }
    out
}

/// The five stage outputs of torchvision's VGG16 `features` on `x: [N, 3, H, W]`.
pub fn vgg16_stages(vgg: &HostWeights, x: &Arr) -> Vec<Arr> {
    let layers = convs();
    let mut taps = Vec::new();
    let mut y = x.clone();
    for (k, &(i, _, _, stage)) in layers.iter().enumerate() {
        if k > 0 && layers[k - 1].3 != stage {
            y = max_pool2d(&y, 2, 2, 0);
        }
        let w = hwio(&arr(vgg, &format!("features.{i}.weight")));
        y = bias_relu(
            &conv(&y, &w, 1, (1, 1), false, 1.0),
            &arr(vgg, &format!("features.{i}.bias")),
        );
        if layers.get(k + 1).is_none_or(|n| n.3 != stage) {
            taps.push(y.clone());
        }
    }
    taps
}

/// `x / (sqrt(Σ_c x²) + 1e-10)` at every pixel (`lpips.normalize_tensor`).
fn normalize(x: &Arr) -> Arr {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let mut out = x.clone();
    for b in 0..n {
        for p in 0..h * w {
            let idx = |ch: usize| (b * c + ch) * h * w + p;
            let len = (0..c).map(|ch| x.data[idx(ch)].powi(2)).sum::<f64>().sqrt();
            for ch in 0..c {
                out.data[idx(ch)] = x.data[idx(ch)] / (len + 1e-10);
            }
        }
    }
    out
}

/// LPIPS distances `[N]` of `a` and `b`, `[N, 3, H, W]` in [-1, 1].
pub fn lpips(vgg: &HostWeights, lin: &HostWeights, a: &Arr, b: &Arr) -> Vec<f64> {
    let scale = |x: &Arr| {
        let plane = x.shape[2] * x.shape[3];
        let mut y = x.clone();
        for (i, v) in y.data.iter_mut().enumerate() {
            let c = (i / plane) % 3;
            *v = (*v - SHIFT[c] as f64) / SCALE[c] as f64;
        }
        y
    };
    let (fa, fb) = (vgg16_stages(vgg, &scale(a)), vgg16_stages(vgg, &scale(b)));
    let n = a.shape[0];
    let mut d = vec![0.0; n];
    for ((x, y), (name, _)) in fa.iter().zip(&fb).zip(lin_tensors()) {
        let (x, y, w) = (normalize(x), normalize(y), arr(lin, &name));
        let (c, hw) = (x.shape[1], x.shape[2] * x.shape[3]);
        for (i, (p, q)) in x.data.iter().zip(&y.data).enumerate() {
            d[i / (c * hw)] += w.data[(i / hw) % c] * (p - q).powi(2) / hw as f64;
        }
    }
    d
}
