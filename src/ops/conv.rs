//! Convolutions with a runtime scale `alpha` (equalized learning rate: the kernels compute
//! `alpha * conv`, so the stored weights never need rescaling):
//! - `conv2d`: stride 1, "same" zero padding, odd square kernels (1x1 and 3x3 in the nets);
//! - `conv_down2` / `conv_up2`: the stride-2, padding-1, 4x4 pair (down and its transpose);
//! - the weight gradients `conv2d_wgrad`, `conv_down2_wgrad`, `conv_up2_wgrad`;
//! - weight transforms `flip_swap`, `fuse_kernel` and its adjoint, and the fused resampling
//!   convs built from them.
//!
//! Every backward rule is written with these same ops (each op's input gradient is another
//! conv, each weight gradient a wgrad op, and the wgrad ops are bilinear), so everything here
//! differentiates twice, as the R1 penalty needs.
//!
//! Weights are HWIO `[kh, kw, in, out]`; images NCHW.

use crate::error::{shape_err, Result};
use crate::gpu::{Params, Tensor};
use crate::graph::Var;
use crate::kernel;
use crate::ops::conv_tiled::{conv_tiled_t, tiled_conv_disabled, ConvGeom};
use crate::ops::elementwise::groups;
use crate::ops::reduce::sum_parts;
use crate::ops::MAX_LOOP;

kernel!(CONV, "conv.wgsl", "main", [Read, Read, ReadWrite]);
kernel!(
    CONV_WGRAD,
    "conv_wgrad.wgsl",
    "main",
    [Read, Read, ReadWrite]
);
kernel!(WEIGHT, "weight.wgsl", "main", [Read, ReadWrite]);
kernel!(
    WGRAD3_VEC4,
    "conv_wgrad3_vec4.wgsl",
    "main",
    [Read, Read, ReadWrite]
);
kernel!(
    WGRAD_DOWN2,
    "conv_wgrad_down2.wgsl",
    "main",
    [Read, Read, ReadWrite]
);

const MODE_FLIP_SWAP: usize = 0;
const MODE_FUSE: usize = 1;
const MODE_FUSE_ADJOINT: usize = 2;

fn dims4(op: &'static str, what: &str, t: &Tensor) -> Result<[usize; 4]> {
    match t.shape() {
        &[a, b, c, d] => Ok([a, b, c, d]),
        s => shape_err(op, format!("{what} must be 4-D, got {s:?}")),
    }
}

/// Checks an image `[N,C,H,W]` against a square HWIO weight whose input channels must be `C`;
/// returns (image dims, kernel size, output channels).
fn check_conv(op: &'static str, x: &Tensor, w: &Tensor) -> Result<([usize; 4], usize, usize)> {
    let xd = dims4(op, "input (NCHW)", x)?;
    let wd = dims4(op, "weight (HWIO)", w)?;
    if wd[0] != wd[1] {
        return shape_err(
            op,
            format!("weight {:?} must have a square kernel", w.shape()),
        );
    }
    if wd[2] != xd[1] {
        return shape_err(
            op,
            format!(
                "input {:?} has {} channels but weight {:?} expects {}",
                x.shape(),
                xd[1],
                w.shape(),
                wd[2]
            ),
        );
    }
    Ok((xd, wd[0], wd[3]))
}

/// Output channels from which `Auto` picks the tiled kernel: few output channels (ToRGB) would
/// leave most of its 64-channel tile idle.
const TILED_MIN_CHANNELS: usize = 16;

/// The forward convs: `Same` (stride 1, "same" zero padding, odd square kernel) and the
/// stride-2, padding-1, 4x4 pair `Down2` and its transpose `Up2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKind {
    Same,
    Down2,
    Up2,
}

/// The kernels a forward conv can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKernel {
    /// What `conv2d`, `conv_down2` and `conv_up2` use: the subgroup kernel where the adapter
    /// has it and takes the shape, else the tiled kernel where it applies, else the direct one.
    Auto,
    /// lavapipe's subgroup-broadcast kernel (`conv_fast`: 3x3 same, 4x4 down and up).
    Subgroup,
    /// Tiled implicit GEMM (`conv_tiled`).
    Tiled,
    /// The tiled GEMM on f16 cooperative matrices (`conv_coop`; opt-in, `STYLEGAN_F16=1`).
    CoopF16,
    /// The generic direct kernel (`shaders/conv.wgsl`), which takes every conv.
    Direct,
}

impl ConvKernel {
    pub fn name(self) -> &'static str {
        match self {
            ConvKernel::Auto => "auto",
            ConvKernel::Subgroup => "subgroup",
            ConvKernel::Tiled => "tiled",
            ConvKernel::CoopF16 => "coop-f16",
            ConvKernel::Direct => "direct",
        }
    }
}

/// Checks `kind` on `x` and `w` and returns its geometry (errors name the op).
fn conv_geom(kind: ConvKind, x: &Tensor, w: &Tensor) -> Result<ConvGeom> {
    let (op, stride, transposed) = match kind {
        ConvKind::Same => ("conv2d", 1, false),
        ConvKind::Down2 => ("conv_down2", 2, false),
        ConvKind::Up2 => ("conv_up2", 2, true),
    };
    let (xd, k, o) = check_conv(op, x, w)?;
    let [n, c, h, wd] = xd;
    let (ho, wo, pad) = match kind {
        ConvKind::Same => {
            if k.is_multiple_of(2) {
                return shape_err(
                    op,
                    format!(
                        "weight {:?}: kernel size must be odd for same padding",
                        w.shape()
                    ),
                );
            }
            (h, wd, k / 2)
        }
        ConvKind::Down2 | ConvKind::Up2 => {
            if k != 4 {
                return shape_err(
                    op,
                    format!("weight {:?} must be 4x4 (HWIO [4,4,C,O])", w.shape()),
                );
            }
            if kind == ConvKind::Down2 {
                check_even(op, "input", x)?;
                (h / 2, wd / 2, 1)
            } else {
                (h * 2, wd * 2, 1)
            }
        }
    };
    Ok(ConvGeom {
        n,
        c,
        h,
        w: wd,
        o,
        ho,
        wo,
        k,
        stride,
        pad,
        transposed,
    })
}

fn tiled_takes(g: &ConvGeom) -> bool {
    g.o >= TILED_MIN_CHANNELS && !tiled_conv_disabled() && g.supported()
}

/// The kernel `ConvKernel::Auto` runs for `kind` on `x` and `w` on this adapter.
pub fn conv_kernel_for(kind: ConvKind, x: &Tensor, w: &Tensor) -> Result<ConvKernel> {
    let g = conv_geom(kind, x, w)?;
    Ok(if takes(kind, x, &g, ConvKernel::Subgroup) {
        ConvKernel::Subgroup
    } else if g.o >= TILED_MIN_CHANNELS && takes(kind, x, &g, ConvKernel::CoopF16) {
        ConvKernel::CoopF16
    } else if tiled_takes(&g) {
        ConvKernel::Tiled
    } else {
        ConvKernel::Direct
    })
}

/// Whether `conv_with(kind, x, w, _, kernel)` would run (rather than return `Ok(None)`),
/// without running it.
pub fn conv_kernel_takes(
    kind: ConvKind,
    x: &Tensor,
    w: &Tensor,
    kernel: ConvKernel,
) -> Result<bool> {
    Ok(takes(kind, x, &conv_geom(kind, x, w)?, kernel))
}

fn takes(kind: ConvKind, x: &Tensor, g: &ConvGeom, kernel: ConvKernel) -> bool {
    match kernel {
        ConvKernel::Auto | ConvKernel::Direct => true,
        ConvKernel::Subgroup => {
            !crate::ops::conv_fast::fast_conv_disabled()
                && crate::ops::conv_fast::conv_fast_supported(x.gpu(), kind, x.shape(), g.k, g.o)
        }
        ConvKernel::CoopF16 => crate::ops::conv_coop::coop_usable(x.gpu(), g),
        ConvKernel::Tiled => g.supported(),
    }
}

/// `alpha * kind(x, w)` on `kernel`; `Ok(None)` when that kernel does not take this conv here
/// (`Auto` and `Direct` always do). For benchmarks and tests that compare kernels.
pub fn conv_with(
    kind: ConvKind,
    x: &Tensor,
    w: &Tensor,
    alpha: f32,
    kernel: ConvKernel,
) -> Result<Option<Tensor>> {
    let g = conv_geom(kind, x, w)?;
    let subgroup = || crate::ops::conv_fast::conv_fast_t(kind, x, w, alpha);
    match kernel {
        ConvKernel::Auto => {
            if let Some(y) = subgroup()? {
                return Ok(Some(y));
            }
            if g.o >= TILED_MIN_CHANNELS {
                if let Some(y) = crate::ops::conv_coop::conv_coop_t(x, w, &g, alpha)? {
                    return Ok(Some(y));
                }
            }
            if tiled_takes(&g) {
                return conv_tiled_t(x, w, &g, g.tile(x.gpu().is_cpu()), alpha).map(Some);
            }
            direct_dispatch(x, w, &g, alpha).map(Some)
        }
        ConvKernel::Subgroup => subgroup(),
        ConvKernel::Tiled if g.supported() => {
            conv_tiled_t(x, w, &g, g.tile(x.gpu().is_cpu()), alpha).map(Some)
        }
        ConvKernel::Tiled => Ok(None),
        ConvKernel::CoopF16 => crate::ops::conv_coop::conv_coop_t(x, w, &g, alpha),
        ConvKernel::Direct => direct_dispatch(x, w, &g, alpha).map(Some),
    }
}

fn conv_auto(kind: ConvKind, x: &Tensor, w: &Tensor, alpha: f32) -> Result<Tensor> {
    conv_with(kind, x, w, alpha, ConvKernel::Auto)?
        .ok_or_else(|| crate::Error::Invalid("conv: no kernel took the conv".into()))
}

/// One dispatch of the generic direct kernel (see `shaders/conv.wgsl`).
fn direct_dispatch(x: &Tensor, w: &Tensor, g: &ConvGeom, alpha: f32) -> Result<Tensor> {
    let ConvGeom {
        n,
        c,
        h,
        w: wd,
        o,
        ho,
        wo,
        k,
        stride,
        pad,
        transposed,
    } = *g;
    let y = Tensor::empty(x.gpu(), &[n, o, ho, wo])?;
    let og = o.div_ceil(4);
    let total = n * og * ho * wo;
    if total == 0 {
        return Ok(y);
    }
    let p = Params::new()
        .u(total)
        .u(c)
        .u(h)
        .u(wd)
        .u(o)
        .u(og)
        .u(ho)
        .u(wo)
        .u(k)
        .i(stride as i32)
        .i(pad as i32)
        .u(transposed as usize)
        .f(alpha);
    x.gpu().dispatch(&CONV, &[x, w, &y], p, groups(total))?;
    Ok(y)
}

/// How a reduction over `rows` rows of `row_len` elements is cut into parts so that no
/// invocation loops more than `MAX_LOOP` times: (rows per part, parts).
fn row_parts(rows: usize, row_len: usize) -> (usize, usize) {
    let rows_per = (MAX_LOOP / (row_len + 1)).max(1).min(rows.max(1));
    (rows_per, rows.div_ceil(rows_per).max(1))
}

/// Weight gradient of the forward kernel: `alpha * sum_{n,p,q} x[n,c,s*p+a-pad,..] dy[n,o,p,q]`.
/// The sum over the N*HO output rows is split into parts (see `MAX_LOOP`), reduced afterwards.
#[allow(clippy::too_many_arguments)]
fn wgrad_dispatch(
    x: &Tensor,
    dy: &Tensor,
    xd: [usize; 4],
    yd: [usize; 4],
    k: usize,
    stride: usize,
    pad: usize,
    alpha: f32,
) -> Result<Tensor> {
    let [n, c, h, w] = xd;
    let [_, o, ho, wo] = yd;
    let shape = [k, k, c, o];
    let total = k * k * c * o;
    if total == 0 {
        return Tensor::empty(x.gpu(), &shape);
    }
    // Register-blocked kernels for every conv of G and D (their widths are powers of two
    // >= 4): the 3x3 "same" conv on rows of a multiple of 4 pixels, and the fused 4x4 stride-2
    // pair (rows of the half-size side). Other shapes take the generic kernel below.
    // (kernel, rows, row width as the kernel counts it)
    let blocked = if k == 3 && stride == 1 && pad == 1 && w.is_multiple_of(4) {
        Some((&WGRAD3_VEC4, h, w / 4))
    } else if k == 4 && stride == 2 && pad == 1 && h == 2 * ho && w == 2 * wo {
        Some((&WGRAD_DOWN2, ho, wo))
    } else {
        None
    };
    if let Some((kernel, rh, rw)) = blocked {
        let (rows_per, parts) = row_parts(n * rh, rw);
        let dw = Tensor::empty(x.gpu(), &[parts, k, k, c, o])?;
        let p = Params::new()
            .u(n)
            .u(c)
            .u(rh)
            .u(rw)
            .u(o)
            .f(alpha)
            .u(rows_per)
            .u(parts);
        x.gpu().dispatch(
            kernel,
            &[x, dy, &dw],
            p,
            (parts * c * o.div_ceil(4)).div_ceil(64) as u32,
        )?;
        return sum_parts(dw, &shape);
    }
    let (rows_per, parts) = row_parts(n * ho, wo);
    let dw = Tensor::empty(x.gpu(), &[parts, k, k, c, o])?;
    let p = Params::new()
        .u(total)
        .u(n)
        .u(c)
        .u(h)
        .u(w)
        .u(o)
        .u(ho)
        .u(wo)
        .u(k)
        .i(stride as i32)
        .i(pad as i32)
        .f(alpha)
        .u(rows_per)
        .u(parts);
    x.gpu()
        .dispatch(&CONV_WGRAD, &[x, dy, &dw], p, groups(total * parts))?;
    sum_parts(dw, &shape)
}

fn weight_dispatch(
    w: &Tensor,
    wd: [usize; 4],
    out: &[usize],
    mode: usize,
    flip: bool,
    swap: bool,
) -> Result<Tensor> {
    let y = Tensor::empty(w.gpu(), out)?;
    let total = y.numel();
    if total == 0 {
        return Ok(y);
    }
    let p = Params::new()
        .u(total)
        .u(wd[0])
        .u(wd[1])
        .u(wd[2])
        .u(wd[3])
        .u(mode)
        .u(flip as usize)
        .u(swap as usize);
    w.gpu().dispatch(&WEIGHT, &[w, &y], p, groups(total))?;
    Ok(y)
}

/// `alpha * conv(x, w)`, stride 1, "same" zero padding: `x [N,C,H,W]`, `w [k,k,C,O]` with `k`
/// odd, result `[N,O,H,W]`, on the kernel `ConvKernel::Auto` picks.
pub fn conv2d_t(x: &Tensor, w: &Tensor, alpha: f32) -> Result<Tensor> {
    conv_auto(ConvKind::Same, x, w, alpha)
}

fn check_even(op: &'static str, what: &str, t: &Tensor) -> Result<()> {
    let s = t.shape();
    if !s[2].is_multiple_of(2) || !s[3].is_multiple_of(2) {
        return shape_err(op, format!("{what} {s:?} must have even height and width"));
    }
    Ok(())
}

/// Stride-2, padding-1 conv with a 4x4 kernel: `x [N,C,H,W]` (H, W even), `k4 [4,4,C,O]`,
/// result `[N,O,H/2,W/2]`, `y[n,o,i,j] = alpha * sum x[n,c,2i+a-1,2j+b-1] k4[a,b,c,o]`.
pub fn conv_down2_t(x: &Tensor, k4: &Tensor, alpha: f32) -> Result<Tensor> {
    conv_auto(ConvKind::Down2, x, k4, alpha)
}

/// The transposed conv of `conv_down2_t`: PyTorch's `conv_transpose2d(x, K, stride=2,
/// padding=1)` with `K[c,o,a,b] = k4[a,b,c,o]` (kernel not flipped), scaled by `alpha`:
/// `x [N,C,H,W]`, `k4 [4,4,C,O]`, result `[N,O,2H,2W]`.
pub fn conv_up2_t(x: &Tensor, k4: &Tensor, alpha: f32) -> Result<Tensor> {
    conv_auto(ConvKind::Up2, x, k4, alpha)
}

/// Weight gradient of `conv2d` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,H,W]`, result
/// `[k,k,C,O]`.
pub fn conv2d_wgrad_t(x: &Tensor, dy: &Tensor, k: usize, alpha: f32) -> Result<Tensor> {
    let op = "conv2d_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if k.is_multiple_of(2) {
        return shape_err(op, format!("kernel size {k} must be odd for same padding"));
    }
    if xd[0] != yd[0] || xd[2..] != yd[2..] {
        return shape_err(
            op,
            format!(
                "input {:?} and output gradient {:?} differ in N, H or W",
                x.shape(),
                dy.shape()
            ),
        );
    }
    wgrad_dispatch(x, dy, xd, yd, k, 1, k / 2, alpha)
}

/// Weight gradient of `conv_down2` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,H/2,W/2]`,
/// result `[4,4,C,O]`.
pub fn conv_down2_wgrad_t(x: &Tensor, dy: &Tensor, alpha: f32) -> Result<Tensor> {
    let op = "conv_down2_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    check_even(op, "input", x)?;
    if xd[0] != yd[0] || xd[2] != 2 * yd[2] || xd[3] != 2 * yd[3] {
        return shape_err(
            op,
            format!(
                "output gradient {:?} must be [N,O,H/2,W/2] for input {:?}",
                dy.shape(),
                x.shape()
            ),
        );
    }
    wgrad_dispatch(x, dy, xd, yd, 4, 2, 1, alpha)
}

fn check_up2_wgrad(x: &Tensor, dy: &Tensor) -> Result<()> {
    let op = "conv_up2_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if xd[0] != yd[0] || yd[2] != 2 * xd[2] || yd[3] != 2 * xd[3] {
        return shape_err(
            op,
            format!(
                "output gradient {:?} must be [N,O,2H,2W] for input {:?}",
                dy.shape(),
                x.shape()
            ),
        );
    }
    Ok(())
}

/// Weight gradient of `conv_up2` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,2H,2W]`, result
/// `[4,4,C,O]`. Both convs pair `x[.,c,i,.]` with `dy[.,o,2i+a-1,.]` through tap `a`; only
/// the roles of input and output are exchanged, hence `swap_io(wgrad_down(dy, x))`.
pub fn conv_up2_wgrad_t(x: &Tensor, dy: &Tensor, alpha: f32) -> Result<Tensor> {
    check_up2_wgrad(x, dy)?;
    flip_swap_t(&conv_down2_wgrad_t(dy, x, alpha)?, false, true)
}

/// Rotates an HWIO kernel by 180 degrees (`flip`) and/or exchanges its in/out axes (`swap`):
/// `[kh,kw,I,O]` -> `[kh,kw,I,O]` or `[kh,kw,O,I]`.
pub fn flip_swap_t(w: &Tensor, flip: bool, swap: bool) -> Result<Tensor> {
    let wd = dims4("flip_swap", "weight (HWIO)", w)?;
    let out = if swap {
        [wd[0], wd[1], wd[3], wd[2]]
    } else {
        wd
    };
    weight_dispatch(w, wd, &out, MODE_FLIP_SWAP, flip, swap)
}

/// The fused-resampling 4x4 kernel of a 3x3 one: pad to 5x5 with zeros and sum the four
/// 1-pixel shifts (no division), `[3,3,C,O]` -> `[4,4,C,O]`.
pub fn fuse_kernel_t(w3: &Tensor) -> Result<Tensor> {
    let wd = dims4("fuse_kernel", "weight (HWIO)", w3)?;
    if wd[0] != 3 || wd[1] != 3 {
        return shape_err(
            "fuse_kernel",
            format!("weight {:?} must be [3,3,C,O]", w3.shape()),
        );
    }
    weight_dispatch(w3, wd, &[4, 4, wd[2], wd[3]], MODE_FUSE, false, false)
}

/// The adjoint of `fuse_kernel_t`: `[4,4,C,O]` -> `[3,3,C,O]`, each tap the sum of the 2x2
/// block of 4x4 taps it was spread to.
pub fn fuse_kernel_adjoint_t(k4: &Tensor) -> Result<Tensor> {
    let wd = dims4("fuse_kernel_adjoint", "weight (HWIO)", k4)?;
    if wd[0] != 4 || wd[1] != 4 {
        return shape_err(
            "fuse_kernel_adjoint",
            format!("weight {:?} must be [4,4,C,O]", k4.shape()),
        );
    }
    weight_dispatch(
        k4,
        wd,
        &[3, 3, wd[2], wd[3]],
        MODE_FUSE_ADJOINT,
        false,
        false,
    )
}

// ---------------------------------------------------------------------------------------------
// Differentiable ops.

/// `alpha * conv(x, w)`, stride 1, same padding (see `conv2d_t`).
pub fn conv2d(x: &Var, w: &Var, alpha: f32) -> Result<Var> {
    let y = conv2d_t(x.value(), w.value(), alpha)?;
    let k = w.shape()[0];
    let (xs, ws) = (x.clone(), w.clone());
    Ok(Var::from_op(y, "conv2d", &[x, w], move |g, needs| {
        let gx = if needs[0] {
            Some(conv2d(g, &flip_swap(&ws, true, true)?, alpha)?)
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
                Some(conv2d(&ys, &flip_swap(g, true, true)?, alpha)?)
            } else {
                None
            };
            let gy = if needs[1] {
                Some(conv2d(&xs, g, alpha)?)
            } else {
                None
            };
            Ok(vec![gx, gy])
        },
    ))
}

/// Stride-2 4x4 conv (see `conv_down2_t`). Its input gradient is the transposed conv with the
/// in/out axes of the kernel exchanged.
pub fn conv_down2(x: &Var, k4: &Var, alpha: f32) -> Result<Var> {
    let y = conv_down2_t(x.value(), k4.value(), alpha)?;
    let (xs, ks) = (x.clone(), k4.clone());
    Ok(Var::from_op(y, "conv_down2", &[x, k4], move |g, needs| {
        let gx = if needs[0] {
            Some(conv_up2(g, &flip_swap(&ks, false, true)?, alpha)?)
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
pub fn conv_up2(x: &Var, k4: &Var, alpha: f32) -> Result<Var> {
    let y = conv_up2_t(x.value(), k4.value(), alpha)?;
    let (xs, ks) = (x.clone(), k4.clone());
    Ok(Var::from_op(y, "conv_up2", &[x, k4], move |g, needs| {
        let gx = if needs[0] {
            Some(conv_down2(g, &flip_swap(&ks, false, true)?, alpha)?)
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
                Some(conv_up2(&ys, &flip_swap(g, false, true)?, alpha)?)
            } else {
                None
            };
            let gy = if needs[1] {
                Some(conv_down2(&xs, g, alpha)?)
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
    check_up2_wgrad(x.value(), dy.value())?;
    flip_swap(&conv_down2_wgrad(dy, x, alpha)?, false, true)
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

/// Generator fused upscale conv: `conv_up2(x, fuse_kernel(w3), alpha)`, `[N,C,H,W]` ->
/// `[N,O,2H,2W]`. Equals nearest x2 then a same 3x3 conv with the kernel rotated 180 degrees.
pub fn conv_up2_fused(x: &Var, w3: &Var, alpha: f32) -> Result<Var> {
    conv_up2(x, &fuse_kernel(w3)?, alpha)
}

/// Discriminator fused downscale conv: `conv_down2(x, fuse_kernel(w3), alpha/4)`,
/// `[N,C,H,W]` -> `[N,O,H/2,W/2]`. Equals a same 3x3 conv then a 2x2 box average.
pub fn conv_down2_fused(x: &Var, w3: &Var, alpha: f32) -> Result<Var> {
    conv_down2(x, &fuse_kernel(w3)?, 0.25 * alpha)
}
