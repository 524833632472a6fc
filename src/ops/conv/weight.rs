//! Linear transforms of HWIO conv weights (`shaders/conv/weight.wgsl`): rotation and in/out swap
//! (the input gradient of a conv is a conv with the rotated, swapped kernel), and the 3x3 ->
//! 4x4 kernel of the fused resampling convs with its adjoint. Each is differentiable, and its
//! gradient is another of them.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/conv/weight.wgsl`.
    pub struct WeightParams {
        total: u32, kh: u32, kw: u32, i: u32, o: u32, mode: u32, flip: u32, swap: u32,
    }
}

kernel!(
    WEIGHT,
    "conv/weight.wgsl",
    "main",
    WeightParams,
    [Read, ReadWrite]
);

const MODE_FLIP_SWAP: u32 = 0;
const MODE_FUSE: u32 = 1;
const MODE_FUSE_ADJOINT: u32 = 2;

fn hwio(op: &'static str, w: &Tensor) -> Result<[usize; 4]> {
    match *w.shape() {
        [a, b, c, d] => Ok([a, b, c, d]),
        ref s => shape_err(op, format!("weight (HWIO) must be 4-D, got {s:?}")),
    }
}

fn dispatch(
    w: &Tensor,
    wd: [usize; 4],
    out: &[usize],
    mode: u32,
    flip: bool,
    swap: bool,
) -> Result<Tensor> {
    let y = Tensor::empty(w.gpu(), out)?;
    let total = y.numel();
    if total == 0 {
        return Ok(y);
    }
    let p = WeightParams {
        total: u32p(total),
        kh: u32p(wd[0]),
        kw: u32p(wd[1]),
        i: u32p(wd[2]),
        o: u32p(wd[3]),
        mode,
        flip: flip as u32,
        swap: swap as u32,
    };
    w.gpu().dispatch(&WEIGHT, &[w, &y], &p, groups(total))?;
    Ok(y)
}

/// Rotates an HWIO kernel by 180 degrees (`flip`) and/or exchanges its in/out axes (`swap`):
/// `[kh,kw,I,O]` -> `[kh,kw,I,O]` or `[kh,kw,O,I]`.
pub fn flip_swap_t(w: &Tensor, flip: bool, swap: bool) -> Result<Tensor> {
    let wd = hwio("flip_swap", w)?;
    let out = if swap {
        [wd[0], wd[1], wd[3], wd[2]]
    } else {
        wd
    };
    dispatch(w, wd, &out, MODE_FLIP_SWAP, flip, swap)
}

/// The fused-resampling 4x4 kernel of a 3x3 one: pad to 5x5 with zeros and sum the four
/// 1-pixel shifts (no division), `[3,3,C,O]` -> `[4,4,C,O]`.
pub fn fuse_kernel_t(w3: &Tensor) -> Result<Tensor> {
    let wd = hwio("fuse_kernel", w3)?;
    if wd[0] != 3 || wd[1] != 3 {
        return shape_err(
            "fuse_kernel",
            format!("weight {:?} must be [3,3,C,O]", w3.shape()),
        );
    }
    dispatch(w3, wd, &[4, 4, wd[2], wd[3]], MODE_FUSE, false, false)
}

/// The adjoint of `fuse_kernel_t`: `[4,4,C,O]` -> `[3,3,C,O]`, each tap the sum of the 2x2
/// block of 4x4 taps it was spread to.
pub fn fuse_kernel_adjoint_t(k4: &Tensor) -> Result<Tensor> {
    let wd = hwio("fuse_kernel_adjoint", k4)?;
    if wd[0] != 4 || wd[1] != 4 {
        return shape_err(
            "fuse_kernel_adjoint",
            format!("weight {:?} must be [4,4,C,O]", k4.shape()),
        );
    }
    dispatch(
        k4,
        wd,
        &[3, 3, wd[2], wd[3]],
        MODE_FUSE_ADJOINT,
        false,
        false,
    )
}

/// Kernel rotation / in-out transpose (see `flip_swap_t`). A permutation that is its own
/// inverse, so its gradient is the same transform.
pub fn flip_swap(w: &Var, flip: bool, swap: bool) -> Result<Var> {
    let y = flip_swap_t(w.value(), flip, swap)?;
    Ok(Var::from_op(y, "flip_swap", &[w], move |g, _| {
        Ok(vec![Some(flip_swap(g, flip, swap)?)])
    }))
}

/// 3x3 -> 4x4 fused-resampling kernel (see `fuse_kernel_t`).
pub fn fuse_kernel(w3: &Var) -> Result<Var> {
    let y = fuse_kernel_t(w3.value())?;
    Ok(Var::from_op(y, "fuse_kernel", &[w3], |g, _| {
        Ok(vec![Some(fuse_kernel_adjoint(g)?)])
    }))
}

/// 4x4 -> 3x3 adjoint of `fuse_kernel`; its own gradient is `fuse_kernel`.
pub fn fuse_kernel_adjoint(k4: &Var) -> Result<Var> {
    let y = fuse_kernel_adjoint_t(k4.value())?;
    Ok(Var::from_op(y, "fuse_kernel_adjoint", &[k4], |g, _| {
        Ok(vec![Some(fuse_kernel(g)?)])
    }))
}
