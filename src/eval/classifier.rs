//! A small CNN classifier for 32x32 grayscale images (Fashion-MNIST padded 28 -> 32, as the
//! dataset loader and the default model make them): the evaluation network of the own-domain
//! metrics. Its penultimate activations are the features FID and KID are computed on in that
//! domain; its class probabilities label generated images.
//!
//! `x [N, 1, S, S]` in [-1, 1] -> three times (3x3 conv, pad 1, + bias, ReLU, 2x2 max pool)
//! -> flatten -> dense + bias, ReLU (the features) -> dense + bias (the logits). Convs and dense
//! layers use the runtime scale of the rest of the crate (weights stored N(0, 1), multiplied by
//! `sqrt(2 / fan_in)` at run time), so one Adam learning rate suits every layer.

use crate::error::{Error, Result};
use crate::eval::image_input::{average_to_gray, check_images};
use crate::gpu::{Gpu, Tensor};
use crate::nn::params::{require_tensor, HostTensor, HostWeights};
use crate::ops;
use crate::ops::conv::{ConvSpec, Precision};
use crate::tape::Var;

/// Fashion-MNIST's class names by label (`t10k-labels-idx1-ubyte` order).
pub use crate::nn::labels::FMNIST_CLASSES;

/// The classifier's widths and input size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassifierConfig {
    /// Side of the square grayscale input (a multiple of 8).
    pub side: usize,
    /// Output channels of the three convs.
    pub channels: [usize; 3],
    /// Width of the feature layer.
    pub features: usize,
    pub classes: usize,
}

impl ClassifierConfig {
    /// The Fashion-MNIST evaluation network: 32x32 input, 32/64/64 channels, 128 features,
    /// 10 classes (about 190k parameters).
    pub fn fmnist() -> ClassifierConfig {
        ClassifierConfig {
            side: 32,
            channels: [32, 64, 64],
            features: 128,
            classes: 10,
        }
    }

    /// Every parameter tensor: name and shape (conv weights HWIO).
    pub fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        let [c1, c2, c3] = self.channels;
        let flat = c3 * (self.side / 8) * (self.side / 8);
        vec![
            ("conv1.weight".into(), vec![3, 3, 1, c1]),
            ("conv1.bias".into(), vec![c1]),
            ("conv2.weight".into(), vec![3, 3, c1, c2]),
            ("conv2.bias".into(), vec![c2]),
            ("conv3.weight".into(), vec![3, 3, c2, c3]),
            ("conv3.bias".into(), vec![c3]),
            ("fc1.weight".into(), vec![flat, self.features]),
            ("fc1.bias".into(), vec![self.features]),
            ("fc2.weight".into(), vec![self.features, self.classes]),
            ("fc2.bias".into(), vec![self.classes]),
        ]
    }

    pub fn validate(&self) -> Result<()> {
        if self.side == 0 || !self.side.is_multiple_of(8) {
            return Err(Error::Invalid(format!(
                "classifier input side {} must be a positive multiple of 8",
                self.side
            )));
        }
        if self.channels.contains(&0) || self.features == 0 || self.classes < 2 {
            return Err(Error::Invalid(format!(
                "classifier widths {:?}, {} features, {} classes: all must be positive and \
                 there must be at least 2 classes",
                self.channels, self.features, self.classes
            )));
        }
        Ok(())
    }
}

/// 8-bit pixels to [-1, 1] (`x / 127.5 - 1`).
fn to_unit_range(images: &[u8]) -> Vec<f32> {
    images.iter().map(|&v| v as f32 / 127.5 - 1.0).collect()
}

/// Random initial parameters: weights N(0, 1) (scaled at run time), biases zero.
pub fn init_classifier(cfg: &ClassifierConfig, seed: u64) -> HostWeights {
    let mut rng = crate::rng::seeded(seed);
    cfg.tensors()
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let data = if name.ends_with("weight") {
                crate::rng::std_normal(&mut rng, n)
            } else {
                vec![0.0; n]
            };
            (name, HostTensor { shape, data })
        })
        .collect()
}

/// The classifier on one GPU context; parameters are gradient leaves (`Var::param`).
pub struct Classifier {
    cfg: ClassifierConfig,
    /// In `cfg.tensors()` order.
    params: Vec<(String, Var)>,
}

/// Dropout of one training step: per-activation multipliers, 0 (dropped) or `1 / (1 - p)`
/// (kept), drawn on the host (`train::classifier::dropout_mask`). `flat` multiplies the
/// flattened last pooling output `[N, c3, side/8, side/8]`, `features` the feature layer
/// `[N, features]` before the logits; the returned features are those before dropout.
#[derive(Default)]
pub struct DropoutMasks {
    pub flat: Option<Var>,
    pub features: Option<Var>,
}

/// What one forward pass gives.
pub struct ClassifierOutput {
    /// `[N, features]`, after the ReLU.
    pub features: Var,
    /// `[N, classes]`.
    pub logits: Var,
}

impl Classifier {
    /// Builds the network from named tensors; `source` names them in errors (a missing or
    /// misshapen tensor is an error naming it).
    pub fn from_tensors(
        gpu: &Gpu,
        cfg: &ClassifierConfig,
        t: &HostWeights,
        source: &str,
    ) -> Result<Classifier> {
        cfg.validate()?;
        let params = cfg
            .tensors()
            .into_iter()
            .map(|(name, shape)| {
                let v = require_tensor(
                    t,
                    &name,
                    &shape,
                    source,
                    "a classifier written by `stylegan train-classifier`",
                )?;
                let var = Var::param(Tensor::from_slice(gpu, &shape, &v.data)?);
                Ok((name, var))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Classifier { cfg: *cfg, params })
    }

    pub fn config(&self) -> &ClassifierConfig {
        &self.cfg
    }

    /// Every parameter with its name, in a fixed order.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// The parameters as host tensors (to save them).
    pub fn to_host(&self) -> Result<HostWeights> {
        self.params
            .iter()
            .map(|(n, v)| {
                Ok((
                    n.clone(),
                    HostTensor {
                        shape: v.shape().to_vec(),
                        data: v.value().to_vec()?,
                    },
                ))
            })
            .collect()
    }

    fn p(&self, i: usize) -> &Var {
        &self.params[i].1
    }

    /// `[N, 1, side, side]` network input from 8-bit images `[N, C, H, W]` (`C` 1 or 3): see
    /// `preprocess_float`, after `x / 127.5 - 1`.
    pub fn preprocess(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Var> {
        check_images("classifier", images.len(), n, c, h, w)?;
        self.preprocess_float(&to_unit_range(images), n, c, h, w)
    }

    /// `[N, 1, side, side]` network input from images `[N, C, H, W]` in [-1, 1] (`C` 1 or 3,
    /// a generator's output): RGB averaged to gray, bilinear resize to the input side where it
    /// differs.
    pub fn preprocess_float(
        &self,
        images: &[f32],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Var> {
        check_images("classifier", images.len(), n, c, h, w)?;
        let gray = average_to_gray(images, c, h * w);
        let gpu = self.params[0].1.value().gpu();
        let x = Var::constant(Tensor::from_slice(gpu, &[n, 1, h, w], &gray)?);
        let side = self.cfg.side;
        if (h, w) == (side, side) {
            Ok(x)
        } else {
            ops::resize_bilinear(&x, side, side)
        }
    }

    /// One output (`features` or `logits`, by `pick`) of images `[n, C, H, W]` in [-1, 1],
    /// on the host, without a gradient.
    fn host_output(
        &self,
        images: &[f32],
        [n, c, h, w]: [usize; 4],
        pick: fn(ClassifierOutput) -> Var,
    ) -> Result<Vec<f32>> {
        crate::tape::no_grad(|| {
            let x = self.preprocess_float(images, n, c, h, w)?;
            pick(self.forward(&x)?).to_vec()
        })
    }

    /// Features `[n, features]` (row-major) of 8-bit images `[n, C, H, W]` (see `preprocess`).
    pub fn image_features(
        &self,
        images: &[u8],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>> {
        check_images("classifier", images.len(), n, c, h, w)?;
        self.float_features(&to_unit_range(images), n, c, h, w)
    }

    /// Features `[n, features]` of unquantized images `[n, C, H, W]` in [-1, 1].
    pub fn float_features(
        &self,
        images: &[f32],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>> {
        self.host_output(images, [n, c, h, w], |o| o.features)
    }

    /// Class probabilities `[n, classes]` (row-major, softmax in f64) of images
    /// `[n, C, H, W]` in [-1, 1] (see `preprocess_float`).
    pub fn probabilities(
        &self,
        images: &[f32],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>> {
        let logits = self.host_output(images, [n, c, h, w], |o| o.logits)?;
        Ok(logits
            .chunks(self.cfg.classes)
            .flat_map(|row| {
                let m = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
                let sum: f64 = e.iter().sum();
                e.into_iter().map(move |v| (v / sum) as f32)
            })
            .collect())
    }

    /// Features and logits of `x: [N, 1, side, side]` in [-1, 1]. Differentiable.
    pub fn forward(&self, x: &Var) -> Result<ClassifierOutput> {
        self.forward_dropout(x, &DropoutMasks::default())
    }

    /// `forward` with dropout (training).
    pub fn forward_dropout(&self, x: &Var, masks: &DropoutMasks) -> Result<ClassifierOutput> {
        let s = x.shape();
        if s.len() != 4 || s[1] != 1 || s[2] != self.cfg.side || s[3] != self.cfg.side {
            return Err(Error::Shape {
                op: "classifier",
                msg: format!(
                    "input must be [N, 1, {0}, {0}] (grayscale), got {s:?}",
                    self.cfg.side
                ),
            });
        }
        let mut y = x.clone();
        for layer in 0..3 {
            let w = self.p(2 * layer);
            let fan_in = (9 * w.shape()[2]) as f32;
            let c = ops::conv(
                &y,
                w,
                ConvSpec::forward(1, (1, 1)),
                (2.0 / fan_in).sqrt(),
                Precision::F32,
            )?;
            y = ops::max_pool2d(
                &ops::bias_act(&c, self.p(2 * layer + 1), 1.0, 0.0)?,
                2,
                2,
                0,
            )?;
        }
        if let Some(m) = &masks.flat {
            y = ops::mul(&y, m)?;
        }
        let gain = 2f32.sqrt();
        let h = ops::dense(&y, self.p(6), None, gain, 1.0)?;
        let features = ops::bias_act(&h, self.p(7), 1.0, 0.0)?;
        let kept = match &masks.features {
            Some(m) => ops::mul(&features, m)?,
            None => features.clone(),
        };
        let logits = ops::dense(&kept, self.p(8), Some(self.p(9)), 1.0, 1.0)?;
        Ok(ClassifierOutput { features, logits })
    }
}
