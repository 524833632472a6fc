//! MNIST / Fashion-MNIST IDX3 image files, gzip-compressed or not.
//!
//! The format is a header and one u8 array, so it is parsed whole and kept in memory. The
//! 28x28 digits are padded (not resized) to a power-of-two square, because StyleGAN needs
//! power-of-two resolutions and padding keeps the digits' pixels intact. Non-square images are
//! padded the same way, with a warning in [`DatasetInfo::warnings`], as is upscaling them with
//! `resolution`.

use super::dataset::{DataOptions, Dataset, DatasetInfo, Storage};
use super::fmt_err;
use crate::error::Result;
use image::imageops::FilterType;
use std::io::Read;
use std::path::Path;

/// Parses an IDX3 image file (gzip or not) and pads each image centred to a power-of-two square.
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
    let count = opts.max_images.map_or(count, |m| m.min(count));
    // Pad (not resize) to the next power of two: 28 -> 32 keeps the digits' pixels intact.
    let side = rows.max(cols).next_power_of_two().max(4);
    let (oy, ox) = ((side - rows) / 2, (side - cols) / 2);
    let target = opts.resolution.unwrap_or(side);
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
    let channels = if opts.grayscale == Some(false) { 3 } else { 1 };
    let n = channels * target * target;
    let mut out = vec![0u8; count * n];
    let src_n = rows * cols;
    for (i, dst) in out.chunks_mut(n).enumerate() {
        let src = &data[16 + i * src_n..16 + (i + 1) * src_n];
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
        for c in 0..channels {
            dst[c * target * target..(c + 1) * target * target].copy_from_slice(&plane);
        }
    }
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
        resize: false,
    })
}
