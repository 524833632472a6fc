//! Turning image files into pixels: reading headers, decoding, cropping and resizing, and
//! converting to the dataset's channels as u8 CHW.
//!
//! Used both when a dataset is opened (headers of every file, and decoding everything when it
//! fits in memory) and by the loader for lazily decoded datasets, so the two cannot differ in
//! how an image ends up.

use super::fmt_err;
use super::source::{read_entry, Entry};
use super::transform::Transform;
use super::DatasetInfo;
use crate::error::{Error, Result};
use image::{ColorType, DynamicImage, ImageDecoder, ImageReader};
use std::io::Cursor;

fn is_gray(c: ColorType) -> bool {
    matches!(
        c,
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16
    )
}

fn reader(bytes: &[u8]) -> ImageReader<Cursor<&[u8]>> {
    // Guessing from the magic bytes cannot fail on I/O for an in-memory cursor.
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap_or_else(|_| ImageReader::new(Cursor::new(bytes)))
}

/// Reads only the header: (width, height, is grayscale).
pub(super) fn probe(name: &str, bytes: &[u8]) -> Result<(u32, u32, bool)> {
    let dec = reader(bytes)
        .into_decoder()
        .map_err(|e| fmt_err(name, format!("cannot read image: {e}")))?;
    let (w, h) = dec.dimensions();
    if w == 0 || h == 0 {
        return Err(fmt_err(name, "image has zero size"));
    }
    Ok((w, h, is_gray(dec.color_type())))
}

/// Decodes one image into `out` (CHW u8), converting channels as `info` says and fitting it to
/// its resolution by `fit` (`None`: it must have that size already).
pub(super) fn decode_into(
    name: &str,
    bytes: &[u8],
    info: &DatasetInfo,
    fit: Option<Transform>,
    out: &mut [u8],
) -> Result<()> {
    let img = reader(bytes)
        .decode()
        .map_err(|e| fmt_err(name, format!("cannot decode image: {e}")))?;
    let r = info.resolution;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let img = match fit {
        Some(t) => t.apply(img, r).ok_or_else(|| {
            // Dropped images were left out at open time: the file changed since.
            fmt_err(
                name,
                format!("image is {w}x{h}, which {t} at {r} drops; it changed since the dataset was opened"),
            )
        })?,
        None if w != r || h != r => {
            // The header said otherwise at open time; the file changed since.
            return Err(fmt_err(
                name,
                format!("image is {w}x{h}, expected {r}x{r} like the rest of the dataset"),
            ));
        }
        None => img,
    };
    write_chw(&img, info.channels, out);
    Ok(())
}

fn write_chw(img: &DynamicImage, channels: usize, out: &mut [u8]) {
    if channels == 1 {
        out.copy_from_slice(img.to_luma8().as_raw());
    } else {
        let rgb = img.to_rgb8();
        let hw = out.len() / 3;
        for (p, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            out[p] = px[0];
            out[hw + p] = px[1];
            out[2 * hw + p] = px[2];
        }
    }
}

fn worker_count(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16)
        .min(jobs)
        .max(1)
}

/// Decodes `entries` into consecutive slots of `out` on several threads; the returned error is
/// the one of the lowest-numbered failing entry, so it does not depend on thread timing.
pub(super) fn decode_many(
    entries: &[&Entry],
    info: &DatasetInfo,
    fit: Option<Transform>,
    out: &mut [u8],
) -> Result<()> {
    let n = info.channels * info.resolution * info.resolution;
    let workers = worker_count(entries.len());
    let per = entries.len().div_ceil(workers);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(per)
            .zip(out.chunks_mut(per * n))
            .map(|(ents, buf)| {
                s.spawn(move || -> Result<()> {
                    let mut zip = None;
                    for (e, slot) in ents.iter().zip(buf.chunks_mut(n)) {
                        let bytes = read_entry(e, Some(&mut zip))?;
                        decode_into(&e.name, &bytes, info, fit, slot)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Invalid("image decoding thread panicked".into()))
                })
            })
            .collect()
    });
    results.into_iter().collect()
}
