//! Differentiable ops, one file per op family: shape checks, dispatch, backward rule.

pub mod elementwise;
pub mod reduce;

pub use elementwise::*;
pub use reduce::*;
