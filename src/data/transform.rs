//! How an image of any size becomes a square of the dataset's resolution: the transforms of
//! stylegan2-ada-pytorch's `dataset_tool.py` (`center-crop`, `center-crop-wide`) and the
//! padding that training applies to MNIST's 28x28 digits (`pad`).
//!
//! The same functions serve `Dataset::open` (on the fly, also for lazily decoded datasets),
//! the dataset converter and projection targets, so an image is fitted the same way wherever
//! it is read. Resizing is Lanczos3, PIL's `LANCZOS`; the two libraries may round a pixel
//! differently, so a converted dataset is close to, not byte-identical with, `dataset_tool.py`'s.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use image::DynamicImage;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// How an image is fitted to a `side x side` square.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    /// The largest centred square, resized to the side (`dataset_tool.py --transform
    /// center-crop`; what `--resize` has always done). Smaller images are upscaled.
    CenterCrop,
    /// `dataset_tool.py --transform center-crop-wide` with `--width side --height height`
    /// (`None`: the side): keeps `round(side * h / w)` centred rows of the image (rounding
    /// half to even, as numpy), resizes them to `side x height` and centres that on a black
    /// `side x side` square, rows `(side - height) / 2` on. An image narrower than `side`, or
    /// whose kept rows would be fewer than `height`, is dropped (the dataset leaves it out),
    /// as `dataset_tool.py` drops it. Note that, as there, the rows kept are counted at the
    /// output width, so an image wider than `side` is also squeezed horizontally.
    CenterCropWide { height: Option<usize> },
    /// The image centred, unscaled, on a black square (offsets rounded down), as training pads
    /// MNIST's 28x28 digits to 32x32. An image larger than the side is first shrunk (Lanczos3,
    /// aspect kept, its longer side becoming the side). Without a target resolution the side is
    /// the next power of two of the dataset's largest side.
    Pad,
}

impl Transform {
    /// The names `FromStr` accepts, for help and errors.
    pub const NAMES: &'static str = "center-crop, center-crop-wide[:HEIGHT], pad";

    /// `center-crop-wide`'s content height for a square of `side`.
    fn wide_height(height: Option<usize>, side: usize) -> usize {
        height.unwrap_or(side)
    }

    /// Checks the transform against a target side (a `center-crop-wide` height must fit).
    pub fn check(self, side: usize) -> Result<()> {
        if let Transform::CenterCropWide { height: Some(h) } = self {
            if h == 0 || h > side {
                return Err(Error::Invalid(format!(
                    "center-crop-wide:{h}: the height must be between 1 and the resolution {side}"
                )));
            }
        }
        Ok(())
    }

    /// Whether an image of `w x h` is kept (only `center-crop-wide` drops images): decided
    /// from its header, so a dataset knows its length when it is opened.
    pub fn keeps(self, w: usize, h: usize, side: usize) -> bool {
        match self {
            Transform::CenterCropWide { height } => {
                w >= side && wide_rows(w, h, side) >= Self::wide_height(height, side)
            }
            _ => true,
        }
    }

    /// `img` fitted to `side x side`; `None` when the transform drops it ([`Transform::keeps`]).
    pub fn apply(self, img: DynamicImage, side: usize) -> Option<DynamicImage> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        match self {
            Transform::CenterCrop => Some(crate::io::images::center_crop_resize(img, side)),
            Transform::Pad => Some(pad(img, side)),
            Transform::CenterCropWide { height } => {
                let height = Self::wide_height(height, side);
                if !self.keeps(w, h, side) {
                    return None;
                }
                let ch = wide_rows(w, h, side);
                // `img[(h - ch) // 2 : (h + ch) // 2]`: ch rows, since ch <= h when w >= side.
                let rows = img.crop_imm(0, ((h - ch) / 2) as u32, w as u32, ch as u32);
                let content = resize_to(rows, side, height);
                let mut canvas = DynamicImage::new(side as u32, side as u32, content.color());
                image::imageops::replace(&mut canvas, &content, 0, ((side - height) / 2) as i64);
                Some(canvas)
            }
        }
    }
}

/// `int(np.round(side * h / w))`: numpy rounds halves to even.
fn wide_rows(w: usize, h: usize, side: usize) -> usize {
    (side as f64 * h as f64 / w as f64).round_ties_even() as usize
}

/// `img` resized to exactly `w x h` with Lanczos3, or itself when it has that size (as PIL's
/// `resize` returns a copy).
fn resize_to(img: DynamicImage, w: usize, h: usize) -> DynamicImage {
    if (img.width() as usize, img.height() as usize) == (w, h) {
        img
    } else {
        img.resize_exact(w as u32, h as u32, FilterType::Lanczos3)
    }
}

fn pad(img: DynamicImage, side: usize) -> DynamicImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let img = if w > side || h > side {
        // Shrunk so that the longer side fits; the shorter keeps the aspect (at least 1 pixel).
        let scaled =
            |a: usize, b: usize| ((a as f64 * side as f64 / b as f64).round() as usize).max(1);
        let (nw, nh) = if w >= h {
            (side, scaled(h, w))
        } else {
            (scaled(w, h), side)
        };
        resize_to(img, nw, nh)
    } else {
        img
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    if (w, h) == (side, side) {
        return img;
    }
    // A new buffer is zeros: black, and transparent for alpha (which datasets drop).
    let mut canvas = DynamicImage::new(side as u32, side as u32, img.color());
    image::imageops::replace(
        &mut canvas,
        &img,
        ((side - w) / 2) as i64,
        ((side - h) / 2) as i64,
    );
    canvas
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transform::CenterCrop => write!(f, "center-crop"),
            Transform::CenterCropWide { height: None } => write!(f, "center-crop-wide"),
            Transform::CenterCropWide { height: Some(h) } => write!(f, "center-crop-wide:{h}"),
            Transform::Pad => write!(f, "pad"),
        }
    }
}

impl FromStr for Transform {
    type Err = Error;

    /// `center-crop`, `center-crop-wide`, `center-crop-wide:HEIGHT` (dataset_tool.py's
    /// `--height`) or `pad`.
    fn from_str(s: &str) -> Result<Transform> {
        let bad = || {
            Error::Invalid(format!(
                "unknown transform {s:?}: expected one of {}",
                Transform::NAMES
            ))
        };
        match s.trim() {
            "center-crop" => Ok(Transform::CenterCrop),
            "center-crop-wide" => Ok(Transform::CenterCropWide { height: None }),
            "pad" => Ok(Transform::Pad),
            t => {
                let h = t.strip_prefix("center-crop-wide:").ok_or_else(bad)?;
                let h = crate::limits::parse_count("center-crop-wide height", h, 1, 8192)?;
                Ok(Transform::CenterCropWide {
                    height: Some(h as usize),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in [
            Transform::CenterCrop,
            Transform::CenterCropWide { height: None },
            Transform::CenterCropWide { height: Some(24) },
            Transform::Pad,
        ] {
            assert_eq!(t.to_string().parse::<Transform>().unwrap(), t);
        }
        assert!("crop"
            .parse::<Transform>()
            .unwrap_err()
            .to_string()
            .contains("pad"));
        assert!("center-crop-wide:0".parse::<Transform>().is_err());
    }

    #[test]
    fn numpy_rounding() {
        // 4 * 5 / 8 = 2.5 -> 2 (half to even), 4 * 7 / 8 = 3.5 -> 4.
        assert_eq!(wide_rows(8, 5, 4), 2);
        assert_eq!(wide_rows(8, 7, 4), 4);
    }
}

/// An image file fitted to a model by [`load_image_fitted`].
#[derive(Clone, Debug, PartialEq)]
pub struct FittedImage {
    /// CHW f32 in [-1, 1] (`x / 127.5 - 1`), `channels x side x side`.
    pub data: Vec<f32>,
    /// The transform that fitted it (the one asked for, or the default chosen).
    pub transform: Transform,
    /// The file's own size.
    pub width: usize,
    pub height: usize,
}

/// An image file fitted to a model's `side x side`, converted to `channels` (1: luma, 3: RGB),
/// as CHW f32 in [-1, 1] (`x / 127.5 - 1`). `transform` `None` pads an image that fits inside
/// the side ([`Transform::Pad`], as training pads MNIST's 28x28 digits to 32x32: a 28x28
/// target keeps its shape instead of being stretched) and centre-crops and resizes any other
/// ([`Transform::CenterCrop`], Lanczos3). An image that `center-crop-wide` drops is an error
/// naming the file.
pub fn load_image_fitted(
    path: impl AsRef<Path>,
    channels: usize,
    side: usize,
    transform: Option<Transform>,
) -> Result<FittedImage> {
    let path = path.as_ref();
    if !(channels == 1 || channels == 3) || side == 0 {
        return Err(super::fmt_err(
            &path.display().to_string(),
            format!("cannot fit an image to {channels} channels of {side}x{side}"),
        ));
    }
    let img = crate::io::images::decode_file(path)?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let transform = transform.unwrap_or(if width <= side && height <= side {
        Transform::Pad
    } else {
        Transform::CenterCrop
    });
    transform
        .check(side)
        .map_err(|e| super::fmt_err(&path.display().to_string(), e.to_string()))?;
    let Some(img) = transform.apply(img, side) else {
        return Err(super::fmt_err(
            &path.display().to_string(),
            format!("the image is {width}x{height}, which {transform} at {side} drops"),
        ));
    };
    let raw = if channels == 1 {
        img.into_luma8().into_raw()
    } else {
        img.into_rgb8().into_raw()
    };
    Ok(FittedImage {
        data: crate::io::images::hwc_to_unit_chw(&raw, channels),
        transform,
        width,
        height,
    })
}
