//! Reference bilinear resizing (NCHW, f64; `ops::resize`), written after PyTorch's CPU kernel
//! (`interpolate(mode="bilinear", align_corners=False)`).

use super::Arr;

fn dims4(x: &Arr) -> (usize, usize, usize, usize) {
    assert_eq!(x.shape.len(), 4, "expected NCHW, got {:?}", x.shape);
    (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}

/// PyTorch's source coordinate for bilinear output `q` (align_corners False), computed in f32
/// as ATen does: `max((q + 0.5) * (lin / lout) - 0.5, 0)`.
fn source(q: usize, lin: usize, lout: usize) -> (usize, usize, f64) {
    let scale = lin as f32 / lout as f32;
    let src = (scale * (q as f32 + 0.5) - 0.5).max(0.0);
    let i0 = (src.floor() as usize).min(lin - 1);
    let i1 = if i0 + 1 < lin { i0 + 1 } else { i0 };
    let l = ((src - i0 as f32) as f64).clamp(0.0, 1.0);
    (i0, i1, l)
}

/// `F.interpolate(x, size=(ho, wo), mode="bilinear", align_corners=False)`.
pub fn resize_bilinear(x: &Arr, ho: usize, wo: usize) -> Arr {
    let (n, c, h, w) = dims4(x);
    let mut y = Arr::zeros(&[n, c, ho, wo]);
    for p in 0..n * c {
        let at = |iy: usize, ix: usize| x.data[(p * h + iy) * w + ix];
        for oy in 0..ho {
            let (y0, y1, ly) = source(oy, h, ho);
            for ox in 0..wo {
                let (x0, x1, lx) = source(ox, w, wo);
                let top = (1.0 - lx) * at(y0, x0) + lx * at(y0, x1);
                let bottom = (1.0 - lx) * at(y1, x0) + lx * at(y1, x1);
                y.data[(p * ho + oy) * wo + ox] = (1.0 - ly) * top + ly * bottom;
            }
        }
    }
    y
}
