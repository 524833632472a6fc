//! VGG16's convolutional part as torchvision defines it (`torchvision.models.vgg16().features`,
//! configuration "D"): 13 3x3 convs (padding 1, bias, ReLU) in five stages of 2, 2, 3, 3, 3,
//! a 2x2 max pool between stages. LPIPS reads the last ReLU of every stage (`relu1_2`,
//! `relu2_2`, `relu3_3`, `relu4_3`, `relu5_3`).
//!
//! Precision and recall read fc7 ([`Vgg16Fc7`]): after the fifth stage's pool (`[N, 512, 7, 7]`
//! for the 224x224 input), flattened in NCHW order, `classifier.0` (fc6, 25088 -> 4096), ReLU,
//! `classifier.3` (fc7, 4096 -> 4096), ReLU; dropout is off (eval mode) and `classifier.6`
//! (the 1000 ImageNet logits) is not used.
//!
//! Weights: torchvision's state dict (`vgg16-397923af.pth`, keys `features.<i>.weight` OIHW
//! and `features.<i>.bias`, `classifier.<i>.weight` `[out, in]` and `classifier.<i>.bias`).
//! Convs are converted to HWIO at load time and run with scale 1, as stored.

use crate::error::{Error, Result};
use crate::eval::image_input::{check_images, repeat_to_rgb};
use crate::gpu::{Gpu, Tensor};
use crate::nn::params::{oihw_to_hwio, require_tensor, HostTensor, HostWeights};
use crate::ops;
use crate::ops::conv::{ConvSpec, Precision};
use crate::tape::{no_grad, Var};

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

/// The fully connected layers up to fc7: torchvision's index in `classifier`, inputs, outputs.
pub const FC: [(usize, usize, usize); 2] = [(0, 512 * 7 * 7, 4096), (3, 4096, 4096)];

/// The side fc6 expects (`[N, 512, 7, 7]` after the fifth pool).
pub const FC_INPUT_SIDE: usize = 224;

/// fc7 features per image.
pub const FC7_FEATURES: usize = 4096;

/// torchvision's ImageNet normalization of images in [0, 1]: `(x - MEAN[c]) / STD[c]`.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The fc6 and fc7 tensors: torchvision names and shapes.
pub fn fc_tensors() -> Vec<(String, Vec<usize>)> {
    FC.iter()
        .flat_map(|&(i, fin, fout)| {
            [
                (format!("classifier.{i}.weight"), vec![fout, fin]),
                (format!("classifier.{i}.bias"), vec![fout]),
            ]
        })
        .collect()
}

/// Random fc6/fc7 tensors as torchvision initializes them (weights N(0, 0.01), biases 0 here
/// replaced by small uniform values so that a wrong bias shows): for tests without the weights.
pub fn random_fc_tensors(seed: u64) -> HostWeights {
    use rand::Rng;
    let mut rng = crate::rng::seeded(seed);
    fc_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let data = if shape.len() == 2 {
                crate::rng::std_normal(&mut rng, n)
                    .into_iter()
                    .map(|v| v * 0.01)
                    .collect()
            } else {
                (0..n).map(|_| rng.random_range(-0.1..0.1)).collect()
            };
            (name, HostTensor { shape, data })
        })
        .collect()
}

/// Every tensor the convolutional part reads: torchvision names and shapes.
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
    use rand::Rng;
    let mut rng = crate::rng::seeded(seed);
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

const WHAT: &str = "torchvision's VGG16 state dict, vgg16-397923af.pth";

/// VGG16's convs on one GPU context.
pub struct Vgg16 {
    gpu: Gpu,
    /// `(weight HWIO, bias, stage)` in order.
    convs: Vec<(Var, Var, usize)>,
}

impl Vgg16 {
    /// From torchvision's state dict; `source` names the file in errors.
    pub fn from_tensors(gpu: &Gpu, t: &HostWeights, source: &str) -> Result<Vgg16> {
        let what = WHAT;
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

    /// The most `h x w` images one pass may hold: the first stage's `[N, 64, h, w]`
    /// activations are the largest tensor and must fit the adapter's largest binding (at 224²
    /// that is 10 images on a 128 MiB binding). An error when not even one fits.
    pub fn images_per_pass(&self, h: usize, w: usize) -> Result<usize> {
        let per = 4 * STAGES[0][0] as u64 * (h * w) as u64;
        let max = self.gpu.max_tensor_bytes();
        match (max / per.max(1)) as usize {
            0 => Err(Error::OutOfMemory {
                bytes: per,
                what: format!(
                    "vgg16 on one {h}x{w} image: its first activations exceed the adapter's \
                     largest storage binding ({} MiB)",
                    max >> 20
                ),
            }),
            n => Ok(n),
        }
    }

    /// The last ReLU of each stage (`[N, 64, H, W]` … `[N, 512, H/16, W/16]`) of `x:
    /// [N, 3, H, W]` (already normalized as the caller's network expects). Differentiable.
    pub fn stage_outputs(&self, x: &Var) -> Result<Vec<Var>> {
        let mut taps = Vec::with_capacity(STAGES.len());
        self.trunk(x, &mut |y| taps.push(y.clone()))?;
        Ok(taps)
    }

    /// The convs of all five stages with their pools in between, handing each stage's last
    /// ReLU to `tap`; returns the last one.
    fn trunk(&self, x: &Var, tap: &mut dyn FnMut(&Var)) -> Result<Var> {
        let s = x.shape();
        if s.len() != 4 || s[1] != 3 || s[2] < MIN_SIDE || s[3] < MIN_SIDE {
            return Err(Error::Shape {
                op: "vgg16",
                msg: format!("input must be [N, 3, H, W] with H, W >= {MIN_SIDE}, got {s:?}"),
            });
        }
        let mut y = x.clone();
        for (k, (w, b, stage)) in self.convs.iter().enumerate() {
            if k > 0 && self.convs[k - 1].2 != *stage {
                y = ops::max_pool2d(&y, 2, 2, 0)?;
            }
            let c = ops::conv(&y, w, ConvSpec::forward(1, (1, 1)), 1.0, Precision::F32)?;
            y = ops::bias_act(&c, b, 1.0, 0.0)?;
            if self.convs.get(k + 1).is_none_or(|next| next.2 != *stage) {
                tap(&y);
            }
        }
        Ok(y)
    }
}

/// VGG16 up to fc7's ReLU: the feature network of precision and recall (stylegan2-ada's
/// `pr50k3` measures in these 4096 features; torch-fidelity's `fc2_relu` is the same layer).
pub struct Vgg16Fc7 {
    trunk: Vgg16,
    /// Per layer, its rows in blocks `(weight [rows, in], bias [rows])`: fc6's 411 MB weight
    /// exceeds many adapters' largest binding (WebGPU's default is 128 MiB), so it is split
    /// by output rows to fit and the blocks' outputs concatenated.
    fc: Vec<Vec<(Var, Var)>>,
}

impl Vgg16Fc7 {
    /// From torchvision's full state dict (convs and classifier); `source` names the file in
    /// errors.
    pub fn from_tensors(gpu: &Gpu, t: &HostWeights, source: &str) -> Result<Vgg16Fc7> {
        let trunk = Vgg16::from_tensors(gpu, t, source)?;
        let max_rows = |fin: usize| (gpu.max_tensor_bytes() as usize / (4 * fin)).max(1);
        let fc = FC
            .iter()
            .map(|&(i, fin, fout)| {
                let w = require_tensor(
                    t,
                    &format!("classifier.{i}.weight"),
                    &[fout, fin],
                    source,
                    WHAT,
                )?;
                let b = require_tensor(t, &format!("classifier.{i}.bias"), &[fout], source, WHAT)?;
                let rows = max_rows(fin).min(fout);
                (0..fout)
                    .step_by(rows)
                    .map(|r0| {
                        let r1 = (r0 + rows).min(fout);
                        Ok((
                            Var::constant(Tensor::from_slice(
                                gpu,
                                &[r1 - r0, fin],
                                &w.data[r0 * fin..r1 * fin],
                            )?),
                            Var::constant(Tensor::from_slice(gpu, &[r1 - r0], &b.data[r0..r1])?),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Vgg16Fc7 { trunk, fc })
    }

    pub fn gpu(&self) -> &Gpu {
        self.trunk.gpu()
    }

    /// Row blocks per fully connected layer (fc6 is split when it exceeds the adapter's
    /// largest binding).
    pub fn fc_blocks(&self) -> Vec<usize> {
        self.fc.iter().map(Vec::len).collect()
    }

    /// fc6 and fc7 with their ReLUs on the fifth pool's output `[N, 512, 7, 7]`: `[N, 4096]`.
    pub fn head(&self, x: &Var) -> Result<Var> {
        let s = x.shape();
        if s.len() != 4 || s[1..] != [512, 7, 7] {
            return Err(Error::Shape {
                op: "vgg16 fc6",
                msg: format!("input must be [N, 512, 7, 7], got {s:?}"),
            });
        }
        let mut y = ops::reshape(x, &[s[0], FC[0].1])?;
        for blocks in &self.fc {
            let mut out: Option<Var> = None;
            for (w, b) in blocks {
                let part = ops::bias_act(&ops::matmul(&y, w, false, true, 1.0)?, b, 1.0, 0.0)?;
                out = Some(match out {
                    Some(o) => ops::concat_channels(&o, &part)?,
                    None => part,
                });
            }
            y = out.expect("every layer has at least one block");
        }
        Ok(y)
    }

    /// fc7 features `[N, 4096]` of `x: [N, 3, 224, 224]`, normalized as torchvision's
    /// ImageNet models expect.
    pub fn forward(&self, x: &Var) -> Result<Var> {
        let s = x.shape();
        if s.len() != 4 || s[2..] != [FC_INPUT_SIDE, FC_INPUT_SIDE] {
            return Err(Error::Shape {
                op: "vgg16 fc7",
                msg: format!("input must be [N, 3, 224, 224], got {s:?}"),
            });
        }
        let y = self.trunk.trunk(x, &mut |_| {})?;
        self.head(&ops::max_pool2d(&y, 2, 2, 0)?)
    }

    /// `[N, 3, 224, 224]` network input from 8-bit images `[N, C, H, W]` (`C` 1 or 3):
    /// grayscale repeated to RGB, `x / 255` normalized by [`MEAN`], [`STD`], then resized
    /// bilinearly to 224x224 (`F.interpolate(..., mode="bilinear", align_corners=False)`).
    /// The per-channel affine map commutes with the resize (its weights sum to 1), so it is
    /// applied first, on the host.
    pub fn preprocess(&self, images: &[u8], n: usize, c: usize, h: usize, w: usize) -> Result<Var> {
        check_images("vgg16", images.len(), n, c, h, w)?;
        let plane = h * w;
        let pixels: Vec<f32> = images.iter().map(|&v| v as f32).collect();
        let mut rgb = repeat_to_rgb(&pixels, c, plane);
        for (i, v) in rgb.iter_mut().enumerate() {
            let ch = (i / plane) % 3;
            *v = (*v / 255.0 - MEAN[ch]) / STD[ch];
        }
        let x = Var::constant(Tensor::from_slice(self.gpu(), &[n, 3, h, w], &rgb)?);
        if (h, w) == (FC_INPUT_SIDE, FC_INPUT_SIDE) {
            Ok(x)
        } else {
            ops::resize_bilinear(&x, FC_INPUT_SIDE, FC_INPUT_SIDE)
        }
    }

    /// fc7 features `[n, 4096]` (row-major) of 8-bit images `[n, C, H, W]`, in as many passes
    /// as the adapter's binding size needs.
    pub fn features(
        &self,
        images: &[u8],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>> {
        check_images("vgg16", images.len(), n, c, h, w)?;
        let per_pass = self.trunk.images_per_pass(FC_INPUT_SIDE, FC_INPUT_SIDE)?;
        let mut out = Vec::with_capacity(n * FC7_FEATURES);
        for chunk in images.chunks(per_pass * c * h * w) {
            let k = chunk.len() / (c * h * w);
            out.extend(no_grad(|| {
                self.forward(&self.preprocess(chunk, k, c, h, w)?)?.to_vec()
            })?);
        }
        Ok(out)
    }
}
