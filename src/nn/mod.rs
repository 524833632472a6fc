//! The StyleGAN networks on the executor (`docs/network.md` describes them).

pub mod classifier;
pub mod config;
pub mod discriminator;
pub mod generator;
pub mod image_input;
pub mod inception;
pub mod lpips;
pub mod mapping;
pub mod memory;
pub mod params;
pub mod synthesis;
pub mod vgg16;

pub use config::{Config, FusedScale};
pub use discriminator::Discriminator;
pub use generator::{Generator, NoiseMode, Truncation};
pub use params::{HostTensor, HostWeights, ParamSet, ParamSpec};
