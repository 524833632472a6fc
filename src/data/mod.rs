//! Training datasets and the background batch loader.
//!
//! Three sources are accepted, told apart by [`Dataset::open`]:
//! - a folder of PNG / JPEG / GIF images, searched recursively (files are sorted by path so the
//!   image order, and hence a seeded run, does not depend on the file system);
//! - a `.zip` of such images;
//! - MNIST / Fashion-MNIST IDX3 image files (`train-images-idx3-ubyte[.gz]`, or a folder holding
//!   one). Their 28x28 digits are padded, centred, with black into 32x32 because StyleGAN needs
//!   power-of-two resolutions. Non-square IDX images are padded the same way, with a warning.
//!
//! Labels. A dataset has class labels ([`Dataset::labels`]) when its source labels every image:
//! the IDX label file beside IDX images, or a `dataset.json` in stylegan2-ada-pytorch's format
//! at the root of a folder or zip (module `labels`). Training is unconditional and ignores them;
//! the converter ([`convert_dataset`], `stylegan dataset`) writes them.
//!
//! Image rules. Without a `resolution` (the CLI's `--resize`) every image must be square, a power
//! of two, and the same size as the first one; the error names the offending file and both
//! sizes. With a `resolution`, images are fitted to it by a [`Transform`]: by default
//! non-square images are centre-cropped to a square and resized with Lanczos3, and images
//! smaller than `resolution` are upscaled, with a warning (warnings are returned in
//! [`DatasetInfo::warnings`] for the caller to show); `pad` centres them on a black square
//! instead, and `center-crop-wide` is dataset_tool.py's crop for wide images. Grayscale images (L / LA)
//! give 1 channel, RGB / RGBA 3 (alpha is dropped, not composited). A folder that mixes
//! grayscale and colour images is trained in colour: the gray ones are replicated to 3 channels
//! instead of failing, since that is lossless.
//! `grayscale: Some(true)` / `Some(false)` forces 1 / 3 channels.
//!
//! Memory. Every header is read at open time, so size problems surface before training starts.
//! If the decoded dataset fits in [`DataOptions::memory_limit`] it is decoded at once (in
//! parallel) into one `u8` CHW buffer, which also surfaces corrupt files up front; larger folders
//! and zips are decoded lazily by the loader's background thread, and a corrupt file then turns
//! into an error from [`Loader::next_batch`] naming it.
//!
//! Order. [`Loader`] visits every image exactly once per epoch in an order that is a pure
//! function of `(seed, epoch)`, and the horizontal flip of an image is a pure function of
//! `(seed, position in the stream)`. The stream is therefore fully determined by the seed and the
//! number of images consumed so far, which is what [`Loader::new_at`] needs to resume a run
//! exactly. The generator is SplitMix64 ([`crate::rng::splitmix`]), which no dependency can
//! move.
//!
//! One file per concern: `source` finds a path's images (folders, zips), `idx` reads MNIST's
//! IDX files, `labels` their classes, `decode` turns image files into pixels, `transform` fits
//! them to the resolution, `dataset` applies the rules above and holds the result, `order` is
//! the deterministic stream, `loader` runs it on a thread, and `tool` converts a dataset into
//! stylegan2-ada's zip of PNGs.

mod dataset;
mod decode;
mod idx;
mod labels;
mod loader;
mod order;
mod source;
mod tool;
mod transform;

use crate::error::Error;
use std::path::Path;

pub use dataset::{DataOptions, Dataset, DatasetInfo};
pub use idx::read_idx_labels;
pub use labels::DATASET_JSON;
pub use loader::{Batch, Loader};
pub use order::{epoch_order, flip_at};
pub use source::{Source, IMAGE_EXTENSIONS};
pub use tool::{archive_name, convert_dataset, dataset_json, encode_png_u8, ConvertReport};
pub use transform::{load_image_fitted, FittedImage, Transform};

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn fmt_err(name: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        path: name.to_string(),
        msg: msg.into(),
    }
}
