//! Reference convolutions in f64, written straight from their definitions (gathers for the
//! forward convs, scatters for the transposed one) so they share no index arithmetic with the
//! GPU kernels. Images NCHW, weights HWIO `[kh,kw,in,out]`.

use super::Arr;

fn d4(a: &Arr) -> [usize; 4] {
    assert_eq!(a.shape.len(), 4, "expected a 4-D array, got {:?}", a.shape);
    [a.shape[0], a.shape[1], a.shape[2], a.shape[3]]
}

fn idx(s: [usize; 4], a: usize, b: usize, c: usize, d: usize) -> usize {
    ((a * s[1] + b) * s[2] + c) * s[3] + d
}

/// `x` at `(n, c, i, j)` with zero padding outside.
fn px(x: &Arr, n: usize, c: usize, i: isize, j: isize) -> f64 {
    let s = d4(x);
    if i < 0 || j < 0 || i >= s[2] as isize || j >= s[3] as isize {
        0.0
    } else {
        x.data[idx(s, n, c, i as usize, j as usize)]
    }
}

/// `y[n,o,i,j] = alpha * sum x[n,c,s*i+a-ph, s*j+b-pw] * w[a,b,c,o]` with output `ho x wo`.
#[allow(clippy::too_many_arguments)]
fn conv_strided(
    x: &Arr,
    w: &Arr,
    stride: usize,
    (ph, pw): (usize, usize),
    ho: usize,
    wo: usize,
    alpha: f64,
) -> Arr {
    let [n, c, _, _] = d4(x);
    let ws = d4(w);
    assert_eq!(ws[2], c, "conv: channels");
    let o = ws[3];
    let mut y = Arr::zeros(&[n, o, ho, wo]);
    let ys = d4(&y);
    for ni in 0..n {
        for oi in 0..o {
            for i in 0..ho {
                for j in 0..wo {
                    let mut acc = 0.0;
                    for ci in 0..c {
                        for a in 0..ws[0] {
                            for b in 0..ws[1] {
                                let si = (stride * i + a) as isize - ph as isize;
                                let sj = (stride * j + b) as isize - pw as isize;
                                acc += px(x, ni, ci, si, sj) * w.data[idx(ws, a, b, ci, oi)];
                            }
                        }
                    }
                    y.data[idx(ys, ni, oi, i, j)] = alpha * acc;
                }
            }
        }
    }
    y
}

/// Stride 1, same padding, odd square kernel.
pub fn conv2d(x: &Arr, w: &Arr, alpha: f64) -> Arr {
    let k = w.shape[0];
    assert!(
        k % 2 == 1 && w.shape[1] == k,
        "conv2d: kernel {:?}",
        w.shape
    );
    conv_strided(x, w, 1, (k / 2, k / 2), x.shape[2], x.shape[3], alpha)
}

/// Stride 2, padding 1, 4x4 kernel.
pub fn conv_down2(x: &Arr, k4: &Arr, alpha: f64) -> Arr {
    assert!(k4.shape[0] == 4 && k4.shape[1] == 4);
    conv_strided(x, k4, 2, (1, 1), x.shape[2] / 2, x.shape[3] / 2, alpha)
}

/// `conv_transpose2d(x, K, stride=2, padding=1)`, `K[c,o,a,b] = k4[a,b,c,o]`, times alpha:
/// every input pixel scatters `x * k4[a,b]` to output `(2i+a-1, 2j+b-1)`.
pub fn conv_up2(x: &Arr, k4: &Arr, alpha: f64) -> Arr {
    let [n, c, h, w] = d4(x);
    let ks = d4(k4);
    assert!(ks[0] == 4 && ks[1] == 4 && ks[2] == c);
    let o = ks[3];
    let mut y = Arr::zeros(&[n, o, 2 * h, 2 * w]);
    let ys = d4(&y);
    for ni in 0..n {
        for ci in 0..c {
            for i in 0..h {
                for j in 0..w {
                    let xv = x.data[idx([n, c, h, w], ni, ci, i, j)];
                    for a in 0..4 {
                        for b in 0..4 {
                            let (p, q) = ((2 * i + a) as isize - 1, (2 * j + b) as isize - 1);
                            if p < 0 || q < 0 || p >= 2 * h as isize || q >= 2 * w as isize {
                                continue;
                            }
                            for oi in 0..o {
                                y.data[idx(ys, ni, oi, p as usize, q as usize)] +=
                                    alpha * xv * k4.data[idx(ks, a, b, ci, oi)];
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// Any convolution, as `ops::conv::ConvGeometry` defines it: forward, with
/// `HO = floor((H + 2 ph - KH) / s) + 1`, or `transposed`, every input pixel scattering
/// `x * w[a, b]` to output `(s*i+a-ph, s*j+b-pw)`, with `HO = (H - 1) s + KH - 2 ph`.
pub fn conv(
    x: &Arr,
    w: &Arr,
    stride: usize,
    pad: (usize, usize),
    transposed: bool,
    alpha: f64,
) -> Arr {
    conv_padded(x, w, stride, pad, transposed, (0, 0), alpha)
}

/// [`conv`] with the output padding `(oph, opw)` of a transposed conv (extra output rows and
/// columns at the end, `HO = (H - 1) s + KH - 2 ph + oph`); zero for forward convs.
pub fn conv_padded(
    x: &Arr,
    w: &Arr,
    stride: usize,
    (ph, pw): (usize, usize),
    transposed: bool,
    (oph, opw): (usize, usize),
    alpha: f64,
) -> Arr {
    let [n, c, h, wd] = d4(x);
    let ks = d4(w);
    assert_eq!(ks[2], c, "conv: channels");
    if !transposed {
        assert_eq!((oph, opw), (0, 0), "conv: output padding of a forward conv");
        let ho = (h + 2 * ph - ks[0]) / stride + 1;
        let wo = (wd + 2 * pw - ks[1]) / stride + 1;
        return conv_strided(x, w, stride, (ph, pw), ho, wo, alpha);
    }
    let ho = (h - 1) * stride + ks[0] + oph - 2 * ph;
    let wo = (wd - 1) * stride + ks[1] + opw - 2 * pw;
    let o = ks[3];
    let mut y = Arr::zeros(&[n, o, ho, wo]);
    let ys = d4(&y);
    for ni in 0..n {
        for ci in 0..c {
            for i in 0..h {
                for j in 0..wd {
                    let xv = x.data[idx([n, c, h, wd], ni, ci, i, j)];
                    for a in 0..ks[0] {
                        for b in 0..ks[1] {
                            let p = (stride * i + a) as isize - ph as isize;
                            let q = (stride * j + b) as isize - pw as isize;
                            if p < 0 || q < 0 || p >= ho as isize || q >= wo as isize {
                                continue;
                            }
                            for oi in 0..o {
                                y.data[idx(ys, ni, oi, p as usize, q as usize)] +=
                                    alpha * xv * w.data[idx(ks, a, b, ci, oi)];
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// `dw[a,b,c,o] = alpha * sum x[n,c,s*i+a-pad, s*j+b-pad] * dy[n,o,i,j]`.
fn wgrad_strided(x: &Arr, dy: &Arr, k: usize, stride: usize, pad: usize, alpha: f64) -> Arr {
    let [n, c, _, _] = d4(x);
    let ys = d4(dy);
    let o = ys[1];
    let mut dw = Arr::zeros(&[k, k, c, o]);
    let ws = d4(&dw);
    for a in 0..k {
        for b in 0..k {
            for ci in 0..c {
                for oi in 0..o {
                    let mut acc = 0.0;
                    for ni in 0..n {
                        for i in 0..ys[2] {
                            for j in 0..ys[3] {
                                let si = (stride * i + a) as isize - pad as isize;
                                let sj = (stride * j + b) as isize - pad as isize;
                                acc += px(x, ni, ci, si, sj) * dy.data[idx(ys, ni, oi, i, j)];
                            }
                        }
                    }
                    dw.data[idx(ws, a, b, ci, oi)] = alpha * acc;
                }
            }
        }
    }
    dw
}

/// Weight gradient of `conv2d` with incoming gradient `dy`.
pub fn conv2d_wgrad(x: &Arr, dy: &Arr, k: usize, alpha: f64) -> Arr {
    wgrad_strided(x, dy, k, 1, k / 2, alpha)
}

/// Weight gradient of `conv_down2`.
pub fn conv_down2_wgrad(x: &Arr, dy: &Arr, alpha: f64) -> Arr {
    wgrad_strided(x, dy, 4, 2, 1, alpha)
}

/// Weight gradient of `conv_up2`, directly from its definition (the GPU builds it as a swap of
/// the down one; the tests compare the two):
/// `dk[a,b,c,o] = alpha * sum x[n,c,i,j] * dy[n,o,2i+a-1,2j+b-1]`.
pub fn conv_up2_wgrad(x: &Arr, dy: &Arr, alpha: f64) -> Arr {
    let [n, c, h, w] = d4(x);
    let o = dy.shape[1];
    let mut dk = Arr::zeros(&[4, 4, c, o]);
    for a in 0..4 {
        for b in 0..4 {
            for ci in 0..c {
                for oi in 0..o {
                    let mut acc = 0.0;
                    for ni in 0..n {
                        for i in 0..h {
                            for j in 0..w {
                                let (p, q) = ((2 * i + a) as isize - 1, (2 * j + b) as isize - 1);
                                acc +=
                                    x.data[idx([n, c, h, w], ni, ci, i, j)] * px(dy, ni, oi, p, q);
                            }
                        }
                    }
                    dk.data[idx([4, 4, c, o], a, b, ci, oi)] = alpha * acc;
                }
            }
        }
    }
    dk
}

/// Rotate 180 degrees (`flip`) and/or transpose in/out (`swap`) an HWIO kernel.
pub fn flip_swap(w: &Arr, flip: bool, swap: bool) -> Arr {
    let s = d4(w);
    let os = if swap { [s[0], s[1], s[3], s[2]] } else { s };
    let mut y = Arr::zeros(&os);
    for a in 0..s[0] {
        for b in 0..s[1] {
            for c in 0..s[2] {
                for o in 0..s[3] {
                    let (ta, tb) = if flip {
                        (s[0] - 1 - a, s[1] - 1 - b)
                    } else {
                        (a, b)
                    };
                    let (tc, to) = if swap { (o, c) } else { (c, o) };
                    y.data[idx(os, ta, tb, tc, to)] = w.data[idx(s, a, b, c, o)];
                }
            }
        }
    }
    y
}

/// Pad `[3,3,C,O]` to 5x5 with zeros and sum the four 1-pixel shifts:
/// `K = P[1:,1:] + P[:-1,1:] + P[1:,:-1] + P[:-1,:-1]`.
pub fn fuse_kernel(w3: &Arr) -> Arr {
    let s = d4(w3);
    assert!(s[0] == 3 && s[1] == 3);
    let (c, o) = (s[2], s[3]);
    let mut p = Arr::zeros(&[5, 5, c, o]);
    for a in 0..3 {
        for b in 0..3 {
            for ci in 0..c {
                for oi in 0..o {
                    p.data[idx([5, 5, c, o], a + 1, b + 1, ci, oi)] = w3.data[idx(s, a, b, ci, oi)];
                }
            }
        }
    }
    let mut k = Arr::zeros(&[4, 4, c, o]);
    for a in 0..4 {
        for b in 0..4 {
            for ci in 0..c {
                for oi in 0..o {
                    let at = |u: usize, v: usize| p.data[idx([5, 5, c, o], u, v, ci, oi)];
                    k.data[idx([4, 4, c, o], a, b, ci, oi)] =
                        at(a + 1, b + 1) + at(a, b + 1) + at(a + 1, b) + at(a, b);
                }
            }
        }
    }
    k
}

/// The adjoint of `fuse_kernel` (`<fuse_kernel(w), g> == <w, fuse_kernel_adjoint(g)>`).
pub fn fuse_kernel_adjoint(k4: &Arr) -> Arr {
    let s = d4(k4);
    assert!(s[0] == 4 && s[1] == 4);
    let (c, o) = (s[2], s[3]);
    let mut w = Arr::zeros(&[3, 3, c, o]);
    for u in 0..3 {
        for v in 0..3 {
            for ci in 0..c {
                for oi in 0..o {
                    let at = |a: usize, b: usize| k4.data[idx(s, a, b, ci, oi)];
                    w.data[idx([3, 3, c, o], u, v, ci, oi)] =
                        at(u, v) + at(u + 1, v) + at(u, v + 1) + at(u + 1, v + 1);
                }
            }
        }
    }
    w
}

pub fn conv_up2_fused(x: &Arr, w3: &Arr, alpha: f64) -> Arr {
    conv_up2(x, &fuse_kernel(w3), alpha)
}

pub fn conv_down2_fused(x: &Arr, w3: &Arr, alpha: f64) -> Arr {
    conv_down2(x, &fuse_kernel(w3), 0.25 * alpha)
}

/// Nearest-neighbour x2 upsampling, `[N,C,H,W]` -> `[N,C,2H,2W]`.
pub fn upsample_nearest2(x: &Arr) -> Arr {
    let [n, c, h, w] = d4(x);
    let mut y = Arr::zeros(&[n, c, 2 * h, 2 * w]);
    for ni in 0..n {
        for ci in 0..c {
            for p in 0..2 * h {
                for q in 0..2 * w {
                    y.data[idx([n, c, 2 * h, 2 * w], ni, ci, p, q)] =
                        x.data[idx([n, c, h, w], ni, ci, p / 2, q / 2)];
                }
            }
        }
    }
    y
}

/// 2x2 box average, `[N,C,H,W]` (even H, W) -> `[N,C,H/2,W/2]`.
pub fn downsample_box2(x: &Arr) -> Arr {
    let [n, c, h, w] = d4(x);
    let (ho, wo) = (h / 2, w / 2);
    let mut y = Arr::zeros(&[n, c, ho, wo]);
    for ni in 0..n {
        for ci in 0..c {
            for i in 0..ho {
                for j in 0..wo {
                    let at = |u: usize, v: usize| x.data[idx([n, c, h, w], ni, ci, u, v)];
                    y.data[idx([n, c, ho, wo], ni, ci, i, j)] = 0.25
                        * (at(2 * i, 2 * j)
                            + at(2 * i + 1, 2 * j)
                            + at(2 * i, 2 * j + 1)
                            + at(2 * i + 1, 2 * j + 1));
                }
            }
        }
    }
    y
}
