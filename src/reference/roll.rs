//! Reference `torch.roll` over the last two axes (`ops::roll`).

use super::Arr;

/// `torch.roll(x, shifts=(dy, dx), dims=(-2, -1))`.
pub fn roll(x: &Arr, dy: isize, dx: isize) -> Arr {
    let r = x.shape.len();
    let (h, w) = (x.shape[r - 2], x.shape[r - 1]);
    let data = (0..x.numel())
        .map(|i| {
            let (j, k, plane) = ((i / w) % h, i % w, i / (h * w));
            let sj = (j as isize - dy).rem_euclid(h as isize) as usize;
            let sk = (k as isize - dx).rem_euclid(w as isize) as usize;
            x.data[(plane * h + sj) * w + sk]
        })
        .collect();
    Arr::new(&x.shape, data)
}
