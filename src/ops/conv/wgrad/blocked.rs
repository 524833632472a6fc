//! The weight-gradient kernels that need no subgroups: the generic one (`conv/wgrad.wgsl`: any
//! kernel size, stride and padding per axis, one invocation per weight element and part) and the
//! register-blocked ones for the convs of G and D (`conv/wgrad3_vec4.wgsl`: the 3x3 "same" conv
//! on rows of a multiple of 4 pixels; `conv/wgrad_down2.wgsl`: the fused 4x4 stride-2 pair).

use crate::error::Result;
use crate::gpu::kernel::u32p;
use crate::gpu::{AdapterCaps, Kernel, Tensor};
use crate::ops::conv::wgrad::{row_parts, WgradImpl, WgradKernel};
use crate::ops::conv::ConvGeometry;
use crate::ops::elementwise::groups;
use crate::ops::reduce::sum_parts;
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

/// The generic kernel in the weight-gradient table: takes every forward conv.
pub const GENERIC: WgradKernel = WgradKernel::new(&Generic);
/// The register-blocked kernels in the table: the 3x3 "same" conv with `W % 4 == 0` and the
/// 4x4 stride-2 down-conv.
pub const BLOCKED: WgradKernel = WgradKernel::new(&Blocked);

struct Generic;

impl WgradImpl for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn supports(&self, _g: &ConvGeometry, _caps: &AdapterCaps) -> bool {
        true
    }

    fn run(&self, x: &Tensor, dy: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        let ConvGeometry {
            n,
            c,
            h,
            w,
            o,
            ho,
            wo,
            kh,
            kw,
            ..
        } = *g;
        let shape = [kh, kw, c, o];
        let total = kh * kw * c * o;
        let (rows_per, parts) = row_parts(n * ho, wo);
        let dw = Tensor::empty(x.gpu(), &[parts, kh, kw, c, o])?;
        let u = u32p;
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
            s: g.stride as i32,
            ph: g.pad_h as i32,
            pw: g.pad_w as i32,
            alpha,
            rows_per: u(rows_per),
            parts: u(parts),
        };
        x.gpu()
            .dispatch(&CONV_WGRAD, &[x, dy, &dw], &p, groups(total * parts))?;
        sum_parts(dw, &shape)
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        Ok(vec![CONV_WGRAD])
    }
}

struct Blocked;

impl WgradImpl for Blocked {
    fn name(&self) -> &'static str {
        "blocked"
    }

    fn supports(&self, g: &ConvGeometry, _caps: &AdapterCaps) -> bool {
        (g.is_same(3) && g.w.is_multiple_of(4)) || g.is_down2()
    }

    fn run(&self, x: &Tensor, dy: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        let ConvGeometry {
            n,
            c,
            h,
            w,
            o,
            ho,
            wo,
            kh,
            kw,
            ..
        } = *g;
        let shape = [kh, kw, c, o];
        let u = u32p;
        // Rows of the reduction and their length as the kernel counts it (vec4s for the 3x3).
        let (rh, rw) = if g.is_same(3) { (h, w / 4) } else { (ho, wo) };
        let (rows_per, parts) = row_parts(n * rh, rw);
        let dw = Tensor::empty(x.gpu(), &[parts, kh, kw, c, o])?;
        let groups = u((parts * c * o.div_ceil(4)).div_ceil(64));
        let (rows_per, parts) = (u(rows_per), u(parts));
        let (n, c, o) = (u(n), u(c), u(o));
        if g.is_same(3) {
            let (h, w4) = (u(rh), u(rw));
            let p = Wgrad3Params {
                n,
                c,
                h,
                w4,
                o,
                alpha,
                rows_per,
                parts,
            };
            x.gpu().dispatch(&WGRAD3_VEC4, &[x, dy, &dw], &p, groups)?;
        } else {
            let (ho, wo) = (u(rh), u(rw));
            let p = WgradDown2Params {
                n,
                c,
                ho,
                wo,
                o,
                alpha,
                rows_per,
                parts,
            };
            x.gpu().dispatch(&WGRAD_DOWN2, &[x, dy, &dw], &p, groups)?;
        }
        sum_parts(dw, &shape)
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        Ok(vec![WGRAD3_VEC4, WGRAD_DOWN2])
    }
}
