//! The StyleGAN networks on the executor (`../shared/STYLEGAN.md`).

pub mod config;
pub mod discriminator;
pub mod generator;
pub mod mapping;
pub mod params;
pub mod synthesis;

pub use config::{Config, FusedScale};
pub use generator::{Generator, NoiseMode};
pub use params::{HostTensor, HostWeights, ParamSet, ParamSpec};
