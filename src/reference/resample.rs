//! Reference resampling and depthwise 3x3 filtering (NCHW, f64; `ops::resample`).

use super::Arr;

/// The StyleGAN blur filter `[1,2,1] x [1,2,1] / 16`, row-major.
pub const BLUR_TAPS: [f64; 9] = [1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0];

fn dims4(x: &Arr) -> (usize, usize, usize, usize) {
    assert_eq!(x.shape.len(), 4, "expected NCHW, got {:?}", x.shape);
    (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
}

/// Nearest x2 upsampling times `gain`.
pub fn upsample2(x: &Arr, gain: f64) -> Arr {
    let (n, c, h, w) = dims4(x);
    let mut y = Arr::zeros(&[n, c, 2 * h, 2 * w]);
    for p in 0..n * c {
        for i in 0..2 * h {
            for j in 0..2 * w {
                y.data[(p * 2 * h + i) * 2 * w + j] = gain * x.data[(p * h + i / 2) * w + j / 2];
            }
        }
    }
    y
}

/// `gain` times the sum of each 2x2 block.
pub fn downsample2(x: &Arr, gain: f64) -> Arr {
    let (n, c, h, w) = dims4(x);
    let (ho, wo) = (h / 2, w / 2);
    let mut y = Arr::zeros(&[n, c, ho, wo]);
    for p in 0..n * c {
        for i in 0..ho {
            for j in 0..wo {
                let mut s = 0.0;
                for a in 0..2 {
                    for b in 0..2 {
                        s += x.data[(p * h + 2 * i + a) * w + 2 * j + b];
                    }
                }
                y.data[(p * ho + i) * wo + j] = gain * s;
            }
        }
    }
    y
}

/// Depthwise 3x3 correlation: `y[h,w] = Σ taps[3*dy+dx] * x[h+dy-1, w+dx-1]`, zero padding.
pub fn depthwise3x3(x: &Arr, taps: &[f64; 9]) -> Arr {
    let (n, c, h, w) = dims4(x);
    let mut y = Arr::zeros(&x.shape);
    for p in 0..n * c {
        for i in 0..h {
            for j in 0..w {
                let mut s = 0.0;
                for dy in 0..3 {
                    for dx in 0..3 {
                        let (ii, jj) = (i as isize + dy as isize - 1, j as isize + dx as isize - 1);
                        if ii >= 0 && jj >= 0 && (ii as usize) < h && (jj as usize) < w {
                            s +=
                                taps[3 * dy + dx] * x.data[(p * h + ii as usize) * w + jj as usize];
                        }
                    }
                }
                y.data[(p * h + i) * w + j] = s;
            }
        }
    }
    y
}

/// The StyleGAN blur.
pub fn blur(x: &Arr) -> Arr {
    depthwise3x3(x, &BLUR_TAPS.map(|t| t / 16.0))
}
