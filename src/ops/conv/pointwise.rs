//! Stride-1, unpadded 1x1 convs run as matrix products on the subgroup matmul kernels
//! (`ops::dense`): with weights `[1, 1, C, O]` read as `W[C, O]` and image `n` as `x[n][C, H*W]`,
//! `y[n] = alpha * W^T @ x[n]`, `[O, H*W]`, already NCHW. All images go in one dispatch (the
//! matmul's batched grid: the weights shared, one image matrix per product), so a conv costs
//! one dispatch whatever the batch.
//!
//! Why not the general conv kernel: its invocations own 4 pixels x 32 channels and broadcast
//! the weights, which for a 1x1 conv loads one input value per 32 vec4 FMAs; the matmul
//! kernels' larger blocks (8 x 32 per lane) load about half as much per FMA. Measured on
//! lavapipe (batch 2, one process, ms): Inception's C64->O80 at 73² 28 -> 9.7, C288->O64 at
//! 35² 8.4 -> 6.2, C768->O192 at 17² 10.6 -> 7.7, C2048->O448 at 8² 6.2 -> 5.0; and the
//! generator's ToRGB (batch 4, O = 3, which the general kernel does not take) 2-4x faster than
//! the direct kernel (C64 at 128²: 14.9 -> 7.9), FromRGB (C = 3) 1-1.5x faster than the
//! general kernel. So it comes before both in the fixed order.
//!
//! The matmul kernel is the dense planner's rule (lanes on the longer side of `W^T @ x[n]`):
//! within 10-30% of the best of the six on those shapes, which differs from shape to shape.

use crate::error::Result;
use crate::gpu::{AdapterCaps, Kernel, Policy, Tensor};
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel};
use crate::ops::conv::ConvGeometry;
use crate::ops::dense::{
    matmul_batched_on, matmul_batched_supports, Batch, MatmulKernel, MatmulShape,
};

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&Pointwise);

struct Pointwise;

/// The product per image: `op(a) = W^T [O, C]`, `b = x[n] [C, H*W]`.
fn shape(g: &ConvGeometry) -> MatmulShape {
    MatmulShape {
        m: g.o,
        k: g.c,
        n: g.h * g.w,
        trans_a: true,
        trans_b: false,
    }
}

fn batch(g: &ConvGeometry) -> Batch {
    Batch {
        n: g.n,
        a: false,
        b: true,
    }
}

/// The matmul kernel for `g`: the lanes own the longer side of `W^T @ x[n]` (output channels
/// or pixels), 8 rows (or columns) each where that side has 64 or more, else 4 (the dense
/// planner's rule).
pub fn matmul_kernel(g: &ConvGeometry) -> MatmulKernel {
    subgroup_matmul_for(g.o, g.h * g.w)
}

/// The subgroup matmul kernel for an `[m, n]` product: lanes on the longer side, 8 rows (or
/// columns) each where it has 64 or more, else 4 (the dense planner's rule).
pub(super) fn subgroup_matmul_for(m: usize, n: usize) -> MatmulKernel {
    let (o, hw) = (m, n);
    match (o >= hw, o.max(hw) >= 64) {
        (true, true) => MatmulKernel::SUBGROUP_ROWS_8X32,
        (true, false) => MatmulKernel::SUBGROUP_ROWS_4X32,
        (false, true) => MatmulKernel::SUBGROUP_COLS_8X32,
        (false, false) => MatmulKernel::SUBGROUP_COLS_4X32,
    }
}

impl ConvImpl for Pointwise {
    conv_names!("matmul");

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        !g.transposed
            && (g.kh, g.kw, g.stride, g.pad_h, g.pad_w) == (1, 1, 1, 0, 0)
            && g.n > 0
            && matmul_batched_supports(matmul_kernel(g), &shape(g), batch(g), caps)
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.subgroup_conv
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        let hw = g.h * g.w;
        let wm = w.reshape(&[g.c, g.o])?;
        let xm = x.reshape(&[g.n, g.c, hw])?;
        let y = matmul_batched_on(matmul_kernel(g), &wm, &xm, true, false, batch(g), alpha)?;
        y.reshape(&g.out_shape())
    }

    /// None of its own: it renders the matmul's (`ops::dense` declares them, batched ones
    /// included).
    fn kernels(&self) -> Result<Vec<Kernel>> {
        Ok(Vec::new())
    }
}
