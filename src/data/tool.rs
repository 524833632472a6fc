//! The dataset converter, stylegan2-ada-pytorch's `dataset_tool.py`: any dataset this crate
//! opens (a folder, a zip, IDX files with their labels) into the archive stylegan2-ada trains
//! from, a zip of PNGs `00000/img00000000.png`, `00000/img00000001.png`, ... (1000 per folder,
//! the folder named by the first five digits of the eight) with a `dataset.json` holding
//! `{"labels": [["00000/img00000000.png", 6], ...]}`, or `{"labels": null}` when the source
//! does not label every image.
//!
//! Images go through [`Dataset::open`] with the caller's [`DataOptions`] (resolution,
//! [`Transform`](super::Transform), max_images, grayscale), so a converted dataset holds
//! exactly the pixels that training, `fid` or `features` would read from the source with the
//! same options, and opening the archive gives them back bit for bit (PNG is lossless).
//! Differences from `dataset_tool.py`: the PNGs are compressed (it stores them uncompressed;
//! the zip entries are stored, not deflated, in both), the zip's timestamps are fixed at
//! 1980-01-01 so the same input makes the same archive, and names are numbered without the
//! gaps that images dropped by `center-crop-wide` leave there.
//!
//! The archive is written through [`write_atomic_with`]: it appears only when complete, and a
//! stop (SIGINT in the CLI) or an error leaves no partial file.

use super::dataset::{DataOptions, Dataset};
use super::labels::DATASET_JSON;
use super::Source;
use crate::error::{Error, Result};
use crate::io::atomic::{same_file, write_atomic_with};
use crate::io::format::FileFormat;
use crate::progress::{check_stop, Progress};
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Images decoded, encoded and written per step (and between looks at the stop flag).
const CHUNK: usize = 64;

/// What [`convert_dataset`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertReport {
    /// The source as opened (`folder ...`, `zip ...`, `idx ...`).
    pub source: String,
    /// Images written.
    pub images: usize,
    /// 1 (grayscale PNGs) or 3 (RGB).
    pub channels: usize,
    pub resolution: usize,
    /// Whether `dataset.json` holds labels (else `"labels": null`).
    pub labelled: bool,
    /// The source's warnings (also sent to the progress as they occur).
    pub warnings: Vec<String>,
}

/// The name of image `i` in the archive, as stylegan2-ada-pytorch names it:
/// `format!("{:05}/img{:08}.png", i / 1000, i)`.
///
/// ```
/// assert_eq!(stylegan_wgpu::data::archive_name(12345), "00012/img00012345.png");
/// ```
pub fn archive_name(i: usize) -> String {
    let s = format!("{i:08}");
    format!("{}/img{s}.png", &s[..s.len() - 3])
}

/// The `dataset.json` of an archive of `n` images with these labels, formatted as Python's
/// `json.dumps` formats it in `dataset_tool.py`.
///
/// ```
/// use stylegan_wgpu::data::dataset_json;
/// assert_eq!(dataset_json(2, Some(&[6, 9])),
///     r#"{"labels": [["00000/img00000000.png", 6], ["00000/img00000001.png", 9]]}"#);
/// assert_eq!(dataset_json(2, None), r#"{"labels": null}"#);
/// ```
pub fn dataset_json(n: usize, labels: Option<&[u32]>) -> String {
    match labels {
        Some(l) if l.len() == n => {
            let pairs: Vec<String> = l
                .iter()
                .enumerate()
                .map(|(i, c)| format!("[\"{}\", {c}]", archive_name(i)))
                .collect();
            format!("{{\"labels\": [{}]}}", pairs.join(", "))
        }
        _ => "{\"labels\": null}".to_string(),
    }
}

/// A u8 CHW image (1 or 3 channels, `r x r`) as PNG bytes; `name` only names it in errors.
pub fn encode_png_u8(name: &str, chw: &[u8], channels: usize, r: usize) -> Result<Vec<u8>> {
    let fmt = |msg: String| Error::Format {
        path: name.to_string(),
        msg,
    };
    if !(channels == 1 || channels == 3) || chw.len() != channels * r * r || r == 0 {
        return Err(fmt(format!(
            "{} bytes are not a {channels}x{r}x{r} image of 1 or 3 channels",
            chw.len()
        )));
    }
    let plane = r * r;
    let (hwc, color) = if channels == 1 {
        (chw.to_vec(), ExtendedColorType::L8)
    } else {
        let mut v = Vec::with_capacity(chw.len());
        for p in 0..plane {
            v.extend_from_slice(&[chw[p], chw[plane + p], chw[2 * plane + p]]);
        }
        (v, ExtendedColorType::Rgb8)
    };
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&hwc, r as u32, r as u32, color)
        .map_err(|e| fmt(e.to_string()))?;
    Ok(out)
}

/// PNGs of consecutive images, encoded on several threads (encoding, not decoding, is what
/// costs at high resolutions).
fn encode_chunk(first: usize, pixels: &[u8], channels: usize, r: usize) -> Result<Vec<Vec<u8>>> {
    let per = channels * r * r;
    let images: Vec<(usize, &[u8])> = pixels.chunks(per).enumerate().collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(images.len().max(1));
    let share = images.len().div_ceil(workers).max(1);
    let parts: Vec<Result<Vec<Vec<u8>>>> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(share)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(i, img)| encode_png_u8(&archive_name(first + i), img, channels, r))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Invalid("PNG encoding thread panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(images.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Converts the dataset at `source` into a stylegan2-ada archive at `dest` (`.zip`), the
/// images fitted by `opts` (module docs). Reports progress per image; returns what it wrote.
///
/// Errors name the file: the source's offending image, a `dataset.json` or label file that is
/// not what it should be, or `dest` (which must end in `.zip` and must not be the source).
pub fn convert_dataset(
    source: &Path,
    dest: &Path,
    opts: &DataOptions,
    progress: &mut dyn Progress,
) -> Result<ConvertReport> {
    FileFormat::expect(dest, "the dataset converter", &[FileFormat::Zip])?;
    if same_file(source, dest) {
        return Err(Error::Invalid(format!(
            "{}: the destination is the source; write the archive elsewhere",
            dest.display()
        )));
    }
    // Decoded a chunk at a time (folders and zips), so the memory does not grow with the
    // dataset; IDX files are one array in memory anyway.
    let ds = Dataset::open_source(
        &Source::detect(source)?,
        &DataOptions {
            memory_limit: 0,
            ..opts.clone()
        },
    )?;
    let info = ds.info().clone();
    for w in &info.warnings {
        progress.warn(w);
    }
    let (n, c, r) = (info.len, info.channels, info.resolution);
    progress.start("dataset", n);
    let written = write_atomic_with(dest, |f, shown| {
        let zip_err = |e: zip::result::ZipError| match e {
            zip::result::ZipError::Io(source) => Error::Io {
                path: shown.to_string(),
                source,
            },
            e => Error::Format {
                path: shown.to_string(),
                msg: e.to_string(),
            },
        };
        let io_err = |source| Error::Io {
            path: shown.to_string(),
            source,
        };
        let entry = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        let mut z = zip::ZipWriter::new(BufWriter::new(f));
        let mut start = 0;
        while start < n {
            check_stop(|| {
                format!(
                    "after converting {start} of {n} images; {} was not written",
                    dest.display()
                )
            })?;
            let k = CHUNK.min(n - start);
            let pixels = ds.images(start, k)?;
            for (j, png) in encode_chunk(start, &pixels, c, r)?.into_iter().enumerate() {
                z.start_file(archive_name(start + j), entry)
                    .map_err(zip_err)?;
                z.write_all(&png).map_err(io_err)?;
            }
            start += k;
            progress.advance(k);
        }
        z.start_file(DATASET_JSON, entry).map_err(zip_err)?;
        z.write_all(dataset_json(n, ds.labels()).as_bytes())
            .map_err(io_err)?;
        let mut w = z.finish().map_err(zip_err)?;
        // The buffer's last bytes: flushed here so that their error is returned, not lost on drop.
        w.flush().map_err(io_err)
    });
    progress.finish();
    written?;
    Ok(ConvertReport {
        source: info.source,
        images: n,
        channels: c,
        resolution: r,
        labelled: ds.labels().is_some(),
        warnings: info.warnings,
    })
}
