//! Circular shift of the last two axes, `torch.roll(x, shifts=(dy, dx), dims=(-2, -1))`: the
//! projector's noise regularization compares each noise map with itself shifted by a pixel.
//! A permutation, so its backward is the roll the other way, and that one's backward this.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/roll/roll.wgsl`.
    pub struct RollParams { n: u32, h: u32, w: u32, sh: u32, sw: u32 }
}

kernel!(
    ROLL,
    "roll/roll.wgsl",
    "main",
    RollParams,
    [Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![ROLL])
}

/// `x` of rank >= 2 rolled by `dy` rows and `dx` columns (see [`roll`]).
pub fn roll_t(x: &Tensor, dy: isize, dx: isize) -> Result<Tensor> {
    let s = x.shape();
    if s.len() < 2 || s[s.len() - 1] == 0 || s[s.len() - 2] == 0 {
        return shape_err(
            "roll",
            format!("expects [..., H, W] with H, W >= 1, got {s:?}"),
        );
    }
    let (h, w) = (s[s.len() - 2], s[s.len() - 1]);
    let y = Tensor::empty(x.gpu(), s)?;
    let n = x.numel();
    let p = RollParams {
        n: u32p(n),
        h: u32p(h),
        w: u32p(w),
        sh: u32p(dy.rem_euclid(h as isize) as usize),
        sw: u32p(dx.rem_euclid(w as isize) as usize),
    };
    x.gpu().dispatch(&ROLL, &[x, &y], &p, groups(n))?;
    Ok(y)
}

/// `torch.roll(x, shifts=(dy, dx), dims=(-2, -1))`: `y[.., i, j] = x[.., (i - dy) mod H,
/// (j - dx) mod W]`, any shifts (negative ones roll the other way). Differentiable any number
/// of times.
pub fn roll(x: &Var, dy: isize, dx: isize) -> Result<Var> {
    let y = roll_t(x.value(), dy, dx)?;
    Ok(Var::from_op(y, "roll", &[x], move |g, _| {
        Ok(vec![Some(roll(g, -dy, -dx)?)])
    }))
}
