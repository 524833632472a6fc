//! Differentiable ops, one module per op family: shape checks, dispatch, backward rule, and the
//! kernels it runs (each module's `kernels()`, gathered by [`kernels`]). An op `x` keeps the
//! same name everywhere: `src/ops/x.rs`, its WGSL in `shaders/x/`, its f64 reference in
//! `src/reference/x.rs`, its tests in `tests/ops_x.rs`.

pub mod adain;
pub mod concat;
pub mod conv;
pub mod dense;
pub mod elementwise;
pub mod epilogue;
pub mod mbstd;
pub mod pixel_norm;
pub mod pool;
pub mod reduce;
mod rendered;
pub mod resample;
pub mod resize;
pub mod roll;
pub mod softmax;

pub use adain::*;
pub use concat::*;
pub use conv::*;
pub use dense::*;
pub use elementwise::*;
pub use epilogue::*;
pub use mbstd::*;
pub use pixel_norm::*;
pub use pool::*;
pub use reduce::*;
pub use resample::*;
pub use resize::*;
pub use roll::*;
pub use softmax::*;

use crate::error::Result;
use crate::gpu::Kernel;

/// Every op's kernels, the rendered ones for representative configurations: what the shader
/// tests validate, translate and check the parameter blocks of. A module's `kernels()` lists
/// its own; a new op module adds one line here.
pub fn kernels() -> Result<Vec<Kernel>> {
    let per_op: [fn() -> Result<Vec<Kernel>>; 14] = [
        adain::kernels,
        concat::kernels,
        conv::kernels,
        dense::kernels,
        elementwise::kernels,
        epilogue::kernels,
        mbstd::kernels,
        pixel_norm::kernels,
        pool::kernels,
        reduce::kernels,
        resample::kernels,
        resize::kernels,
        roll::kernels,
        softmax::kernels,
    ];
    let mut out = Vec::new();
    for f in per_op {
        out.extend(f()?);
    }
    Ok(out)
}

/// Most loop iterations one kernel invocation may run. llvmpipe (lavapipe) silently ends all
/// loops of an invocation once they have run 65535 iterations in total
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`, shared by every loop of a shader), which truncated long
/// reductions (weight gradients at 64² batch 16 and up). Kernels whose trip count grows with
/// the data split the work into parts of at most this many iterations and add the parts in a
/// second pass; on real GPUs the extra parallelism helps as well.
pub const MAX_LOOP: usize = 16384;
