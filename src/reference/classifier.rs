//! The classifier (`eval::classifier`) in f64, composed of the reference ops.

use std::collections::BTreeMap;

use super::conv::conv;
use super::dense::dense;
use super::epilogue::bias_relu;
use super::pool::max_pool2d;
use super::Arr;
use crate::eval::classifier::ClassifierConfig;

/// Features `[N, F]` and logits `[N, K]` of `x: [N, 1, S, S]`; `p` by `ClassifierConfig::tensors`
/// names.
pub fn classifier(cfg: &ClassifierConfig, p: &BTreeMap<String, Arr>, x: &Arr) -> (Arr, Arr) {
    classifier_dropout(cfg, p, x, None, None)
}

/// `classifier` with dropout multipliers on the flattened pooling output and on the features
/// (`eval::classifier::DropoutMasks`); the features returned are those before dropout.
pub fn classifier_dropout(
    _cfg: &ClassifierConfig,
    p: &BTreeMap<String, Arr>,
    x: &Arr,
    flat_mask: Option<&Arr>,
    feature_mask: Option<&Arr>,
) -> (Arr, Arr) {
    let mut y = x.clone();
    for l in 1..=3 {
        let w = &p[&format!("conv{l}.weight")];
        let fan_in = (9 * w.shape[2]) as f64;
        let c = conv(&y, w, 1, (1, 1), false, (2.0 / fan_in).sqrt());
        y = max_pool2d(&bias_relu(&c, &p[&format!("conv{l}.bias")]), 2, 2, 0);
    }
    if let Some(m) = flat_mask {
        y = y.zip(m, |a, k| a * k);
    }
    let h = dense(&y, &p["fc1.weight"], None, 2f64.sqrt(), 1.0);
    let features = bias_relu(&h, &p["fc1.bias"]);
    let kept = feature_mask.map_or_else(|| features.clone(), |m| features.zip(m, |a, k| a * k));
    let logits = dense(&kept, &p["fc2.weight"], Some(&p["fc2.bias"]), 1.0, 1.0);
    (features, logits)
}
