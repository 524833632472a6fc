//! MNIST / Fashion-MNIST IDX3 image files, gzip-compressed or not.
//!
//! The format is a header and one u8 array, so it is parsed whole and kept in memory. The
//! 28x28 digits are padded (not resized) to a power-of-two square, because StyleGAN needs
//! power-of-two resolutions and padding keeps the digits' pixels intact. Non-square images are
//! padded the same way, with a warning in [`DatasetInfo::warnings`], as is upscaling them with
//! `resolution`. An explicit transform fits the raw images instead, as it fits a folder's.
//! Labels come from the IDX1 file beside the images (`*-labels-idx1-ubyte[.gz]`) when there is
//! one; it must hold one label per image.

use super::dataset::{DataOptions, Dataset, DatasetInfo, Storage};
use super::fmt_err;
use super::labels::idx_labels_path;
use super::transform::Transform;
use crate::error::Result;
use image::imageops::FilterType;
use std::io::Read;
use std::path::Path;

/// The bytes of an IDX file, gunzipped when compressed, and its name for errors.
fn read_idx(p: &Path) -> Result<(String, Vec<u8>)> {
    let name = p.display().to_string();
    let raw = crate::io::read_file(p)?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok((name, raw));
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| fmt_err(&name, format!("cannot gunzip: {e}")))?;
    Ok((name, out))
}

/// The class labels of an IDX1 label file (`train-labels-idx1-ubyte.gz`), gzip or not.
pub fn read_idx_labels(p: &Path) -> Result<Vec<u8>> {
    let (name, data) = read_idx(p)?;
    let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    if data.len() < 8 || word(0) != 0x0000_0801 {
        return Err(fmt_err(
            &name,
            "not an IDX1 label file (magic 0x00000801); pass e.g. train-labels-idx1-ubyte.gz",
        ));
    }
    let count = word(4) as usize;
    if data.len() != 8 + count {
        return Err(fmt_err(
            &name,
            format!(
                "IDX header says {count} labels but the file holds {}",
                data.len() - 8
            ),
        ));
    }
    Ok(data[8..].to_vec())
}

pub(super) fn open_idx(p: &Path, opts: &DataOptions) -> Result<Dataset> {
    let (name, data) = read_idx(p)?;
    let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    if data.len() < 4 {
        return Err(fmt_err(
            &name,
            format!("IDX file too short ({} bytes)", data.len()),
        ));
    }
    let magic = word(0);
    if magic == 0x0000_0801 {
        return Err(fmt_err(
            &name,
            "this is an IDX label file; pass the images file (train-images-idx3-ubyte.gz)",
        ));
    }
    if magic != 0x0000_0803 {
        return Err(fmt_err(
            &name,
            format!("not an IDX3 u8 images file (magic {magic:#010x}, expected 0x00000803)"),
        ));
    }
    if data.len() < 16 {
        return Err(fmt_err(
            &name,
            format!("IDX header truncated ({} bytes)", data.len()),
        ));
    }
    let (count, rows, cols) = (word(4) as usize, word(8) as usize, word(12) as usize);
    let expect = count
        .checked_mul(rows)
        .and_then(|x| x.checked_mul(cols))
        .and_then(|x| x.checked_add(16));
    if expect != Some(data.len()) {
        return Err(fmt_err(
            &name,
            format!(
                "IDX header says {count} images of {rows}x{cols} ({} bytes with the header) but \
                 the data has {} bytes",
                expect.map(|e| e.to_string()).unwrap_or("too many".into()),
                data.len()
            ),
        ));
    }
    if count == 0 || rows == 0 || cols == 0 {
        return Err(fmt_err(&name, "IDX file holds no images"));
    }
    let labels = match idx_labels_path(p) {
        Some(lp) => {
            let l = read_idx_labels(&lp)?;
            if l.len() != count {
                return Err(fmt_err(
                    &lp.display().to_string(),
                    format!("{} labels for the {count} images of {name}", l.len()),
                ));
            }
            Some(l)
        }
        None => None,
    };
    let count = opts.max_images.map_or(count, |m| m.min(count));
    let labels = labels.map(|l| l[..count].iter().map(|&c| c as u32).collect());
    let channels = if opts.grayscale == Some(false) { 3 } else { 1 };
    let images = &data[16..16 + count * rows * cols];
    // IDX images are held in memory at the target size: refused by name when that cannot fit.
    let side = opts
        .resolution
        .unwrap_or_else(|| rows.max(cols).next_power_of_two().max(4));
    crate::limits::check_host_bytes(
        &format!("{name}: {count} images of {channels}x{side}x{side}"),
        (count as u64).saturating_mul((channels * side * side) as u64),
    )?;
    let (out, target, warnings) = match opts.transform {
        None => default_fit(&name, images, rows, cols, channels, opts.resolution),
        Some(t) => transformed(&name, images, rows, cols, channels, opts.resolution, t)?,
    };
    Ok(Dataset {
        info: DatasetInfo {
            len: count,
            channels,
            resolution: target,
            source: format!("idx {name}"),
            in_memory: true,
            warnings,
        },
        storage: Storage::Memory(out),
        fit: None,
        labels,
        class_names: None,
    })
}

/// Copies a plane into each of `channels` planes of `dst`.
fn put_plane(dst: &mut [u8], plane: &[u8], channels: usize) {
    let hw = plane.len();
    for c in 0..channels {
        dst[c * hw..(c + 1) * hw].copy_from_slice(plane);
    }
}

/// Without a transform: padded to the next power of two (28 -> 32 keeps the digits' pixels
/// intact), then resized to the resolution if one is asked for. Returns the images, the
/// side and warnings.
fn default_fit(
    name: &str,
    images: &[u8],
    rows: usize,
    cols: usize,
    channels: usize,
    resolution: Option<usize>,
) -> (Vec<u8>, usize, Vec<String>) {
    let side = rows.max(cols).next_power_of_two().max(4);
    let (oy, ox) = ((side - rows) / 2, (side - cols) / 2);
    let target = resolution.unwrap_or(side);
    let mut warnings = Vec::new();
    if rows != cols {
        // Padding a non-square image changes its aspect in the square the network sees,
        // which nobody asked for; MNIST's own 28x28 -> 32x32 is square and expected.
        warnings.push(format!(
            "{name}: the IDX images are {rows}x{cols} (rows x columns), not square; they are \
             padded with black, centred, to {side}x{side}"
        ));
    }
    if target > side {
        warnings.push(format!(
            "{name}: the IDX images (padded to {side}x{side}) are upscaled to --resize {target}"
        ));
    }
    let n = channels * target * target;
    let count = images.len() / (rows * cols);
    let mut out = vec![0u8; count * n];
    for (src, dst) in images.chunks(rows * cols).zip(out.chunks_mut(n)) {
        let mut padded = vec![0u8; side * side];
        for y in 0..rows {
            padded[(y + oy) * side + ox..(y + oy) * side + ox + cols]
                .copy_from_slice(&src[y * cols..(y + 1) * cols]);
        }
        let plane = if target != side {
            let img = image::GrayImage::from_raw(side as u32, side as u32, padded)
                .expect("buffer size matches");
            image::imageops::resize(&img, target as u32, target as u32, FilterType::Lanczos3)
                .into_raw()
        } else {
            padded
        };
        put_plane(dst, &plane, channels);
    }
    (out, target, warnings)
}

/// With a transform: each `rows x cols` image fitted by it, as a folder's images are.
fn transformed(
    name: &str,
    images: &[u8],
    rows: usize,
    cols: usize,
    channels: usize,
    resolution: Option<usize>,
    t: Transform,
) -> Result<(Vec<u8>, usize, Vec<String>)> {
    // `open_source` refused the transforms that need a resolution; `pad` pads to the next
    // power of two.
    let target = resolution.unwrap_or_else(|| rows.max(cols).next_power_of_two().max(4));
    if !t.keeps(cols, rows, target) {
        return Err(fmt_err(
            name,
            format!(
                "{t} at {target} drops every image: the IDX images are {rows}x{cols} (rows x \
                 columns)"
            ),
        ));
    }
    let mut warnings = Vec::new();
    if t == Transform::CenterCrop && rows.min(cols) < target {
        warnings.push(format!(
            "{name}: the IDX images ({rows}x{cols}) are upscaled to --resize {target}"
        ));
    }
    let n = channels * target * target;
    let count = images.len() / (rows * cols);
    let mut out = vec![0u8; count * n];
    for (src, dst) in images.chunks(rows * cols).zip(out.chunks_mut(n)) {
        let img = image::GrayImage::from_raw(cols as u32, rows as u32, src.to_vec())
            .expect("buffer size matches");
        let fitted = t
            .apply(image::DynamicImage::ImageLuma8(img), target)
            .ok_or_else(|| fmt_err(name, format!("{t} dropped an image it keeps")))?;
        put_plane(dst, fitted.to_luma8().as_raw(), channels);
    }
    Ok((out, target, warnings))
}
