//! Differentiable ops, one file per op family: shape checks, dispatch, backward rule.

pub mod adain;
pub mod concat;
pub mod conv;
pub mod conv_fast;
pub mod dense;
pub mod elementwise;
pub mod epilogue;
pub mod mbstd;
pub mod pixel_norm;
pub mod reduce;
pub mod resample;

pub use adain::*;
pub use concat::*;
pub use conv::*;
pub use dense::*;
pub use elementwise::*;
pub use epilogue::*;
pub use mbstd::*;
pub use pixel_norm::*;
pub use reduce::*;
pub use resample::*;
