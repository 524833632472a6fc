//! Reference channel concat, slice and pad (`ops::concat`; NCHW, f64).

use super::Arr;

fn ncs(x: &Arr) -> (usize, usize, usize) {
    (x.shape[0], x.shape[1], x.shape[2..].iter().product())
}

/// Concatenation along dim 1.
pub fn concat_channels(a: &Arr, b: &Arr) -> Arr {
    let ((n, ca, s), (_, cb, _)) = (ncs(a), ncs(b));
    let mut shape = a.shape.clone();
    shape[1] = ca + cb;
    let mut data = Vec::with_capacity(n * (ca + cb) * s);
    for i in 0..n {
        data.extend_from_slice(&a.data[i * ca * s..(i + 1) * ca * s]);
        data.extend_from_slice(&b.data[i * cb * s..(i + 1) * cb * s]);
    }
    Arr::new(&shape, data)
}

/// Channels `start..start+len`.
pub fn slice_channels(x: &Arr, start: usize, len: usize) -> Arr {
    let (n, c, s) = ncs(x);
    let mut shape = x.shape.clone();
    shape[1] = len;
    let mut data = Vec::with_capacity(n * len * s);
    for i in 0..n {
        data.extend_from_slice(&x.data[(i * c + start) * s..(i * c + start + len) * s]);
    }
    Arr::new(&shape, data)
}

/// `x` at channels `start..start+C` of zeros with `total` channels.
pub fn pad_channels(x: &Arr, start: usize, total: usize) -> Arr {
    let (n, c, s) = ncs(x);
    let mut shape = x.shape.clone();
    shape[1] = total;
    let mut y = Arr::zeros(&shape);
    for i in 0..n {
        y.data[(i * total + start) * s..(i * total + start + c) * s]
            .copy_from_slice(&x.data[i * c * s..(i + 1) * c * s]);
    }
    y
}
