//! Differentiable ops, one file per op family: shape checks, dispatch, backward rule.

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

/// Most loop iterations one kernel invocation may run. llvmpipe (lavapipe) silently ends all
/// loops of an invocation once they have run 65535 iterations in total
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`, shared by every loop of a shader), which truncated long
/// reductions (weight gradients at 64² batch 16 and up). Kernels whose trip count grows with
/// the data split the work into parts of at most this many iterations and add the parts in a
/// second pass; on real GPUs the extra parallelism helps as well.
pub const MAX_LOOP: usize = 16384;
