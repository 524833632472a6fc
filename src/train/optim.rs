//! Parameter updates that run outside the graph, in place on the GPU: Adam (TensorFlow's
//! formulation, as the official code uses it) and moving averages (Gs = EMA of G,
//! `dlatent_avg`). They are recorded into the current step like any op. Each runs over a
//! range of values, so one dispatch updates one variable or a whole network laid out in a flat
//! buffer (`nn::flat`; `adam_range`, `lerp_to_split`).

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/optim/adam.wgsl`.
    pub struct AdamParams {
        start: u32, end: u32, lr_t: f32, b1: f32, b2: f32, eps: f32, parts: u32, stride: u32,
        keep: f32,
    }
}

kernel_params! {
    /// Parameters of `shaders/optim/lerp_to.wgsl`.
    pub struct LerpToParams { n: u32, split: u32, t: f32 }
}

kernel!(
    ADAM,
    "optim/adam.wgsl",
    "adam",
    AdamParams,
    [ReadWrite, Read, ReadWrite, ReadWrite]
);
kernel!(
    LERP_TO,
    "optim/lerp_to.wgsl",
    "main",
    LerpToParams,
    [ReadWrite, Read]
);

/// The update kernels, for the shader tests (next to `ops::kernels`, which cannot name `train`).
pub fn kernels() -> Vec<crate::gpu::Kernel> {
    vec![ADAM, LERP_TO]
}

/// Adam hyper-parameters (official StyleGAN: beta1 0, beta2 0.99, eps 1e-8, no decay).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay (AdamW, Loshchilov & Hutter): each update first multiplies the
    /// parameter by `1 - lr * decay`, whatever its gradient. 0 is plain Adam.
    #[serde(default)]
    pub decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 0.001,
            beta1: 0.0,
            beta2: 0.99,
            eps: 1e-8,
            decay: 0.0,
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
    adam_range(param, grad, slot, c, t, (0, param.numel()))
}

/// Adam on values `start..end` of `param` (and of `grad`, `m`, `v` at the same places) in
/// place, in one dispatch: every variable of a network in a flat buffer at once.
pub fn adam_range(
    param: &Tensor,
    grad: &Tensor,
    slot: &AdamSlot,
    c: &AdamConfig,
    t: u64,
    range: (usize, usize),
) -> Result<()> {
    adam_range_parts(param, grad, 1, slot, c, t, range)
}

/// `adam_range` with the gradient given as `parts` tensors one after another in `grad`
/// (`parts * param.numel()` values), added left to right, `((g0 + g1) + g2) + ...` as
/// `autodiff::sum_parts` adds them, within the update's dispatch.
pub fn adam_range_parts(
    param: &Tensor,
    grad: &Tensor,
    parts: usize,
    slot: &AdamSlot,
    c: &AdamConfig,
    t: u64,
    (start, end): (usize, usize),
) -> Result<()> {
    let n = param.numel();
    if start > end
        || end > n
        || parts == 0
        || grad.numel() != parts * n
        || [&slot.m, &slot.v].iter().any(|x| x.numel() != n)
    {
        return shape_err(
            "adam_range",
            format!(
                "values {start}..{end} of param {:?}, grad {:?} ({parts} parts), m {:?}, v {:?}",
                param.shape(),
                grad.shape(),
                slot.m.shape(),
                slot.v.shape()
            ),
        );
    }
    if start == end {
        return Ok(());
    }
    let p = AdamParams {
        start: u32p(start),
        end: u32p(end),
        lr_t: adam_lr_t(c, t),
        b1: c.beta1,
        b2: c.beta2,
        eps: c.eps,
        parts: u32p(parts),
        stride: u32p(n),
        keep: 1.0 - c.lr * c.decay,
    };
    param.gpu().dispatch(
        &ADAM,
        &[param, grad, &slot.m, &slot.v],
        &p,
        groups(end - start),
    )
}

/// `dst = src + (dst - src) * t` in place.
pub fn lerp_to(dst: &Tensor, src: &Tensor, t: f32) -> Result<()> {
    lerp_to_split(dst, src, t, dst.numel())
}

/// `lerp_to` with `t` for the values below `split` and 0 (a copy by the same formula) from
/// there on: Gs from G over a flat buffer, whose non-trainable variables come last.
pub fn lerp_to_split(dst: &Tensor, src: &Tensor, t: f32, split: usize) -> Result<()> {
    if dst.numel() != src.numel() || split > dst.numel() {
        return shape_err(
            "lerp_to",
            format!(
                "dst {:?} vs src {:?}, split at {split}",
                dst.shape(),
                src.shape()
            ),
        );
    }
    let n = dst.numel();
    let p = LerpToParams {
        n: u32p(n),
        split: u32p(split),
        t,
    };
    dst.gpu().dispatch(&LERP_TO, &[dst, src], &p, groups(n))
}
