//! StyleGAN (Karras et al. 2019) in pure Rust on any GPU through wgpu.
//!
//! Layers: [`gpu`] (context, tensors, kernels), [`graph`] (autodiff that differentiates its own
//! backward pass), [`ops`] (one module per differentiable op), [`reference`] (plain-Rust f64
//! reference of every op, used by the tests).

pub mod bench;
pub mod cli;
pub mod error;
pub mod gpu;
pub mod graph;
pub mod io;
pub mod kernels;
pub mod nn;
pub mod ops;
pub mod reference;
pub mod rng;
pub mod train;

pub use error::{Error, Result};
pub use gpu::{Gpu, Tensor};
pub use graph::{grad, no_grad, Var};
