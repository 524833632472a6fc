//! Weight gradients of the forward convs: `dw[a,b,c,o] = alpha * sum_{n,p,q}
//! x[n,c, s*p+a-ph, s*q+b-pw] * dy[n,o,p,q]` (a transposed conv's is the same sum with the
//! roles of `x` and `dy` exchanged, `conv_wgrad_t`). The sum over the N*HO output rows is split into
//! parts of at most `MAX_LOOP` iterations per invocation (lavapipe's loop limit; a real GPU
//! wants the parallelism anyway) and the parts are added by `sum_parts`.
//!
//! Register-blocked kernels cover every conv of G and D (their widths are powers of two >= 4):
//! the 3x3 "same" conv on rows of a multiple of 4 pixels (`conv/wgrad3_vec4.wgsl`), and the
//! fused 4x4 stride-2 pair (`conv/wgrad_down2.wgsl`, rows of the half-size side). Other shapes
//! take the generic kernel (`conv/wgrad.wgsl`: any kernel size, stride and padding per axis).

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::ops::reduce::sum_parts;
use crate::ops::MAX_LOOP;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/conv/wgrad.wgsl`.
    pub struct WgradParams {
        total: u32, n: u32, c: u32, h: u32,
        w: u32, o: u32, ho: u32, wo: u32,
        kh: u32, kw: u32, s: i32, ph: i32,
        pw: i32, alpha: f32, rows_per: u32, parts: u32,
    }
}

kernel_params! {
    /// Parameters of `shaders/conv/wgrad3_vec4.wgsl` (rows of `w4` vec4s).
    pub struct Wgrad3Params {
        n: u32, c: u32, h: u32, w4: u32, o: u32, alpha: f32, rows_per: u32, parts: u32,
    }
}

kernel_params! {
    /// Parameters of `shaders/conv/wgrad_down2.wgsl` (rows of the half-size side).
    pub struct WgradDown2Params {
        n: u32, c: u32, ho: u32, wo: u32, o: u32, alpha: f32, rows_per: u32, parts: u32,
    }
}

kernel!(
    CONV_WGRAD,
    "conv/wgrad.wgsl",
    "main",
    WgradParams,
    [Read, Read, ReadWrite]
);
kernel!(
    WGRAD3_VEC4,
    "conv/wgrad3_vec4.wgsl",
    "main",
    Wgrad3Params,
    [Read, Read, ReadWrite]
);
kernel!(
    WGRAD_DOWN2,
    "conv/wgrad_down2.wgsl",
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

/// The weight gradient of a `kh x kw` forward conv with `stride` and padding `(ph, pw)` (see
/// the module docs); `dy` may have any size (taps past `x` read zeros).
#[allow(clippy::too_many_arguments)]
fn dispatch(
    x: &Tensor,
    dy: &Tensor,
    xd: [usize; 4],
    yd: [usize; 4],
    (kh, kw): (usize, usize),
    stride: usize,
    (ph, pw): (usize, usize),
    alpha: f32,
) -> Result<Tensor> {
    let [n, c, h, w] = xd;
    let [_, o, ho, wo] = yd;
    let shape = [kh, kw, c, o];
    let total = kh * kw * c * o;
    if total == 0 {
        return Tensor::empty(x.gpu(), &shape);
    }
    let u = u32p;
    // Blocked kernels: rows of the reduction and their width as the kernel counts it.
    let blocked = |rh: usize, rw: usize| -> Result<(Tensor, [u32; 5])> {
        let (rows_per, parts) = row_parts(n * rh, rw);
        let dw = Tensor::empty(x.gpu(), &[parts, kh, kw, c, o])?;
        let groups = u((parts * c * o.div_ceil(4)).div_ceil(64));
        Ok((dw, [u(rows_per), u(parts), u(rh), u(rw), groups]))
    };
    let square = |k: usize, pad: usize| (kh, kw, ph, pw) == (k, k, pad, pad);
    if square(3, 1) && stride == 1 && ho == h && wo == w && w.is_multiple_of(4) {
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
    if square(4, 1) && stride == 2 && h == 2 * ho && w == 2 * wo {
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
    let dw = Tensor::empty(x.gpu(), &[parts, kh, kw, c, o])?;
    let p = WgradParams {
        total: u(total),
        n: u(n),
        c: u(c),
        h: u(h),
        w: u(w),
        o: u(o),
        ho: u(ho),
        wo: u(wo),
        kh: u(kh),
        kw: u(kw),
        s: stride as i32,
        ph: ph as i32,
        pw: pw as i32,
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
    dispatch(x, dy, xd, yd, (k, k), 1, (k / 2, k / 2), alpha)
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
    dispatch(x, dy, xd, yd, (4, 4), 2, (1, 1), alpha)
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

/// Weight gradient (times `alpha`) of the conv `g` describes, forward or transposed: `x` its
/// input `[N,C,H,W]`, `dy` the gradient of its output `[N,O,HO,WO]`, result `[KH,KW,C,O]`.
/// Forward: `dw[a,b,c,o] = alpha * sum x[n,c,s*p+a-ph,s*q+b-pw] dy[n,o,p,q]`; transposed:
/// `dw[a,b,c,o] = alpha * sum x[n,c,i,j] dy[n,o,s*i+a-ph,s*j+b-pw]`, the forward sum with `x`
/// and `dy` exchanged, so it runs as `swap_io(forward wgrad(dy, x))`.
pub fn conv_wgrad_t(
    x: &Tensor,
    dy: &Tensor,
    g: &super::ConvGeometry,
    alpha: f32,
) -> Result<Tensor> {
    let op = "conv_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if xd != [g.n, g.c, g.h, g.w] || yd != g.out_shape() {
        return shape_err(
            op,
            format!(
                "input {:?} and output gradient {:?} must be {:?} and {:?} for the conv {}",
                x.shape(),
                dy.shape(),
                [g.n, g.c, g.h, g.w],
                g.out_shape(),
                g.label()
            ),
        );
    }
    let (k, pad) = ((g.kh, g.kw), (g.pad_h, g.pad_w));
    if g.transposed {
        let dw = dispatch(dy, x, yd, xd, k, g.stride, pad, alpha)?;
        super::flip_swap_t(&dw, false, true)
    } else {
        dispatch(x, dy, xd, yd, k, g.stride, pad, alpha)
    }
}
