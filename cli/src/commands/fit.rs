//! `--resize N` and `--transform T`: how the images of `fid`, `features` and `metrics --data`
//! are fitted to one square size when opened, as `stylegan dataset` fits them.

use crate::commands::flags;
use clap::Args;
use stylegan_wgpu::data::{DataOptions, Transform};

#[derive(Args, Debug, Clone, Default)]
pub struct FitArgs {
    /// Fit the images to N x N (power of two) when reading them: by --transform, centre crop
    /// and Lanczos3 resize by default. Without it the images must be square, one power-of-two
    /// size (IDX digits are padded to 32x32).
    #[arg(long, value_parser = flags::resolution, value_name = "N")]
    pub resize: Option<usize>,
    /// How images are fitted: center-crop, center-crop-wide[:HEIGHT] (dataset_tool.py's) or
    /// pad (centred on black, as training pads 28x28 digits to 32x32; without --resize to the
    /// next power of two).
    #[arg(long, value_parser = flags::transform, value_name = "T")]
    pub transform: Option<Transform>,
}

impl FitArgs {
    /// The dataset options these flags ask for.
    pub fn options(&self) -> DataOptions {
        DataOptions {
            resolution: self.resize,
            transform: self.transform,
            ..DataOptions::default()
        }
    }
}
