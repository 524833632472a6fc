//! Reference pooling (NCHW, f64; `ops::pool`), written after PyTorch's CPU kernels
//! (`torch.nn.functional.max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d(x, 1)`).

use super::Arr;

fn dims4(x: &Arr) -> (usize, usize, usize, usize) {
    assert_eq!(x.shape.len(), 4, "expected NCHW, got {:?}", x.shape);
    (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}

fn out_size(len: usize, k: usize, s: usize, pad: usize) -> usize {
    (len + 2 * pad - k) / s + 1
}

/// The input range `[start, end)` of window `o` along an axis of `len`, clipped to the input,
/// and the unclipped window's extent within the padded input.
fn window(o: usize, len: usize, k: usize, s: usize, pad: usize) -> (usize, usize, usize) {
    let start = (o * s) as isize - pad as isize;
    let end = (start + k as isize).min((len + pad) as isize);
    let extent = (end - start) as usize;
    (
        start.max(0) as usize,
        end.min(len as isize) as usize,
        extent,
    )
}

/// Max pooling with -inf padding; also the argmax of each window (flat input index; ties keep
/// the first in row-major window order).
pub fn max_pool2d_argmax(x: &Arr, k: usize, s: usize, pad: usize) -> (Arr, Vec<usize>) {
    let (n, c, h, w) = dims4(x);
    let (ho, wo) = (out_size(h, k, s, pad), out_size(w, k, s, pad));
    let mut y = Arr::zeros(&[n, c, ho, wo]);
    let mut arg = vec![0; y.numel()];
    for p in 0..n * c {
        for oy in 0..ho {
            let (ya, yb, _) = window(oy, h, k, s, pad);
            for ox in 0..wo {
                let (xa, xb, _) = window(ox, w, k, s, pad);
                let mut best = f64::NEG_INFINITY;
                let mut at = (p * h + ya) * w + xa;
                for iy in ya..yb {
                    for ix in xa..xb {
                        let i = (p * h + iy) * w + ix;
                        if x.data[i] > best {
                            best = x.data[i];
                            at = i;
                        }
                    }
                }
                let o = (p * ho + oy) * wo + ox;
                y.data[o] = best;
                arg[o] = at;
            }
        }
    }
    (y, arg)
}

/// Max pooling (`F.max_pool2d(x, k, s, pad)`).
pub fn max_pool2d(x: &Arr, k: usize, s: usize, pad: usize) -> Arr {
    max_pool2d_argmax(x, k, s, pad).0
}

/// The gradient of max pooling: each of `gy`'s values added at its window's argmax.
pub fn max_pool2d_backward(x: &Arr, gy: &Arr, k: usize, s: usize, pad: usize) -> Arr {
    let (_, arg) = max_pool2d_argmax(x, k, s, pad);
    let mut gx = Arr::zeros(&x.shape);
    for (o, &i) in arg.iter().enumerate() {
        gx.data[i] += gy.data[o];
    }
    gx
}

/// Average pooling with zero padding (`F.avg_pool2d(x, k, s, pad, count_include_pad=..)`).
pub fn avg_pool2d(x: &Arr, k: usize, s: usize, pad: usize, count_include_pad: bool) -> Arr {
    let (n, c, h, w) = dims4(x);
    let (ho, wo) = (out_size(h, k, s, pad), out_size(w, k, s, pad));
    let mut y = Arr::zeros(&[n, c, ho, wo]);
    for p in 0..n * c {
        for oy in 0..ho {
            let (ya, yb, ey) = window(oy, h, k, s, pad);
            for ox in 0..wo {
                let (xa, xb, ex) = window(ox, w, k, s, pad);
                let mut sum = 0.0;
                for iy in ya..yb {
                    for ix in xa..xb {
                        sum += x.data[(p * h + iy) * w + ix];
                    }
                }
                let div = if count_include_pad {
                    ey * ex
                } else {
                    (yb - ya) * (xb - xa)
                };
                y.data[(p * ho + oy) * wo + ox] = sum / div as f64;
            }
        }
    }
    y
}

/// Mean over each plane: `[N,C,H,W] -> [N,C,1,1]`.
pub fn global_avg_pool2d(x: &Arr) -> Arr {
    let (n, c, h, w) = dims4(x);
    let data = x
        .data
        .chunks(h * w)
        .map(|p| p.iter().sum::<f64>() / (h * w) as f64)
        .collect();
    Arr::new(&[n, c, 1, 1], data)
}
