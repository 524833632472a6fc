//! Winograd F(2x2, 3x3) for the stride-1 "same" 3x3 conv (`shaders/conv/winograd.wgsl`): the
//! weight and input transforms, 16 products `U[xi]^T @ V[xi]` in one batched dispatch on the
//! subgroup matmul kernels (`ops::dense`), and the output transform. Four dispatches per conv.
//!
//! It does 2.25x fewer multiplications than the direct conv but moves 4x the activations
//! through memory-bound kernels, so it pays only where the products are large. On lavapipe it
//! ran the official networks' wide 3x3 convs at 32² and 64² 1.7-2.4x faster than the subgroup
//! kernel (78-101 against 42-52 GFLOP/s), and lost below 16² or 128 channels (`docs/lavapipe.md`).
//! So it comes last in the fixed order (the direct kernel, which takes every shape, before it:
//! results without tuning stay those of before it), and tuning picks it where it measures
//! fastest.

use crate::error::Result;
use crate::gpu::kernel::u32p;
use crate::gpu::{AdapterCaps, Kernel, Policy, Precision, Tensor, WG};
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel};
use crate::ops::conv::pointwise::subgroup_matmul_for;
use crate::ops::conv::ConvGeometry;
use crate::ops::dense::{matmul_batched_on, matmul_batched_supports, Batch, MatmulShape};
use crate::ops::elementwise::groups;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/conv/winograd.wgsl`.
    pub struct WinogradParams { n: u32, c: u32, k: u32, h: u32, w: u32, th: u32, tw: u32, total: u32 }
}

kernel!(
    WEIGHTS,
    "conv/winograd.wgsl",
    "weights",
    WinogradParams,
    [Read, ReadWrite]
);
kernel!(
    INPUT,
    "conv/winograd.wgsl",
    "input",
    WinogradParams,
    [Read, ReadWrite]
);
kernel!(
    OUTPUT,
    "conv/winograd.wgsl",
    "output",
    WinogradParams,
    [Read, ReadWrite]
);

/// Points of the 4x4 transformed tile: the number of products.
const XI: usize = 16;

/// The largest transformed tensor it allocates, in f32s: wgpu's default storage binding limit
/// (128 MiB), which every adapter offers, so that a shape it takes never fails to allocate.
const MAX_TRANSFORMED: usize = (128 << 20) / 4;

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&Winograd);

struct Winograd;

/// Tiles of 2x2 outputs over the batch.
fn tiles(g: &ConvGeometry) -> usize {
    g.n * (g.h / 2) * (g.w / 2)
}

/// Each product: `op(a) = U[xi]^T [K, C]`, `b = V[xi] [C, P]`.
fn shape(g: &ConvGeometry) -> MatmulShape {
    MatmulShape {
        m: g.o,
        k: g.c,
        n: tiles(g),
        trans_a: true,
        trans_b: false,
    }
}

const BATCH: Batch = Batch {
    n: XI,
    a: true,
    b: true,
};

fn params(g: &ConvGeometry, total: usize) -> WinogradParams {
    WinogradParams {
        n: u32p(g.n),
        c: u32p(g.c),
        k: u32p(g.o),
        h: u32p(g.h),
        w: u32p(g.w),
        th: u32p(g.h / 2),
        tw: u32p(g.w / 2),
        total: u32p(total),
    }
}

impl ConvImpl for Winograd {
    conv_names!("winograd");

    /// 3x3 "same" with even sides, products the batched subgroup matmul takes, transformed
    /// tensors within `MAX_TRANSFORMED` and transform grids that fit the adapter.
    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        let maxd = caps.max_workgroups as usize;
        let s = shape(g);
        let largest = [g.c * g.o, g.c * tiles(g), g.o * tiles(g)];
        g.is_same(3)
            && g.n > 0
            && g.c > 0
            && g.o > 0
            && g.h.is_multiple_of(2)
            && g.w.is_multiple_of(2)
            && g.h > 0
            && g.w > 0
            && largest
                .iter()
                .all(|&t| XI * t <= MAX_TRANSFORMED && t.div_ceil(WG as usize) <= maxd * maxd)
            && matmul_batched_supports(subgroup_matmul_for(s.m, s.n), &s, BATCH, caps)
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.subgroup_conv
    }

    /// At f32 only: the transforms' extra rounding is not for f16 inference.
    fn planned(&self, _g: &ConvGeometry, policy: &Policy, prec: Precision) -> bool {
        self.enabled(policy) && prec == Precision::F32
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        let gpu = x.gpu();
        let p = tiles(g);
        let (c, k) = (g.c, g.o);
        let u = Tensor::empty(gpu, &[XI, c, k])?;
        gpu.dispatch(&WEIGHTS, &[w, &u], &params(g, c * k), groups(c * k))?;
        let v = Tensor::empty(gpu, &[XI, c, p])?;
        gpu.dispatch(&INPUT, &[x, &v], &params(g, c * p), groups(c * p))?;
        let s = shape(g);
        let m = matmul_batched_on(
            subgroup_matmul_for(s.m, s.n),
            &u,
            &v,
            true,
            false,
            BATCH,
            alpha,
        )?;
        let y = Tensor::empty(gpu, &g.out_shape())?;
        gpu.dispatch(&OUTPUT, &[&m, &y], &params(g, k * p), groups(k * p))?;
        Ok(y)
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        Ok(vec![WEIGHTS, INPUT, OUTPUT])
    }
}
