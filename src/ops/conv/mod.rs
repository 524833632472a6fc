//! Convolutions with a runtime scale `alpha` (equalized learning rate: the kernels compute
//! `alpha * conv`, so the stored weights never need rescaling). Weights are HWIO
//! `[kh, kw, in, out]`; images NCHW.
//!
//! - `conv2d`: stride 1, "same" zero padding, odd kernels (1x1 and 3x3 in the nets);
//! - `conv_down2` / `conv_up2`: the stride-2, padding-1, 4x4 pair (down and its transpose), and
//!   the fused resampling convs built from them (`conv_up2_fused`, `conv_down2_fused`);
//! - `conv_t` / `conv_on`: any `ConvGeometry` (non-square kernels, any stride and padding,
//!   either direction, output padding for transposed convs), and its differentiable forms
//!   `conv` (a `ConvSpec`) / `conv_geom` with their weight gradient `conv_wgrad`;
//! - the weight gradients (`wgrad`) and weight transforms (`weight`).
//!
//! Every forward conv goes through `plan_with` (which kernel runs it: `plan.rs`; with tuning on,
//! the measured choice is one of its inputs) and the chosen kernel module's `run`. Precision is an explicit argument of each forward call; backward
//! rules always use f32. Every backward rule is written with these same ops (each op's input
//! gradient is another conv, each weight gradient a wgrad op, and the wgrad ops are bilinear),
//! so everything here differentiates twice, as the R1 penalty needs.

pub mod coop;
pub mod direct;
mod geometry;
mod plan;
pub mod pointwise;
pub mod subgroup;
pub mod subgroup_general;
pub mod tiled;
mod weight;
pub mod wgrad;
pub mod winograd;

pub use geometry::{ConvGeometry, ConvSpec};
pub use plan::{
    candidates, plan, plan_with, supports, tune_key, ConvImpl, ConvKernel, Precision, FAMILY,
    TILED_MIN_CHANNELS,
};
pub use weight::{
    flip_swap, flip_swap_t, fuse_kernel, fuse_kernel_adjoint, fuse_kernel_adjoint_t, fuse_kernel_t,
};
pub use wgrad::{
    conv2d_wgrad_t, conv_down2_wgrad_t, conv_up2_wgrad_t, conv_wgrad_t, plan_wgrad,
    plan_wgrad_with, wgrad_candidates, wgrad_on, wgrad_supports, WgradImpl, WgradKernel,
    WGRAD_FAMILY,
};

use crate::error::{Error, Result};
use crate::gpu::Tensor;
use crate::tape::Var;

fn check_weight(g: &ConvGeometry, w: &Tensor) -> Result<()> {
    if w.shape() != g.weight_shape() {
        return Err(Error::Shape {
            op: "conv",
            msg: format!(
                "weight {:?} does not match the geometry {}",
                w.shape(),
                g.label()
            ),
        });
    }
    Ok(())
}

/// `alpha * conv(x, w)` as `g` describes it, on the kernel `plan_with` picks for this context
/// and `prec`: the fixed order, or with tuning on, the fastest candidate as measured on this
/// adapter (`Gpu::tuned`; the shape is measured at its first use).
pub fn conv_t(
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    alpha: f32,
    prec: Precision,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let policy = gpu.policy();
    let mut caps = gpu.caps();
    let mut cands = candidates(g, &caps, policy, prec);
    let tuning = policy.tune != crate::gpu::Tune::Off && cands.len() > 1;
    // The f16 kernel runs only after its self-check on this device passed: checked before it
    // is measured, or once the fixed order picked it.
    let coop_in = |c: &[ConvKernel], tuning| {
        if tuning {
            c.contains(&coop::KERNEL)
        } else {
            plan_with(g, &caps, policy, prec, None) == Some(coop::KERNEL)
        }
    };
    if coop_in(&cands, tuning) && !coop::verified(gpu) {
        caps.coop_f16_subgroup = 0;
        cands = candidates(g, &caps, policy, prec);
    }
    let names: Vec<&str> = cands.iter().map(|k| k.name()).collect();
    let tuned = gpu.tuned_name(FAMILY, &tune_key(g, prec), &names, |i| {
        conv_on(cands[i], x, w, g, alpha).map(drop)
    })?;
    let kernel = plan_with(g, &caps, policy, prec, tuned).ok_or_else(|| {
        Error::Invalid(format!(
            "conv {}: no kernel takes this convolution on {} (the reduction is too long for \
             one invocation, or the grid exceeds the adapter's limits)",
            g.label(),
            gpu.info().name
        ))
    })?;
    gpu.tally(kernel.imp().tally(prec));
    conv_on(kernel, x, w, g, alpha)
}

/// `alpha * conv(x, w)` on `kernel`, whatever the plan would pick (tests and benchmarks name
/// the kernel they measure); an error when the kernel does not take `g` on this adapter.
pub fn conv_on(
    kernel: ConvKernel,
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    alpha: f32,
) -> Result<Tensor> {
    check_weight(g, w)?;
    if x.shape() != [g.n, g.c, g.h, g.w] {
        return Err(Error::Shape {
            op: "conv",
            msg: format!(
                "input {:?} does not match the geometry {}",
                x.shape(),
                g.label()
            ),
        });
    }
    if !supports(kernel, g, &x.gpu().caps()) {
        return Err(Error::Invalid(format!(
            "conv kernel {} does not take {} on {}",
            kernel.name(),
            g.label(),
            x.gpu().info().name
        )));
    }
    kernel.imp().run(x, w, g, alpha)
}

/// `alpha * conv(x, w)`, stride 1, "same" zero padding: `x [N,C,H,W]`, `w [k,k,C,O]` with `k`
/// odd, result `[N,O,H,W]`.
pub fn conv2d_t(x: &Tensor, w: &Tensor, alpha: f32, prec: Precision) -> Result<Tensor> {
    conv_t(
        x,
        w,
        &ConvGeometry::same(x.shape(), w.shape())?,
        alpha,
        prec,
    )
}

/// Stride-2, padding-1 conv with a 4x4 kernel: `x [N,C,H,W]` (H, W even), `k4 [4,4,C,O]`,
/// result `[N,O,H/2,W/2]`, `y[n,o,i,j] = alpha * sum x[n,c,2i+a-1,2j+b-1] k4[a,b,c,o]`.
pub fn conv_down2_t(x: &Tensor, k4: &Tensor, alpha: f32, prec: Precision) -> Result<Tensor> {
    conv_t(
        x,
        k4,
        &ConvGeometry::down2(x.shape(), k4.shape())?,
        alpha,
        prec,
    )
}

/// The transposed conv of `conv_down2_t`: PyTorch's `conv_transpose2d(x, K, stride=2,
/// padding=1)` with `K[c,o,a,b] = k4[a,b,c,o]` (kernel not flipped), scaled by `alpha`:
/// `x [N,C,H,W]`, `k4 [4,4,C,O]`, result `[N,O,2H,2W]`.
pub fn conv_up2_t(x: &Tensor, k4: &Tensor, alpha: f32, prec: Precision) -> Result<Tensor> {
    conv_t(
        x,
        k4,
        &ConvGeometry::up2(x.shape(), k4.shape())?,
        alpha,
        prec,
    )
}

// ---------------------------------------------------------------------------------------------
// Differentiable ops. Forward convs take the caller's precision; backward rules use f32.

const F32: Precision = Precision::F32;

/// `alpha * conv(x, w)`, stride 1, same padding (see `conv2d_t`).
pub fn conv2d(x: &Var, w: &Var, alpha: f32, prec: Precision) -> Result<Var> {
    let y = conv2d_t(x.value(), w.value(), alpha, prec)?;
    let k = w.shape()[0];
    let (xs, ws) = (x.clone(), w.clone());
    Ok(Var::from_op(y, "conv2d", &[x, w], move |g, needs| {
        let gx = if needs[0] {
            Some(conv2d(g, &flip_swap(&ws, true, true)?, alpha, F32)?)
        } else {
            None
        };
        let gw = if needs[1] {
            Some(conv2d_wgrad(&xs, g, k, alpha)?)
        } else {
            None
        };
        Ok(vec![gx, gw])
    }))
}

/// Weight gradient of `conv2d` (see `conv2d_wgrad_t`). Bilinear in `(x, dy)`: with `gw` the
/// incoming gradient, `d/dx = conv2d(dy, rot180(swap(gw)))` and `d/ddy = conv2d(x, gw)`.
pub fn conv2d_wgrad(x: &Var, dy: &Var, k: usize, alpha: f32) -> Result<Var> {
    let v = conv2d_wgrad_t(x.value(), dy.value(), k, alpha)?;
    let (xs, ys) = (x.clone(), dy.clone());
    Ok(Var::from_op(
        v,
        "conv2d_wgrad",
        &[x, dy],
        move |g, needs| {
            let gx = if needs[0] {
                Some(conv2d(&ys, &flip_swap(g, true, true)?, alpha, F32)?)
            } else {
                None
            };
            let gy = if needs[1] {
                Some(conv2d(&xs, g, alpha, F32)?)
            } else {
                None
            };
            Ok(vec![gx, gy])
        },
    ))
}

/// Stride-2 4x4 conv (see `conv_down2_t`). Its input gradient is the transposed conv with the
/// in/out axes of the kernel exchanged.
pub fn conv_down2(x: &Var, k4: &Var, alpha: f32, prec: Precision) -> Result<Var> {
    let y = conv_down2_t(x.value(), k4.value(), alpha, prec)?;
    let (xs, ks) = (x.clone(), k4.clone());
    Ok(Var::from_op(y, "conv_down2", &[x, k4], move |g, needs| {
        let gx = if needs[0] {
            Some(conv_up2(g, &flip_swap(&ks, false, true)?, alpha, F32)?)
        } else {
            None
        };
        let gk = if needs[1] {
            Some(conv_down2_wgrad(&xs, g, alpha)?)
        } else {
            None
        };
        Ok(vec![gx, gk])
    }))
}

/// Stride-2 4x4 transposed conv (see `conv_up2_t`).
pub fn conv_up2(x: &Var, k4: &Var, alpha: f32, prec: Precision) -> Result<Var> {
    let y = conv_up2_t(x.value(), k4.value(), alpha, prec)?;
    let (xs, ks) = (x.clone(), k4.clone());
    Ok(Var::from_op(y, "conv_up2", &[x, k4], move |g, needs| {
        let gx = if needs[0] {
            Some(conv_down2(g, &flip_swap(&ks, false, true)?, alpha, F32)?)
        } else {
            None
        };
        let gk = if needs[1] {
            Some(conv_up2_wgrad(&xs, g, alpha)?)
        } else {
            None
        };
        Ok(vec![gx, gk])
    }))
}

/// Weight gradient of `conv_down2` (see `conv_down2_wgrad_t`). Bilinear: with `gk` the
/// incoming gradient, `d/dx = conv_up2(dy, swap(gk))` and `d/ddy = conv_down2(x, gk)`.
pub fn conv_down2_wgrad(x: &Var, dy: &Var, alpha: f32) -> Result<Var> {
    let v = conv_down2_wgrad_t(x.value(), dy.value(), alpha)?;
    let (xs, ys) = (x.clone(), dy.clone());
    Ok(Var::from_op(
        v,
        "conv_down2_wgrad",
        &[x, dy],
        move |g, needs| {
            let gx = if needs[0] {
                Some(conv_up2(&ys, &flip_swap(g, false, true)?, alpha, F32)?)
            } else {
                None
            };
            let gy = if needs[1] {
                Some(conv_down2(&xs, g, alpha, F32)?)
            } else {
                None
            };
            Ok(vec![gx, gy])
        },
    ))
}

/// Weight gradient of `conv_up2`: `swap_io(conv_down2_wgrad(dy, x))` (see `conv_up2_wgrad_t`),
/// differentiated through those two ops.
pub fn conv_up2_wgrad(x: &Var, dy: &Var, alpha: f32) -> Result<Var> {
    wgrad::check_up2_wgrad(x.value(), dy.value())?;
    flip_swap(&conv_down2_wgrad(dy, x, alpha)?, false, true)
}

/// `alpha * conv(x, w)` for any stride, padding and direction: `x [N,C,H,W]`, `w [KH,KW,C,O]`,
/// result `[N,O,HO,WO]` with the sizes `ConvGeometry` gives (PyTorch's `conv2d` /
/// `conv_transpose2d` with `output_padding`). E.g. Inception's 3x3 stride-2 valid conv is
/// `conv(x, w, ConvSpec::forward(2, (0, 0)), ..)`, its 1x7 `ConvSpec::forward(1, (0, 3))`.
/// Differentiable twice (see `conv_geom`). Shape errors name `conv`.
pub fn conv(x: &Var, w: &Var, spec: ConvSpec, alpha: f32, prec: Precision) -> Result<Var> {
    let g = spec.geometry("conv", x.shape(), w.shape())?;
    conv_geom(x, w, &g, alpha, prec)
}

/// `alpha * conv(x, w)` as `g` describes it, forward on the kernel the planner picks
/// (`conv_t`). Backward: the input gradient is the adjoint conv (`ConvGeometry::adjoint`: a
/// forward conv's is the transposed conv, with the output padding that gives back the input's
/// `H x W`, and vice versa) with the kernel's in/out axes exchanged; the weight gradient is
/// `conv_wgrad`. Both are again these ops, so everything differentiates twice.
pub fn conv_geom(x: &Var, w: &Var, g: &ConvGeometry, alpha: f32, prec: Precision) -> Result<Var> {
    let y = conv_t(x.value(), w.value(), g, alpha, prec)?;
    let (xs, ws, g) = (x.clone(), w.clone(), *g);
    Ok(Var::from_op(y, "conv", &[x, w], move |gy, needs| {
        let gx = if needs[0] {
            Some(conv_adjoint(gy, &ws, &g, alpha)?)
        } else {
            None
        };
        let gw = if needs[1] {
            Some(conv_wgrad(&xs, gy, &g, alpha)?)
        } else {
            None
        };
        Ok(vec![gx, gw])
    }))
}

/// The adjoint of `conv_geom(., w, g, alpha)` applied to `dy` (the input gradient), in f32.
fn conv_adjoint(dy: &Var, w: &Var, g: &ConvGeometry, alpha: f32) -> Result<Var> {
    if !g.transposed && g.stride == 1 && g.pad_h < g.kh && g.pad_w < g.kw {
        // A stride-1 conv's adjoint is also a forward conv: the kernel rotated by 180 degrees,
        // padding k - 1 - p. Written so, the planner can give it the forward kernels (the
        // subgroup ones on lavapipe) instead of the transposed-conv paths.
        let spec = ConvSpec::forward(1, (g.kh - 1 - g.pad_h, g.kw - 1 - g.pad_w));
        return conv(dy, &flip_swap(w, true, true)?, spec, alpha, F32);
    }
    conv_geom(dy, &flip_swap(w, false, true)?, &g.adjoint()?, alpha, F32)
}

/// Weight gradient of `conv_geom(x, ., g, alpha)` with output gradient `dy` (see
/// `conv_wgrad_t`): `x` the conv's input, `dy [N,O,HO,WO]`, result `[KH,KW,C,O]`. Bilinear in
/// `(x, dy)`: with `gw` the incoming gradient, `d/dx` is the adjoint conv of `dy` with `gw`
/// and `d/ddy = conv_geom(x, gw, g)`.
pub fn conv_wgrad(x: &Var, dy: &Var, g: &ConvGeometry, alpha: f32) -> Result<Var> {
    let v = conv_wgrad_t(x.value(), dy.value(), g, alpha)?;
    let (xs, ys, g) = (x.clone(), dy.clone(), *g);
    Ok(Var::from_op(v, "conv_wgrad", &[x, dy], move |gw, needs| {
        let gx = if needs[0] {
            Some(conv_adjoint(&ys, gw, &g, alpha)?)
        } else {
            None
        };
        let gy = if needs[1] {
            Some(conv_geom(&xs, gw, &g, alpha, F32)?)
        } else {
            None
        };
        Ok(vec![gx, gy])
    }))
}

/// Generator fused upscale conv: `conv_up2(x, fuse_kernel(w3), alpha)`, `[N,C,H,W]` ->
/// `[N,O,2H,2W]`. Equals nearest x2 then a same 3x3 conv with the kernel rotated 180 degrees.
pub fn conv_up2_fused(x: &Var, w3: &Var, alpha: f32, prec: Precision) -> Result<Var> {
    conv_up2(x, &fuse_kernel(w3)?, alpha, prec)
}

/// Discriminator fused downscale conv: `conv_down2(x, fuse_kernel(w3), alpha/4)`,
/// `[N,C,H,W]` -> `[N,O,H/2,W/2]`. Equals a same 3x3 conv then a 2x2 box average.
pub fn conv_down2_fused(x: &Var, w3: &Var, alpha: f32, prec: Precision) -> Result<Var> {
    conv_down2(x, &fuse_kernel(w3)?, 0.25 * alpha, prec)
}

/// Every conv kernel, the rendered ones for representative configurations (`ops::kernels`
/// gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    let mut out = vec![weight::WEIGHT];
    out.extend(wgrad::kernels()?);
    for k in ConvKernel::ALL {
        out.extend(k.imp().kernels()?);
    }
    Ok(out)
}
