//! The official discriminator (`D_basic`, fixed or progressive `linear` structure): FromRGB, one block per resolution
//! (Conv0, then blur and Conv1_down, fused into one stride-2 conv where the input side is at
//! least 128), and the 4x4 head with minibatch stddev. Raw scores `[N, 1]`, no sigmoid. A
//! class-conditional D's last layer has one output per class, and the score of an image is
//! the output of its class (`LabelSwitch`: the sum of the outputs times the one-hot labels).

use crate::error::{shape_err, Result};
use crate::gpu::Gpu;
use crate::nn::config::Config;
use crate::nn::params::{discriminator_specs, HostWeights, ParamSet};
use crate::ops;
use crate::ops::conv::Precision::F32;
use crate::tape::Var;

const SLOPE: f32 = 0.2;

/// He scale of a conv/dense with `fan_in` inputs and gain sqrt(2).
fn he(fan_in: usize) -> f32 {
    (2.0 / fan_in as f32).sqrt()
}

/// The discriminator (`D_basic`): images in, one raw score per image out (no sigmoid).
///
/// ```
/// use stylegan_wgpu::{Config, Gpu, Model, Tensor, Var};
/// # fn main() -> stylegan_wgpu::Result<()> {
/// let gpu = Gpu::new()?;
/// let d = Model::init(&Config::preset("tiny")?, 0)?.discriminator(&gpu)?;
/// let (c, r) = (d.cfg.num_channels, d.cfg.resolution);
/// let images = Var::constant(Tensor::zeros(&gpu, &[4, c, r, r])?);
/// assert_eq!(d.forward(&images)?.shape(), [4, 1]);
/// # Ok(()) }
/// ```
pub struct Discriminator {
    pub cfg: Config,
    pub params: ParamSet,
}

impl Discriminator {
    pub fn new(gpu: &Gpu, cfg: &Config, weights: &HostWeights) -> Result<Discriminator> {
        cfg.validate()?;
        Ok(Discriminator {
            cfg: cfg.clone(),
            params: ParamSet::upload(gpu, &discriminator_specs(cfg), weights)?,
        })
    }

    fn p(&self, name: &str) -> Result<&Var> {
        self.params.get(name)
    }

    /// The block at side `s`: `Conv0` (conv3x3 + bias + lrelu), then blur and `Conv1_down`
    /// (conv3x3 and 2x2 box, or one fused stride-2 conv) + bias + lrelu.
    fn block(&self, x: &Var, s: usize) -> Result<Var> {
        let scope = format!("{s}x{s}/Conv0");
        let fan_in = 9 * x.shape()[1];
        let x = ops::bias_act(
            &ops::conv2d(x, self.p(&format!("{scope}/weight"))?, he(fan_in), F32)?,
            self.p(&format!("{scope}/bias"))?,
            1.0,
            SLOPE,
        )?;
        let scope = format!("{s}x{s}/Conv1_down");
        let w = self.p(&format!("{scope}/weight"))?;
        let alpha = he(9 * x.shape()[1]);
        let blurred = ops::blur(&x)?;
        let y = if self.cfg.fused_down(s) {
            ops::conv_down2_fused(&blurred, w, alpha, F32)?
        } else {
            ops::downsample2(&ops::conv2d(&blurred, w, alpha, F32)?, 0.25)?
        };
        ops::bias_act(&y, self.p(&format!("{scope}/bias"))?, 1.0, SLOPE)
    }

    /// Scores of images `[N, num_channels, R, R]` (values in [-1, 1]) of an unconditional D.
    pub fn forward(&self, images: &Var) -> Result<Var> {
        self.forward_lod(images, 0.0)
    }

    /// Scores of images with their one-hot `labels: [N, label_size]` (class-conditional D;
    /// `None` for an unconditional one), at level of detail `lod` (see `forward_lod`).
    pub fn forward_labels(&self, images: &Var, labels: Option<&Var>, lod: f32) -> Result<Var> {
        images
            .value()
            .gpu()
            .discard_on_error(|| self.record_forward(images, labels, lod))
    }

    /// Scores at level of detail `lod` (official `structure = 'linear'`): `x = FromRGB_lod0(img)`,
    /// then for each side `2^res` from R down to 8, with `l = R - res`: `x = block(x)`,
    /// `img = downscale2d(img)` (2x2 box), `x = lerp_clip(x, FromRGB_lod{l+1}(img), lod - l)`.
    /// Fixed-structure networks accept only `lod = 0`, where this is the plain network.
    ///
    /// Parts whose weight is exactly zero (blocks above the current resolution, FromRGBs of
    /// faded-out levels) are not built: same scores; their variables get no gradient instead of
    /// a zero one (see `synthesis_network_lod` for why training is unaffected).
    pub fn forward_lod(&self, images: &Var, lod: f32) -> Result<Var> {
        self.forward_labels(images, None, lod)
    }

    /// `forward_labels`, recorded; on an error the caller drops what it recorded.
    fn record_forward(&self, images: &Var, labels: Option<&Var>, lod: f32) -> Result<Var> {
        let c = &self.cfg;
        c.check_lod("discriminator", lod)?;
        let r = c.log2_res();
        let want = [c.num_channels, c.resolution, c.resolution];
        if images.shape().len() != 4 || images.shape()[1..] != want {
            return shape_err(
                "discriminator",
                format!(
                    "images {:?}, expected [N, {}, {}, {}]",
                    images.shape(),
                    want[0],
                    want[1],
                    want[2]
                ),
            );
        }
        crate::nn::labels::check_labels("discriminator", c, labels, images.shape()[0])?;
        let conv_act = |x: &Var, scope: &str, k: usize| -> Result<Var> {
            let w = self.p(&format!("{scope}/weight"))?;
            let fan_in = k * k * x.shape()[1];
            ops::bias_act(
                &ops::conv2d(x, w, he(fan_in), F32)?,
                self.p(&format!("{scope}/bias"))?,
                1.0,
                SLOPE,
            )
        };
        // Fade weight of level l: the block output counts with 1 - t, the FromRGB of the
        // downscaled image with t. t decreases with l, so the levels that need a downscaled
        // image are a prefix and `x` is always present where a block needs it.
        let t = |l: usize| (lod - l as f32).clamp(0.0, 1.0);
        let mut x = if t(0) < 1.0 {
            Some(conv_act(images, "FromRGB_lod0", 1)?)
        } else {
            None
        };
        let mut img = images.clone();
        for res in (3..=r).rev() {
            let l = r - res;
            let s = 1usize << res;
            let xb = match x.take() {
                Some(x) if t(l) < 1.0 => Some(self.block(&x, s)?),
                _ => None,
            };
            let y = if t(l) > 0.0 {
                img = ops::downsample2(&img, 0.25)?;
                Some(conv_act(&img, &format!("FromRGB_lod{}", l + 1), 1)?)
            } else {
                None
            };
            x = Some(crate::nn::synthesis::lerp_clip(xb, y, t(l))?);
        }
        let mut x = match x {
            Some(x) => x,
            None => {
                return shape_err(
                    "discriminator",
                    format!("lod {lod}: nothing reaches the 4x4 head"),
                )
            }
        };
        if c.mbstd_group_size > 1 {
            x = ops::minibatch_stddev(&x, c.mbstd_group_size)?;
        }
        x = conv_act(&x, "4x4/Conv", 3)?;
        x = ops::dense(
            &x,
            self.p("4x4/Dense0/weight")?,
            None,
            std::f32::consts::SQRT_2,
            1.0,
        )?;
        x = ops::bias_act(&x, self.p("4x4/Dense0/bias")?, 1.0, SLOPE)?;
        let out = ops::dense(
            &x,
            self.p("4x4/Dense1/weight")?,
            Some(self.p("4x4/Dense1/bias")?),
            1.0,
            1.0,
        )?;
        match labels {
            Some(l) => ops::sum_to(&ops::mul(&out, l)?, &[out.shape()[0], 1], 1.0),
            None => Ok(out),
        }
    }
}
