//! LPIPS (Zhang et al. 2018), version 0.1 with the VGG16 backbone, as the `lpips` package
//! computes `lpips.LPIPS(net='vgg')(a, b)` and as the official perceptual path length uses it:
//!
//! 1. images in [-1, 1], `(x - shift) / scale` per channel (the package's `ScalingLayer`);
//! 2. the five VGG16 stage outputs of both images ([`crate::eval::vgg16`]);
//! 3. each feature vector (over channels, per pixel) divided by its length plus 1e-10;
//! 4. the squared difference, weighted per channel by the layer's `lin` weights (a 1x1 conv
//!    without bias, non-negative), averaged over the pixels;
//! 5. the sum over the five layers.
//!
//! Weights: the backbone from torchvision's state dict (users supply `vgg16-397923af.pth`), the
//! `lin` layers from the package's `lpips/weights/v0.1/vgg.pth` (keys `lin<k>.model.1.weight`,
//! `[1, C, 1, 1]`). The package ships them; both are read with the PyTorch checkpoint reader.

use crate::error::{Error, Result};
use crate::eval::image_input::{check_images, repeat_to_rgb};
use crate::eval::vgg16::{Vgg16, STAGES};
use crate::gpu::{Gpu, Tensor};
use crate::nn::params::{require_tensor, HostWeights};
use crate::ops;
use crate::tape::{no_grad, Var};

/// The `ScalingLayer`'s per-channel shift and scale.
pub const SHIFT: [f32; 3] = [-0.030, -0.088, -0.188];
pub const SCALE: [f32; 3] = [0.458, 0.448, 0.450];
/// Added to each feature vector's length before dividing by it (`lpips.normalize_tensor`).
pub const NORM_EPS: f32 = 1e-10;

/// Names and shapes of the `lin` weights.
pub fn lin_tensors() -> Vec<(String, Vec<usize>)> {
    STAGES
        .iter()
        .enumerate()
        .map(|(k, w)| {
            (
                format!("lin{k}.model.1.weight"),
                vec![1, *w.last().unwrap_or(&0), 1, 1],
            )
        })
        .collect()
}

/// LPIPS-VGG16 on one GPU context.
pub struct Lpips {
    vgg: Vgg16,
    /// Per layer `[1, C, 1, 1]`.
    lin: Vec<Var>,
    /// `[1, 3, 1, 1]`: `1 / scale` and `-shift / scale`.
    mul: Var,
    add: Var,
}

impl Lpips {
    /// From torchvision's VGG16 state dict and the package's `lin` weights; `vgg_source` and
    /// `lin_source` name the files in errors.
    pub fn from_tensors(
        gpu: &Gpu,
        vgg: &HostWeights,
        vgg_source: &str,
        lin: &HostWeights,
        lin_source: &str,
    ) -> Result<Lpips> {
        let vgg = Vgg16::from_tensors(gpu, vgg, vgg_source)?;
        let what = "the lpips package's linear layers, lpips/weights/v0.1/vgg.pth";
        let lin = lin_tensors()
            .into_iter()
            .map(|(name, shape)| {
                let t = require_tensor(lin, &name, &shape, lin_source, what)?;
                Ok(Var::constant(Tensor::from_slice(gpu, &shape, &t.data)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let c = |v: [f32; 3]| Tensor::from_slice(gpu, &[1, 3, 1, 1], &v).map(Var::constant);
        Ok(Lpips {
            vgg,
            lin,
            mul: c(SCALE.map(|s| 1.0 / s))?,
            add: c([0, 1, 2].map(|i| -SHIFT[i] / SCALE[i]))?,
        })
    }

    pub fn gpu(&self) -> &Gpu {
        self.vgg.gpu()
    }

    /// The five unit-normalized stage outputs LPIPS compares, of `x: [N, 3, H, W]` in [-1, 1].
    /// A fixed target's features can be computed once and compared with
    /// [`Lpips::feature_distance`] (the projector does).
    pub fn features(&self, x: &Var) -> Result<Vec<Var>> {
        let s = x.shape().to_vec();
        let scaled = ops::add(
            &ops::mul(x, &ops::broadcast_to(&self.mul, &s)?)?,
            &ops::broadcast_to(&self.add, &s)?,
        )?;
        self.vgg
            .stage_outputs(&scaled)?
            .iter()
            .map(unit_channels)
            .collect()
    }

    /// Distances `[N]` between `a` and `b`, both `[N, 3, H, W]` in [-1, 1] with H, W ≥ 16.
    /// Differentiable in both.
    pub fn distance(&self, a: &Var, b: &Var) -> Result<Var> {
        if a.shape() != b.shape() {
            return Err(Error::Shape {
                op: "lpips",
                msg: format!(
                    "the two batches differ: {:?} and {:?}",
                    a.shape(),
                    b.shape()
                ),
            });
        }
        self.feature_distance(&self.features(a)?, &self.features(b)?)
    }

    /// Distances `[N]` between two sets of [`Lpips::features`] of the same shapes.
    /// Differentiable in both.
    pub fn feature_distance(&self, fa: &[Var], fb: &[Var]) -> Result<Var> {
        if fa.len() != self.lin.len() || fb.len() != fa.len() {
            return Err(Error::Shape {
                op: "lpips",
                msg: format!(
                    "{} and {} feature layers given, LPIPS compares {}",
                    fa.len(),
                    fb.len(),
                    self.lin.len()
                ),
            });
        }
        let n = fa[0].shape()[0];
        let mut total: Option<Var> = None;
        for ((x, y), lin) in fa.iter().zip(fb).zip(&self.lin) {
            let s = x.shape().to_vec();
            let d = ops::square(&ops::sub(x, y)?)?;
            let weighted = ops::mul(&d, &ops::broadcast_to(lin, &s)?)?;
            let layer = ops::sum_to(&weighted, &[n, 1, 1, 1], 1.0 / (s[2] * s[3]) as f32)?;
            total = Some(match total {
                None => layer,
                Some(t) => ops::add(&t, &layer)?,
            });
        }
        let total = total.ok_or_else(|| Error::Invalid("lpips: no layers".into()))?;
        ops::reshape(&total, &[n])
    }

    /// Distances `[n]` between host images `[n, c, h, w]` in [-1, 1] (`c` 1 or 3; grayscale is
    /// repeated to RGB as the official metrics do), in as many passes as the adapter's binding
    /// size needs.
    pub fn distance_images(
        &self,
        a: &[f32],
        b: &[f32],
        n: usize,
        c: usize,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>> {
        check_images("lpips", a.len(), n, c, h, w)?;
        check_images("lpips", b.len(), n, c, h, w)?;
        let gpu = self.gpu();
        let up = |x: &[f32]| {
            let k = x.len() / (c * h * w);
            Tensor::from_slice(gpu, &[k, 3, h, w], &repeat_to_rgb(x, c, h * w)).map(Var::constant)
        };
        let per_pass = self.vgg.images_per_pass(h, w)? * c * h * w;
        let mut out = Vec::with_capacity(n);
        for (ca, cb) in a.chunks(per_pass).zip(b.chunks(per_pass)) {
            out.extend(no_grad(|| self.distance(&up(ca)?, &up(cb)?)?.to_vec())?);
        }
        Ok(out)
    }
}

/// `x / (|x| + 1e-10)` with `|x|` the length over channels at each pixel of `[N, C, H, W]`,
/// computed as `x / sqrt(|x|² + 1e-20)`: the same to f32 precision wherever `|x| > 1e-6`, zero
/// where the package gives zero (an all-zero pixel), and with a finite gradient there (the
/// square root's gradient at 0 is not).
fn unit_channels(x: &Var) -> Result<Var> {
    let s = x.shape().to_vec();
    let ss = ops::sum_to(&ops::square(x)?, &[s[0], 1, s[2], s[3]], 1.0)?;
    let inv = ops::rsqrt(&ops::affine(&ss, 1.0, NORM_EPS * NORM_EPS)?)?;
    ops::mul(x, &ops::broadcast_to(&inv, &s)?)
}
