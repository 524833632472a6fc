//! The StyleGAN networks on the executor (`../shared/STYLEGAN.md`).

pub mod config;
pub mod params;

pub use config::{Config, FusedScale};
pub use params::{HostTensor, HostWeights, ParamSet, ParamSpec};
