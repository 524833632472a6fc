//! Converting CHW f32 images in [-1, 1] to and from PNG / JPEG / GIF files.
//!
//! The generator outputs NCHW f32 in [-1, 1]; the official scripts turn that into bytes with
//! `clip(x * 127.5 + 128, 0, 255).astype(uint8)` and we use the same rule so saved images match
//! theirs pixel for pixel. Loading maps bytes back with `x / 127.5 - 1`, the training-set
//! convention the discriminator expects.
//!
//! Files are encoded in memory and written with [`write_atomic`], so every write error
//! reaches the caller and a failed write leaves no partial file. [`save_image`] and
//! [`save_grid`] choose PNG or JPEG by the file's extension and refuse any other.

use std::io::Cursor;
use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{
    ColorType, Delay, DynamicImage, Frame, ImageEncoder, ImageError, ImageReader, RgbaImage,
};

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;

/// JPEG quality of [`save_image`]: high enough that the generator's fine detail survives.
pub const JPEG_QUALITY: u8 = 95;

/// The still-image formats we write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFileFormat {
    Png,
    Jpeg,
}

impl ImageFileFormat {
    /// The format a file name asks for: `.png`, or `.jpg` / `.jpeg` (any case). Any other
    /// extension, or none, is an error naming the file: writing PNG bytes under a `.jpg` name
    /// makes a file that viewers and tools misread.
    pub fn from_path(path: &Path) -> Result<ImageFileFormat> {
        use crate::io::format::FileFormat;
        match FileFormat::expect(path, "an image", &[FileFormat::Png, FileFormat::Jpeg])? {
            FileFormat::Jpeg => Ok(ImageFileFormat::Jpeg),
            _ => Ok(ImageFileFormat::Png),
        }
    }
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

fn img_err(path: &Path, e: ImageError) -> Error {
    match e {
        ImageError::IoError(source) => Error::Io {
            path: path_str(path),
            source,
        },
        other => Error::Format {
            path: path_str(path),
            msg: other.to_string(),
        },
    }
}

fn fmt_err<T>(path: &Path, msg: impl Into<String>) -> Result<T> {
    Err(Error::Format {
        path: path_str(path),
        msg: msg.into(),
    })
}

/// The official float-to-byte conversion for images in [-1, 1]:
/// `clamp(floor(x * 127.5 + 128), 0, 255)`. Done in f32 like the TensorFlow original; NaN maps
/// to 0.
pub fn to_u8(x: f32) -> u8 {
    // `as u8` saturates and sends NaN to 0; floor makes the rounding explicit for negatives.
    (x * 127.5 + 128.0).floor().clamp(0.0, 255.0) as u8
}

/// Checks `c`, `h`, `w` against the buffer and the image formats' limits.
fn check_dims(path: &Path, len: usize, c: usize, h: usize, w: usize) -> Result<(u32, u32)> {
    if c != 1 && c != 3 {
        return fmt_err(
            path,
            format!("images need 1 (grayscale) or 3 (RGB) channels, got {c}"),
        );
    }
    if h == 0 || w == 0 {
        return fmt_err(path, format!("empty image {h}x{w}"));
    }
    if c.checked_mul(h).and_then(|v| v.checked_mul(w)) != Some(len) {
        return fmt_err(
            path,
            format!("{len} values do not form a {c}x{h}x{w} CHW image"),
        );
    }
    match (u32::try_from(w), u32::try_from(h)) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => fmt_err(path, format!("image {h}x{w} is too large")),
    }
}

/// CHW f32 -> interleaved HWC bytes.
fn interleave(chw: &[f32], c: usize, h: usize, w: usize) -> Vec<u8> {
    let plane = h * w;
    let mut out = Vec::with_capacity(chw.len());
    for p in 0..plane {
        for ch in 0..c {
            out.push(to_u8(chw[ch * plane + p]));
        }
    }
    out
}

/// Encodes a CHW image in [-1, 1] in `format`: grayscale for `c == 1`, RGB for `c == 3`.
/// `path` only names the destination in errors.
pub fn encode_image(
    path: &Path,
    format: ImageFileFormat,
    chw: &[f32],
    c: usize,
    h: usize,
    w: usize,
) -> Result<Vec<u8>> {
    let (w32, h32) = check_dims(path, chw.len(), c, h, w)?;
    let color = if c == 1 {
        ColorType::L8
    } else {
        ColorType::Rgb8
    };
    let buf = interleave(chw, c, h, w);
    let mut out = Vec::new();
    match format {
        ImageFileFormat::Png => PngEncoder::new(&mut out).write_image(&buf, w32, h32, color.into()),
        ImageFileFormat::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
            &buf,
            w32,
            h32,
            color.into(),
        ),
    }
    .map_err(|e| img_err(path, e))?;
    Ok(out)
}

/// Saves a CHW image in [-1, 1] as PNG (whatever the extension): grayscale for `c == 1`, RGB
/// for `c == 3`. Written atomically; every write error is returned.
pub fn save_png(path: impl AsRef<Path>, chw: &[f32], c: usize, h: usize, w: usize) -> Result<()> {
    let path = path.as_ref();
    write_atomic(
        path,
        &encode_image(path, ImageFileFormat::Png, chw, c, h, w)?,
    )
}

/// Saves a CHW image in [-1, 1] as PNG or JPEG, chosen by the extension
/// ([`ImageFileFormat::from_path`]). Written atomically; every write error is returned.
pub fn save_image(path: impl AsRef<Path>, chw: &[f32], c: usize, h: usize, w: usize) -> Result<()> {
    let path = path.as_ref();
    let format = ImageFileFormat::from_path(path)?;
    write_atomic(path, &encode_image(path, format, chw, c, h, w)?)
}

/// One image as the generator makes it: `channels x height x width` values in [-1, 1], CHW.
///
/// ```
/// use stylegan_wgpu::Image;
/// let im = Image::new(1, 1, 3, vec![-1.0, 0.0, 1.0])?;
/// assert_eq!(im.to_bytes(), [0, 128, 255]); // clamp(floor(x * 127.5 + 128), 0, 255)
/// assert!(Image::new(3, 2, 2, vec![0.0; 5]).is_err());
/// # Ok::<(), stylegan_wgpu::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Image {
    /// An image from CHW values; the length must be `channels * height * width`.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<f32>) -> Result<Image> {
        if channels
            .checked_mul(height)
            .and_then(|v| v.checked_mul(width))
            != Some(data.len())
        {
            return Err(Error::Invalid(format!(
                "{} values do not form a {channels}x{height}x{width} CHW image",
                data.len()
            )));
        }
        Ok(Image {
            channels,
            height,
            width,
            data,
        })
    }

    /// Interleaved HWC bytes by the official rule (`to_u8`): grayscale for 1 channel, RGB for 3.
    pub fn to_bytes(&self) -> Vec<u8> {
        interleave(&self.data, self.channels, self.height, self.width)
    }

    /// Saves the image as PNG (grayscale or RGB), pixel for pixel what the official scripts
    /// write.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        save_png(path, &self.data, self.channels, self.height, self.width)
    }

    /// Saves the image as PNG or JPEG by the extension ([`save_image`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save_image(path, &self.data, self.channels, self.height, self.width)
    }

    /// Whether every value is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
}

/// Tiles CHW images row-major into a grid of `cols` columns (fewer if there are fewer images).
/// Returns the grid as one CHW image with its height and width; unfilled cells of the last row
/// are black (-1).
pub fn make_grid(
    images: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
) -> Result<(Vec<f32>, usize, usize)> {
    let bad = |msg: String| Err(Error::Invalid(format!("make_grid: {msg}")));
    if images.is_empty() || cols == 0 {
        return bad(format!(
            "need at least one image and one column, got {} and {cols}",
            images.len()
        ));
    }
    let Some(len) = c.checked_mul(h).and_then(|v| v.checked_mul(w)) else {
        return bad(format!("image size {c}x{h}x{w} overflows"));
    };
    if let Some((i, im)) = images.iter().enumerate().find(|(_, im)| im.len() != len) {
        return bad(format!(
            "image {i} has {} values, expected {c}x{h}x{w} = {len}",
            im.len()
        ));
    }
    let cols = cols.min(images.len());
    let rows = images.len().div_ceil(cols);
    let (gh, gw) = (rows * h, cols * w);
    let mut grid = vec![-1.0f32; c * gh * gw];
    for (i, im) in images.iter().enumerate() {
        let (r, q) = (i / cols, i % cols);
        for ch in 0..c {
            for y in 0..h {
                let src = &im[(ch * h + y) * w..][..w];
                let dst = (ch * gh + r * h + y) * gw + q * w;
                grid[dst..dst + w].copy_from_slice(src);
            }
        }
    }
    Ok((grid, gh, gw))
}

fn grid_for(
    path: &Path,
    images: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
) -> Result<(Vec<f32>, usize, usize)> {
    make_grid(images, c, h, w, cols).map_err(|e| Error::Format {
        path: path_str(path),
        msg: e.to_string(),
    })
}

/// [`make_grid`] then [`save_png`] (PNG whatever the extension).
pub fn save_grid_png(
    path: impl AsRef<Path>,
    images: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
) -> Result<()> {
    let path = path.as_ref();
    let (grid, gh, gw) = grid_for(path, images, c, h, w, cols)?;
    save_png(path, &grid, c, gh, gw)
}

/// [`make_grid`] then [`save_image`]: PNG or JPEG by the extension, any other refused before
/// anything is encoded.
pub fn save_grid(
    path: impl AsRef<Path>,
    images: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    cols: usize,
) -> Result<()> {
    let path = path.as_ref();
    let format = ImageFileFormat::from_path(path)?;
    let (grid, gh, gw) = grid_for(path, images, c, h, w, cols)?;
    write_atomic(path, &encode_image(path, format, &grid, c, gh, gw)?)
}

/// Saves CHW frames in [-1, 1] as an animated GIF that loops forever, `delay_ms` per frame
/// (GIF stores centiseconds, so the delay is rounded down to a multiple of 10 ms).
pub fn save_gif(
    path: impl AsRef<Path>,
    frames: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    delay_ms: u32,
) -> Result<()> {
    let path = path.as_ref();
    crate::io::format::FileFormat::expect(path, "a GIF", &[crate::io::format::FileFormat::Gif])?;
    if frames.is_empty() {
        return fmt_err(path, "a GIF needs at least one frame");
    }
    if h > u16::MAX as usize || w > u16::MAX as usize {
        return fmt_err(
            path,
            format!("GIF frames are at most 65535x65535, got {h}x{w}"),
        );
    }
    let mut rgba_frames = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let (w32, h32) = check_dims(path, f.len(), c, h, w).map_err(|e| match e {
            Error::Format { path, msg } => Error::Format {
                path,
                msg: format!("frame {i}: {msg}"),
            },
            e => e,
        })?;
        let hwc = interleave(f, c, h, w);
        let mut rgba = Vec::with_capacity(h * w * 4);
        for px in hwc.chunks_exact(c) {
            let (r, g, b) = if c == 1 {
                (px[0], px[0], px[0])
            } else {
                (px[0], px[1], px[2])
            };
            rgba.extend_from_slice(&[r, g, b, 255]);
        }
        let Some(img) = RgbaImage::from_raw(w32, h32, rgba) else {
            return fmt_err(path, "internal error: frame buffer size");
        };
        rgba_frames.push(Frame::from_parts(
            img,
            0,
            0,
            Delay::from_numer_denom_ms(delay_ms, 1),
        ));
    }
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut out, 10);
        enc.set_repeat(Repeat::Infinite)
            .map_err(|e| img_err(path, e))?;
        enc.encode_frames(rgba_frames)
            .map_err(|e| img_err(path, e))?;
        // Dropping the encoder writes the GIF trailer (into memory: it cannot fail).
    }
    write_atomic(path, &out)
}

/// The largest centred square of `img`, resized to `side` x `side` with Lanczos3 (left as it
/// is when it already has that size): `data::Transform::CenterCrop`, how datasets (`--resize`)
/// and projection targets larger than the model are fitted to it by default.
pub fn center_crop_resize(img: DynamicImage, side: usize) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if (w as usize, h as usize) == (side, side) {
        return img;
    }
    let s = w.min(h);
    let cropped = img.crop_imm((w - s) / 2, (h - s) / 2, s, s);
    if s as usize == side {
        cropped
    } else {
        cropped.resize_exact(
            side as u32,
            side as u32,
            image::imageops::FilterType::Lanczos3,
        )
    }
}

/// Decodes an image file (read through `read_file`, like every read of the crate: no FIFOs or
/// devices); the format is the content's, whatever the extension says.
pub(crate) fn decode_file(path: &Path) -> Result<DynamicImage> {
    let bytes = crate::io::read_file(path)?;
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|source| Error::Io {
            path: path_str(path),
            source,
        })?
        .decode()
        .map_err(|e| img_err(path, e))
}

/// Interleaved 8-bit pixels of `c` channels as CHW f32 in [-1, 1] (`x / 127.5 - 1`).
pub(crate) fn hwc_to_unit_chw(raw: &[u8], c: usize) -> Vec<f32> {
    let plane = raw.len() / c;
    let mut chw = vec![0.0f32; raw.len()];
    for (p, px) in raw.chunks_exact(c).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            chw[ch * plane + p] = v as f32 / 127.5 - 1.0;
        }
    }
    chw
}

/// Loads an image file as CHW f32 in [-1, 1] (`x / 127.5 - 1`). Grayscale files give `c == 1`,
/// everything else `c == 3` (alpha is dropped). Returns `(data, c, h, w)`.
pub fn load_image_chw(path: impl AsRef<Path>) -> Result<(Vec<f32>, usize, usize, usize)> {
    let path = path.as_ref();
    let img = decode_file(path)?;
    let gray = matches!(
        img,
        DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
    );
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (bytes, c) = if gray {
        (img.into_luma8().into_raw(), 1)
    } else {
        (img.into_rgb8().into_raw(), 3)
    };
    Ok((hwc_to_unit_chw(&bytes, c), c, h, w))
}
