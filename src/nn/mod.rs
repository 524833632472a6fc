//! The StyleGAN networks on the executor (`docs/network.md` describes them).

pub mod config;
pub mod discriminator;
pub mod flat;
pub mod generator;
pub mod labels;
pub mod mapping;
pub mod memory;
pub mod params;
pub mod synthesis;

pub use config::{Config, FusedScale};
pub use discriminator::Discriminator;
pub use generator::{Generator, NoiseMode, Truncation};
pub use params::{HostTensor, HostWeights, ParamSet, ParamSpec};
