//! Parameter updates that run outside the graph, in place on the GPU: Adam (TensorFlow's
//! formulation, as the official code uses it) and moving averages (Gs = EMA of G,
//! `dlatent_avg`). They are recorded into the current step like any op.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/optim.wgsl`.
    pub struct AdamParams { n: u32, lr_t: f32, b1: f32, b2: f32, eps: f32 }
}

kernel_params! {
    /// Parameters of `shaders/lerp_to.wgsl`.
    pub struct LerpToParams { n: u32, t: f32 }
}

kernel!(
    ADAM,
    "optim.wgsl",
    "adam",
    AdamParams,
    [ReadWrite, Read, ReadWrite, ReadWrite]
);
kernel!(
    LERP_TO,
    "lerp_to.wgsl",
    "main",
    LerpToParams,
    [ReadWrite, Read]
);

/// The update kernels, for the shader tests (next to `ops::kernels`, which cannot name `train`).
pub fn kernels() -> Vec<crate::gpu::Kernel> {
    vec![ADAM, LERP_TO]
}

/// Adam hyper-parameters (official StyleGAN: beta1 0, beta2 0.99, eps 1e-8).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 0.001,
            beta1: 0.0,
            beta2: 0.99,
            eps: 1e-8,
        }
    }
}

/// First and second moments of one parameter.
pub struct AdamSlot {
    pub m: Tensor,
    pub v: Tensor,
}

impl AdamSlot {
    pub fn zeros(like: &Tensor) -> Result<AdamSlot> {
        Ok(AdamSlot {
            m: Tensor::zeros(like.gpu(), like.shape())?,
            v: Tensor::zeros(like.gpu(), like.shape())?,
        })
    }
}

/// TF's bias-corrected step size for update number `t` (1-based).
pub fn adam_lr_t(c: &AdamConfig, t: u64) -> f32 {
    let t = t as f64;
    (c.lr as f64 * (1.0 - (c.beta2 as f64).powf(t)).sqrt() / (1.0 - (c.beta1 as f64).powf(t)))
        as f32
}

/// One Adam update of `param` in place, `t` = 1-based update count.
pub fn adam_step(
    param: &Tensor,
    grad: &Tensor,
    slot: &AdamSlot,
    c: &AdamConfig,
    t: u64,
) -> Result<()> {
    if param.shape() != grad.shape()
        || slot.m.shape() != param.shape()
        || slot.v.shape() != param.shape()
    {
        return shape_err(
            "adam_step",
            format!(
                "param {:?}, grad {:?}, m {:?}, v {:?}",
                param.shape(),
                grad.shape(),
                slot.m.shape(),
                slot.v.shape()
            ),
        );
    }
    let n = param.numel();
    let p = AdamParams {
        n: u32p(n),
        lr_t: adam_lr_t(c, t),
        b1: c.beta1,
        b2: c.beta2,
        eps: c.eps,
    };
    param
        .gpu()
        .dispatch(&ADAM, &[param, grad, &slot.m, &slot.v], &p, groups(n))
}

/// `dst = src + (dst - src) * t` in place.
pub fn lerp_to(dst: &Tensor, src: &Tensor, t: f32) -> Result<()> {
    if dst.numel() != src.numel() {
        return shape_err(
            "lerp_to",
            format!("dst {:?} vs src {:?}", dst.shape(), src.shape()),
        );
    }
    let n = dst.numel();
    let p = LerpToParams { n: u32p(n), t };
    dst.gpu().dispatch(&LERP_TO, &[dst, src], &p, groups(n))
}
