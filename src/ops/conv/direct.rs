//! The direct convolution kernel (`shaders/conv/direct.wgsl`): one output pixel x 4 output
//! channels per invocation, any kernel size, stride, padding and direction. The kernel every
//! adapter can run and the reference point of the faster ones; the planner gives it what no
//! other kernel takes (layers with few output channels, shapes the others do not support).

use crate::error::Result;
use crate::gpu::kernel::u32p;
use crate::gpu::Kernel;
use crate::gpu::{AdapterCaps, Tensor, WG};
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel};
use crate::ops::conv::ConvGeometry;
use crate::ops::elementwise::groups;
use crate::ops::MAX_LOOP;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/conv/direct.wgsl`.
    pub struct DirectParams {
        total: u32, c: u32, h: u32, w: u32,
        o: u32, og: u32, ho: u32, wo: u32,
        kh: u32, kw: u32, s: i32, ph: i32,
        pw: i32, transposed: u32, alpha: f32,
    }
}

kernel!(
    CONV,
    "conv/direct.wgsl",
    "main",
    DirectParams,
    [Read, Read, ReadWrite]
);

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&Direct);

struct Direct;

impl ConvImpl for Direct {
    conv_names!("direct");

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        supports(g, caps)
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        run(x, w, g, alpha)
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        Ok(vec![CONV])
    }
}

/// Invocations: one per output pixel and group of 4 output channels.
fn invocations(g: &ConvGeometry) -> usize {
    g.n * g.o.div_ceil(4) * g.ho * g.wo
}

/// Every conv whose reduction fits one invocation's loop budget (`MAX_LOOP`) and whose grid
/// fits the adapter.
pub fn supports(g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    let maxd = caps.max_workgroups as usize;
    g.kh * g.kw * g.c <= MAX_LOOP && invocations(g).div_ceil(WG as usize) <= maxd * maxd
}

/// `alpha * conv(x, w)` as `g` describes it, into a new `[N, O, HO, WO]` tensor.
pub fn run(x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
    let y = Tensor::empty(x.gpu(), &g.out_shape())?;
    let total = invocations(g);
    if total == 0 {
        return Ok(y);
    }
    let u = u32p;
    let p = DirectParams {
        total: u(total),
        c: u(g.c),
        h: u(g.h),
        w: u(g.w),
        o: u(g.o),
        og: u(g.o.div_ceil(4)),
        ho: u(g.ho),
        wo: u(g.wo),
        kh: u(g.kh),
        kw: u(g.kw),
        s: g.stride as i32,
        ph: g.pad_h as i32,
        pw: g.pad_w as i32,
        transposed: g.transposed as u32,
        alpha,
    };
    x.gpu().dispatch(&CONV, &[x, w, &y], &p, groups(total))?;
    Ok(y)
}
