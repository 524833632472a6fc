//! Weight gradients of the forward convs: `dw[a,b,c,o] = alpha * sum_{n,p,q}
//! x[n,c, s*p+a-pad, s*q+b-pad] * dy[n,o,p,q]`. The sum over the N*HO output rows is split into
//! parts of at most `MAX_LOOP` iterations per invocation (lavapipe's loop limit; a real GPU
//! wants the parallelism anyway) and the parts are added by `sum_parts`.
//!
//! Register-blocked kernels cover every conv of G and D (their widths are powers of two >= 4):
//! the 3x3 "same" conv on rows of a multiple of 4 pixels (`conv_wgrad3_vec4.wgsl`), and the
//! fused 4x4 stride-2 pair (`conv_wgrad_down2.wgsl`, rows of the half-size side). Other shapes
//! take the generic kernel (`conv_wgrad.wgsl`, square kernels).

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::ops::reduce::sum_parts;
use crate::ops::MAX_LOOP;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/conv_wgrad.wgsl`.
    pub struct WgradParams {
        total: u32, n: u32, c: u32, h: u32,
        w: u32, o: u32, ho: u32, wo: u32,
        k: u32, s: i32, pad: i32, alpha: f32,
        rows_per: u32, parts: u32,
    }
}

kernel_params! {
    /// Parameters of `shaders/conv_wgrad3_vec4.wgsl` (rows of `w4` vec4s).
    pub struct Wgrad3Params {
        n: u32, c: u32, h: u32, w4: u32, o: u32, alpha: f32, rows_per: u32, parts: u32,
    }
}

kernel_params! {
    /// Parameters of `shaders/conv_wgrad_down2.wgsl` (rows of the half-size side).
    pub struct WgradDown2Params {
        n: u32, c: u32, ho: u32, wo: u32, o: u32, alpha: f32, rows_per: u32, parts: u32,
    }
}

kernel!(
    CONV_WGRAD,
    "conv_wgrad.wgsl",
    "main",
    WgradParams,
    [Read, Read, ReadWrite]
);
kernel!(
    WGRAD3_VEC4,
    "conv_wgrad3_vec4.wgsl",
    "main",
    Wgrad3Params,
    [Read, Read, ReadWrite]
);
kernel!(
    WGRAD_DOWN2,
    "conv_wgrad_down2.wgsl",
    "main",
    WgradDown2Params,
    [Read, Read, ReadWrite]
);

fn dims4(op: &'static str, what: &str, t: &Tensor) -> Result<[usize; 4]> {
    match *t.shape() {
        [a, b, c, d] => Ok([a, b, c, d]),
        ref s => shape_err(op, format!("{what} must be 4-D, got {s:?}")),
    }
}

/// How a reduction over `rows` rows of `row_len` elements is cut into parts so that no
/// invocation loops more than `MAX_LOOP` times: (rows per part, parts).
fn row_parts(rows: usize, row_len: usize) -> (usize, usize) {
    let rows_per = (MAX_LOOP / (row_len + 1)).max(1).min(rows.max(1));
    (rows_per, rows.div_ceil(rows_per).max(1))
}

/// The weight gradient of a `k x k` conv with `stride` and `pad` (see the module docs).
#[allow(clippy::too_many_arguments)]
fn dispatch(
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
    let u = u32p;
    // Blocked kernels: rows of the reduction and their width as the kernel counts it.
    let blocked = |rh: usize, rw: usize| -> Result<(Tensor, [u32; 5])> {
        let (rows_per, parts) = row_parts(n * rh, rw);
        let dw = Tensor::empty(x.gpu(), &[parts, k, k, c, o])?;
        let groups = u((parts * c * o.div_ceil(4)).div_ceil(64));
        Ok((dw, [u(rows_per), u(parts), u(rh), u(rw), groups]))
    };
    if k == 3 && stride == 1 && pad == 1 && w.is_multiple_of(4) {
        let (dw, [rows_per, parts, h, w4, groups]) = blocked(h, w / 4)?;
        let p = Wgrad3Params {
            n: u(n),
            c: u(c),
            h,
            w4,
            o: u(o),
            alpha,
            rows_per,
            parts,
        };
        x.gpu().dispatch(&WGRAD3_VEC4, &[x, dy, &dw], &p, groups)?;
        return sum_parts(dw, &shape);
    }
    if k == 4 && stride == 2 && pad == 1 && h == 2 * ho && w == 2 * wo {
        let (dw, [rows_per, parts, ho, wo, groups]) = blocked(ho, wo)?;
        let p = WgradDown2Params {
            n: u(n),
            c: u(c),
            ho,
            wo,
            o: u(o),
            alpha,
            rows_per,
            parts,
        };
        x.gpu().dispatch(&WGRAD_DOWN2, &[x, dy, &dw], &p, groups)?;
        return sum_parts(dw, &shape);
    }
    let (rows_per, parts) = row_parts(n * ho, wo);
    let dw = Tensor::empty(x.gpu(), &[parts, k, k, c, o])?;
    let p = WgradParams {
        total: u(total),
        n: u(n),
        c: u(c),
        h: u(h),
        w: u(w),
        o: u(o),
        ho: u(ho),
        wo: u(wo),
        k: u(k),
        s: stride as i32,
        pad: pad as i32,
        alpha,
        rows_per: u(rows_per),
        parts: u(parts),
    };
    x.gpu()
        .dispatch(&CONV_WGRAD, &[x, dy, &dw], &p, groups(total * parts))?;
    sum_parts(dw, &shape)
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
    dispatch(x, dy, xd, yd, k, 1, k / 2, alpha)
}

/// Weight gradient of `conv_down2` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,H/2,W/2]`,
/// result `[4,4,C,O]`.
pub fn conv_down2_wgrad_t(x: &Tensor, dy: &Tensor, alpha: f32) -> Result<Tensor> {
    let op = "conv_down2_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if !xd[2].is_multiple_of(2) || !xd[3].is_multiple_of(2) {
        return shape_err(
            op,
            format!("input {:?} must have even height and width", x.shape()),
        );
    }
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
    dispatch(x, dy, xd, yd, 4, 2, 1, alpha)
}

/// Checks the shapes of `conv_up2_wgrad`: `x [N,C,H,W]`, `dy [N,O,2H,2W]`.
pub(crate) fn check_up2_wgrad(x: &Tensor, dy: &Tensor) -> Result<()> {
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
    super::flip_swap_t(&conv_down2_wgrad_t(dy, x, alpha)?, false, true)
}
