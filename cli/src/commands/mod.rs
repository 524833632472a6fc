//! Command-line front end of the `stylegan` binary.

pub mod bench;
pub mod classifier;
pub mod common;
pub mod convert;
pub mod dataset;
pub mod devices;
pub mod discriminate;
pub mod feature_net;
pub mod features;
pub mod fit;
pub mod flags;
pub mod gen_common;
pub mod generate;
pub mod info;
pub mod init;
pub mod interpolate;
pub mod losses;
pub mod lpips;
pub mod metrics;
pub mod mix;
pub mod progress;
pub mod project;
pub mod stop;
pub mod train;
pub mod video;
pub mod world;
