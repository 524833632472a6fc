//! Frames of videos and animated GIFs: nearest-neighbour upscaling, so that a tiny model's
//! 32x32 frames are watchable, and packed 8-bit RGB of even size, what an H.264 encoder in
//! yuv420p (the pixel format every player reads) takes from a `rawvideo rgb24` pipe.

use crate::error::{Error, Result};
use crate::io::images::to_u8;

/// Largest `--upscale`: 64x already turns a 32x32 frame into 2048x2048.
pub const MAX_UPSCALE: usize = 64;

fn check(what: &str, len: usize, c: usize, h: usize, w: usize) -> Result<()> {
    if !(c == 1 || c == 3) || c.checked_mul(h).and_then(|x| x.checked_mul(w)) != Some(len) {
        return Err(Error::Invalid(format!(
            "{what}: {len} values are not a {c}x{h}x{w} frame with 1 or 3 channels"
        )));
    }
    Ok(())
}

/// A CHW frame with every pixel repeated `k` x `k` times (`[c, h*k, w*k]`).
pub fn upscale_nearest(chw: &[f32], c: usize, h: usize, w: usize, k: usize) -> Result<Vec<f32>> {
    check("upscale", chw.len(), c, h, w)?;
    if k == 0 || k > MAX_UPSCALE {
        return Err(Error::Invalid(format!(
            "upscale factor {k}: 1 to {MAX_UPSCALE}"
        )));
    }
    let mut out = Vec::with_capacity(chw.len() * k * k);
    for row in chw.chunks_exact(w) {
        let wide: Vec<f32> = row
            .iter()
            .flat_map(|&v| std::iter::repeat_n(v, k))
            .collect();
        for _ in 0..k {
            out.extend_from_slice(&wide);
        }
    }
    Ok(out)
}

/// The even size a `h` x `w` frame is padded to for yuv420p (which halves both directions).
pub fn even_size(h: usize, w: usize) -> (usize, usize) {
    (h + h % 2, w + w % 2)
}

/// A CHW frame in [-1, 1] (1 or 3 channels) as packed RGB bytes (`[h', w', 3]`, gray repeated),
/// padded to [`even_size`] by repeating the last row and column.
pub fn rgb24_even(chw: &[f32], c: usize, h: usize, w: usize) -> Result<Vec<u8>> {
    check("rgb24 frame", chw.len(), c, h, w)?;
    let (eh, ew) = even_size(h, w);
    let mut out = Vec::with_capacity(eh * ew * 3);
    for y in 0..eh {
        let y = y.min(h - 1);
        for x in 0..ew {
            let x = x.min(w - 1);
            for ch in 0..3 {
                let src = if c == 1 { 0 } else { ch };
                out.push(to_u8(chw[(src * h + y) * w + x]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscale_repeats_pixels() {
        // 1 channel 1x2: [a b] -> 2x4 [a a b b; a a b b].
        let up = upscale_nearest(&[0.1, 0.2], 1, 1, 2, 2).unwrap();
        assert_eq!(up, [0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.2, 0.2]);
        let rgb: Vec<f32> = (0..3 * 2 * 2).map(|i| i as f32).collect();
        let up = upscale_nearest(&rgb, 3, 2, 2, 3).unwrap();
        assert_eq!(up.len(), 3 * 6 * 6);
        // Channel 2, output pixel (5, 4) comes from input (1, 1).
        assert_eq!(up[(2 * 6 + 5) * 6 + 4], rgb[(2 * 2 + 1) * 2 + 1]);
        assert_eq!(upscale_nearest(&rgb, 3, 2, 2, 1).unwrap(), rgb);
        assert!(upscale_nearest(&rgb, 3, 2, 2, 0).is_err());
        assert!(upscale_nearest(&rgb, 3, 2, 3, 2).is_err());
    }

    #[test]
    fn rgb24_pads_odd_sizes_with_the_edge() {
        // Gray 1x3: -1, 0, 1 -> 2x4 RGB, last row and column repeated.
        let out = rgb24_even(&[-1.0, 0.0, 1.0], 1, 1, 3).unwrap();
        assert_eq!(even_size(1, 3), (2, 4));
        assert_eq!(out.len(), 2 * 4 * 3);
        let px = |y: usize, x: usize| &out[(y * 4 + x) * 3..(y * 4 + x) * 3 + 3];
        assert_eq!(px(0, 0), [0, 0, 0]);
        assert_eq!(px(0, 2), [255, 255, 255]);
        assert_eq!(px(0, 3), [255, 255, 255]);
        assert_eq!(px(1, 1), px(0, 1));
        // RGB keeps its channels.
        let out = rgb24_even(&[1.0, 1.0, -1.0, -1.0, -1.0, -1.0], 3, 1, 2).unwrap();
        assert_eq!(&out[..6], [255, 0, 0, 255, 0, 0]);
        assert!(rgb24_even(&[0.0; 4], 2, 1, 2).is_err());
    }
}
