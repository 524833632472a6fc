//! The official discriminator (`D_basic`, fixed structure): FromRGB, one block per resolution
//! (Conv0, then blur and Conv1_down, fused into one stride-2 conv where the input side is at
//! least 128), and the 4x4 head with minibatch stddev. Raw scores `[N, 1]`, no sigmoid.

use crate::error::{shape_err, Result};
use crate::gpu::Gpu;
use crate::graph::Var;
use crate::nn::config::Config;
use crate::nn::params::{discriminator_specs, HostWeights, ParamSet};
use crate::ops;

const SLOPE: f32 = 0.2;

/// He scale of a conv/dense with `fan_in` inputs and gain sqrt(2).
fn he(fan_in: usize) -> f32 {
    (2.0 / fan_in as f32).sqrt()
}

pub struct Discriminator {
    pub cfg: Config,
    pub params: ParamSet,
}

impl Discriminator {
    pub fn new(gpu: &Gpu, cfg: &Config, weights: &HostWeights) -> Result<Discriminator> {
        cfg.validate()?;
        Ok(Discriminator { cfg: cfg.clone(), params: ParamSet::upload(gpu, &discriminator_specs(cfg), weights)? })
    }

    fn p(&self, name: &str) -> Result<&Var> {
        self.params.get(name)
    }

    /// Scores of images `[N, num_channels, R, R]` (values in [-1, 1]).
    pub fn forward(&self, images: &Var) -> Result<Var> {
        let c = &self.cfg;
        let r = c.log2_res();
        let want = [c.num_channels, c.resolution, c.resolution];
        if images.shape().len() != 4 || images.shape()[1..] != want {
            return shape_err("discriminator", format!("images {:?}, expected [N, {}, {}, {}]", images.shape(), want[0], want[1], want[2]));
        }
        let conv_act = |x: &Var, scope: &str, k: usize| -> Result<Var> {
            let w = self.p(&format!("{scope}/weight"))?;
            let fan_in = k * k * x.shape()[1];
            ops::bias_act(&ops::conv2d(x, w, he(fan_in))?, self.p(&format!("{scope}/bias"))?, 1.0, SLOPE)
        };
        let mut x = conv_act(images, "FromRGB_lod0", 1)?;
        for res in (3..=r).rev() {
            let s = 1usize << res;
            x = conv_act(&x, &format!("{s}x{s}/Conv0"), 3)?;
            let scope = format!("{s}x{s}/Conv1_down");
            let w = self.p(&format!("{scope}/weight"))?;
            let alpha = he(9 * x.shape()[1]);
            let blurred = ops::blur(&x)?;
            let y = if c.fused_down(s) {
                ops::conv_down2_fused(&blurred, w, alpha)?
            } else {
                ops::downsample2(&ops::conv2d(&blurred, w, alpha)?, 0.25)?
            };
            x = ops::bias_act(&y, self.p(&format!("{scope}/bias"))?, 1.0, SLOPE)?;
        }
        if c.mbstd_group_size > 1 {
            x = ops::minibatch_stddev(&x, c.mbstd_group_size)?;
        }
        x = conv_act(&x, "4x4/Conv", 3)?;
        x = ops::dense(&x, self.p("4x4/Dense0/weight")?, None, std::f32::consts::SQRT_2, 1.0)?;
        x = ops::bias_act(&x, self.p("4x4/Dense0/bias")?, 1.0, SLOPE)?;
        ops::dense(&x, self.p("4x4/Dense1/weight")?, Some(self.p("4x4/Dense1/bias")?), 1.0, 1.0)
    }
}
