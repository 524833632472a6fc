//! VGG16's convolutional part as torchvision defines it (`torchvision.models.vgg16().features`,
//! configuration "D"): 13 3x3 convs (padding 1, bias, ReLU) in five stages of 2, 2, 3, 3, 3,
//! a 2x2 max pool between stages. LPIPS reads the last ReLU of every stage (`relu1_2`,
//! `relu2_2`, `relu3_3`, `relu4_3`, `relu5_3`).
//!
//! Weights: torchvision's state dict (`vgg16-397923af.pth`, keys `features.<i>.weight` OIHW
//! and `features.<i>.bias`; the classifier's `classifier.*` tensors are not read). Converted to
//! HWIO at load time; the convs run with scale 1, as stored.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::graph::Var;
use crate::nn::params::{oihw_to_hwio, require_tensor, HostTensor, HostWeights};
use crate::ops;
use crate::ops::conv::{ConvSpec, Precision};

/// Output channels of the convs of each stage.
pub const STAGES: [&[usize]; 5] = [
    &[64, 64],
    &[128, 128],
    &[256, 256, 256],
    &[512, 512, 512],
    &[512, 512, 512],
];

/// The smallest input side that reaches the fifth stage with at least one pixel.
pub const MIN_SIDE: usize = 16;

/// Every conv: its index in torchvision's `features` (convs, ReLUs and pools are numbered
/// together), input and output channels, and its stage.
pub fn convs() -> Vec<(usize, usize, usize, usize)> {
    let (mut out, mut index, mut cin) = (Vec::new(), 0, 3);
    for (stage, widths) in STAGES.iter().enumerate() {
        for &cout in *widths {
            out.push((index, cin, cout, stage));
            index += 2; // conv, ReLU
            cin = cout;
        }
        index += 1; // max pool
    }
    out
}

/// Every tensor the network reads: torchvision names and shapes.
pub fn required_tensors() -> Vec<(String, Vec<usize>)> {
    convs()
        .into_iter()
        .flat_map(|(i, cin, cout, _)| {
            [
                (format!("features.{i}.weight"), vec![cout, cin, 3, 3]),
                (format!("features.{i}.bias"), vec![cout]),
            ]
        })
        .collect()
}

/// Random tensors of the right names and shapes (He-normal convs, small biases): for tests and
/// benchmarks without torchvision's weights. Their features mean nothing.
pub fn random_tensors(seed: u64) -> HostWeights {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    required_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let data = if shape.len() == 4 {
                let std = (2.0 / (n / shape[0]) as f32).sqrt();
                crate::rng::std_normal(&mut rng, n)
                    .into_iter()
                    .map(|v| v * std)
                    .collect()
            } else {
                (0..n).map(|_| rng.random_range(-0.1..0.1)).collect()
            };
            (name, HostTensor { shape, data })
        })
        .collect()
}

/// VGG16's convs on one GPU context.
pub struct Vgg16 {
    gpu: Gpu,
    /// `(weight HWIO, bias, stage)` in order.
    convs: Vec<(Var, Var, usize)>,
}

impl Vgg16 {
    /// From torchvision's state dict; `source` names the file in errors.
    pub fn from_tensors(gpu: &Gpu, t: &HostWeights, source: &str) -> Result<Vgg16> {
        let what = "torchvision's VGG16 state dict, vgg16-397923af.pth";
        let convs = convs()
            .into_iter()
            .map(|(i, cin, cout, stage)| {
                let w = require_tensor(
                    t,
                    &format!("features.{i}.weight"),
                    &[cout, cin, 3, 3],
                    source,
                    what,
                )?;
                let b = require_tensor(t, &format!("features.{i}.bias"), &[cout], source, what)?;
                let hwio = oihw_to_hwio(&w.data, [cout, cin, 3, 3], |_| 1.0);
                Ok((
                    Var::constant(Tensor::from_slice(gpu, &[3, 3, cin, cout], &hwio)?),
                    Var::constant(Tensor::from_slice(gpu, &[cout], &b.data)?),
                    stage,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Vgg16 {
            gpu: gpu.clone(),
            convs,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The last ReLU of each stage (`[N, 64, H, W]` … `[N, 512, H/16, W/16]`) of `x:
    /// [N, 3, H, W]` (already normalized as the caller's network expects). Differentiable.
    pub fn stage_outputs(&self, x: &Var) -> Result<Vec<Var>> {
        let s = x.shape();
        if s.len() != 4 || s[1] != 3 || s[2] < MIN_SIDE || s[3] < MIN_SIDE {
            return Err(Error::Shape {
                op: "vgg16",
                msg: format!("input must be [N, 3, H, W] with H, W >= {MIN_SIDE}, got {s:?}"),
            });
        }
        let mut taps = Vec::with_capacity(STAGES.len());
        let mut y = x.clone();
        for (k, (w, b, stage)) in self.convs.iter().enumerate() {
            if k > 0 && self.convs[k - 1].2 != *stage {
                y = ops::max_pool2d(&y, 2, 2, 0)?;
            }
            let c = ops::conv(&y, w, ConvSpec::forward(1, (1, 1)), 1.0, Precision::F32)?;
            y = ops::bias_act(&c, b, 1.0, 0.0)?;
            if self.convs.get(k + 1).is_none_or(|next| next.2 != *stage) {
                taps.push(y.clone());
            }
        }
        Ok(taps)
    }
}
