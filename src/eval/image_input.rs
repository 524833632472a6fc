//! What the metric networks do to images before they see them: the shape check and the
//! channel conversion (grayscale repeated to RGB for Inception and VGG16, RGB averaged to gray
//! for the Fashion-MNIST classifier). Images are `[n, c, h, w]`, row-major, `c` 1 or 3.

use crate::error::{Error, Result};

/// An error naming `op` unless `len` values are `n` images of `c x h x w` with 1 or 3 channels.
pub fn check_images(
    op: &'static str,
    len: usize,
    n: usize,
    c: usize,
    h: usize,
    w: usize,
) -> Result<()> {
    if !(c == 1 || c == 3) || n == 0 || h == 0 || w == 0 || len != n * c * h * w {
        return Err(Error::Shape {
            op,
            msg: format!("{len} values are not {n} images of {c}x{h}x{w} with 1 or 3 channels"),
        });
    }
    Ok(())
}

/// `[n, 3, h, w]`: grayscale planes repeated (`img.repeat([1, 3, 1, 1])`), RGB as it is.
pub fn repeat_to_rgb(images: &[f32], c: usize, plane: usize) -> Vec<f32> {
    if c == 3 {
        return images.to_vec();
    }
    images
        .chunks(plane)
        .flat_map(|p| p.iter().chain(p).chain(p).copied())
        .collect()
}

/// `[n, 1, h, w]`: the mean of the channels.
pub fn average_to_gray(images: &[f32], c: usize, plane: usize) -> Vec<f32> {
    images
        .chunks(c * plane)
        .flat_map(|img| {
            (0..plane).map(move |i| (0..c).map(|ch| img[ch * plane + i]).sum::<f32>() / c as f32)
        })
        .collect()
}
