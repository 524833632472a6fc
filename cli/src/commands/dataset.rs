//! `stylegan dataset`: stylegan2-ada-pytorch's `dataset_tool.py`, through the library's
//! converter (`stylegan_wgpu::data::convert_dataset`).

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::progress::Bars;
use stylegan_wgpu::data::{convert_dataset, DataOptions, Transform};

/// Convert images (folder, zip, IDX) into a dataset zip, as stylegan2-ada's dataset_tool.py.
///
/// The archive is stylegan2-ada-pytorch's: PNGs named 00000/img00000000.png (1000 per folder)
/// and a dataset.json with the labels.
///
/// The source is a folder of PNG/JPEG/GIF images (recursive, in path order), a .zip of them, or
/// MNIST/Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], or a folder holding them).
/// Labels come from the IDX label file beside the images (train-labels-idx1-ubyte[.gz]) or from
/// a dataset.json in stylegan2-ada's format at the root of the folder or zip; dataset.json
/// holds "labels": null when not every image has one. The archive opens everywhere a dataset
/// does (train --data, fid, features, metrics --data) and in stylegan2-ada-pytorch.
///
/// Transforms (--transform), each to a --resolution x --resolution square:
///   center-crop          the largest centred square, resized (Lanczos3); the default with
///                        --resolution
///   center-crop-wide[:H] dataset_tool.py's crop for wide images: round(R*h/w) centre rows
///                        resized to R x H on a black R x R square (H defaults to R); images
///                        narrower than R are dropped, as there
///   pad                  centred unscaled on a black square (larger images shrunk to fit), as
///                        training pads 28x28 digits to 32x32; without --resolution, the next
///                        power of two of the largest image
///
/// Examples:
///   stylegan dataset --source digits/ --dest digits.zip --transform pad     (28x28 -> 32x32)
///   stylegan dataset --source /usr/share/datasets/fashion-mnist --dest fmnist.zip
///   stylegan dataset --source photos/ --dest photos64.zip --resolution 64 --channels 3
///   stylegan dataset --source lsun_cats/ --dest cats.zip --resolution 256 \
///       --transform center-crop-wide:192 --max-images 10000
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct DatasetArgs {
    /// The images: a folder, a .zip or an IDX images file (or a folder holding one).
    #[arg(long)]
    pub source: PathBuf,
    /// The archive to write (.zip); replaced atomically, nothing is written on error or stop.
    #[arg(long, value_parser = flags::out_zip)]
    pub dest: PathBuf,
    /// Side of the square output images (power of two). Default: the images' own size, which
    /// must then be square and a power of two (IDX: padded to the next power of two).
    #[arg(long, value_parser = flags::resolution, visible_alias = "resize")]
    pub resolution: Option<usize>,
    /// How images are fitted to --resolution: center-crop, center-crop-wide[:HEIGHT] or pad
    /// (see above).
    #[arg(long, value_parser = flags::transform)]
    pub transform: Option<Transform>,
    /// Convert only the first N source images (in path order; center-crop-wide may then drop
    /// some of them, as dataset_tool.py does).
    #[arg(long, value_parser = flags::positive_count)]
    pub max_images: Option<usize>,
    /// Output channels: 1 (grayscale) or 3 (RGB). Default: 1 if every image is grayscale,
    /// else 3.
    #[arg(long, value_parser = flags::image_channels)]
    pub channels: Option<usize>,
}

pub fn run(a: &DatasetArgs) -> Result<()> {
    let opts = DataOptions {
        resolution: a.resolution,
        transform: a.transform,
        max_images: a.max_images,
        grayscale: a.channels.map(|c| c == 1),
        ..DataOptions::default()
    };
    super::stop::install_for_library();
    let report =
        convert_dataset(&a.source, &a.dest, &opts, &mut Bars::default()).with_context(|| {
            format!(
                "--source {} --dest {}",
                a.source.display(),
                a.dest.display()
            )
        })?;
    println!(
        "wrote {}: {} images of {r}x{r}, {} channel(s), {} (from {})",
        a.dest.display(),
        report.images,
        report.channels,
        if report.labelled {
            "labels in dataset.json"
        } else {
            "no labels (dataset.json: \"labels\": null)"
        },
        report.source,
        r = report.resolution,
    );
    Ok(())
}
