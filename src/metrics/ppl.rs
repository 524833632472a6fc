//! Perceptual path length (Karras et al. 2019, section 4.1), as the official
//! `metrics/perceptual_path_length.py`: pairs of latents `z0, z1 ~ N(0, I)`, a position `t`
//! (`U[0, 1)` for "full", 0 for "end"), images at `t` and `t + ε` (ε = 1e-4) by slerp in Z or
//! lerp in W (the mapping output, no truncation), the constant noise inputs; the distance of
//! the two images divided by ε²; values outside the 1st-99th percentile dropped; the mean.
//!
//! The official distance is LPIPS on VGG16 ([`lpips_distance`]: images above 256x256 box-
//! downsampled to it first). The distance is a function of the caller's choosing
//! (`distance`), so the metric also runs on the own-domain classifier's features where no
//! VGG16 weights exist; callers must say which distance they used.

use crate::error::{Error, Result};
use crate::eval::lpips::Lpips;
use crate::nn::generator::{Generator, NoiseMode, Truncation};

/// Where the path is interpolated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PplSpace {
    /// Spherical interpolation of the latents.
    Z,
    /// Linear interpolation of the mapping's output.
    W,
}

/// Where on the path the pair sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PplSampling {
    /// `t ~ U[0, 1)`.
    Full,
    /// `t = 0`.
    End,
}

#[derive(Clone, Copy, Debug)]
pub struct PplOptions {
    pub space: PplSpace,
    pub sampling: PplSampling,
    /// Pairs (official: 100,000).
    pub num: usize,
    /// Pairs per generator batch.
    pub batch: usize,
    pub epsilon: f64,
    pub seed: u64,
}

fn normalize(v: &[f64]) -> Vec<f64> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// The official (TF) slerp of two latents: both normalized, the result normalized.
pub fn slerp(a: &[f64], b: &[f64], t: f64) -> Vec<f64> {
    let (a, b) = (normalize(a), normalize(b));
    let d: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let p = t * d.clamp(-1.0, 1.0).acos();
    let c = normalize(&b.iter().zip(&a).map(|(y, x)| y - d * x).collect::<Vec<_>>());
    normalize(
        &a.iter()
            .zip(&c)
            .map(|(x, y)| x * p.cos() + y * p.sin())
            .collect::<Vec<_>>(),
    )
}

/// The mean of `d` over the values between its 1st and 99th percentiles (numpy's
/// `percentile(.., 1, interpolation='lower')` and `(.., 99, interpolation='higher')`).
pub fn filtered_mean(d: &[f64]) -> Result<f64> {
    if d.is_empty() || d.iter().any(|v| !v.is_finite()) {
        return Err(Error::Invalid(
            "ppl: no distances, or non-finite ones".into(),
        ));
    }
    let mut s = d.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    let lo = s[((n - 1) as f64 * 0.01).floor() as usize];
    let hi = s[((n - 1) as f64 * 0.99).ceil() as usize];
    let kept: Vec<f64> = d.iter().copied().filter(|v| lo <= *v && *v <= hi).collect();
    Ok(kept.iter().sum::<f64>() / kept.len() as f64)
}

/// `distance(images_a, images_b, n)`: one distance per pair of images.
pub type PairDistance<'a> = dyn FnMut(&[f32], &[f32], usize) -> Result<Vec<f64>> + 'a;

/// PPL of `g` with `distance(images_a, images_b, n)`: one distance per pair, images
/// `[n, C, H, W]` in [-1, 1]. `progress` is told how many pairs each batch held.
pub fn ppl(
    g: &Generator,
    opts: &PplOptions,
    distance: &mut PairDistance,
    progress: &mut dyn FnMut(usize),
) -> Result<f64> {
    if opts.num == 0 || opts.batch == 0 || opts.epsilon.is_nan() || opts.epsilon <= 0.0 {
        return Err(Error::Invalid(format!(
            "ppl: {} pairs in batches of {} with epsilon {} (all must be positive)",
            opts.num, opts.batch, opts.epsilon
        )));
    }
    let k = g.cfg.latent_size;
    let (l, dl) = (g.cfg.num_layers(), g.cfg.dlatent_size);
    let mut rng = crate::rng::seeded(opts.seed);
    let none = Truncation::NONE;
    let mut out = Vec::with_capacity(opts.num);
    while out.len() < opts.num {
        let b = opts.batch.min(opts.num - out.len());
        let z = crate::rng::std_normal(&mut rng, 2 * b * k);
        let t: Vec<f64> = (0..b)
            .map(|_| match opts.sampling {
                PplSampling::Full => rand::Rng::random::<f64>(&mut rng),
                PplSampling::End => 0.0,
            })
            .collect();
        // A class-conditional model keeps one class along each path (pairs balanced over the
        // classes): two rows per pair, both for the path ends and for the two latents.
        let classes: Option<Vec<u32>> = crate::nn::labels::balanced_classes(&g.cfg, out.len(), b)
            .map(|c| c.iter().flat_map(|&c| [c, c]).collect());
        let classes = classes.as_deref();
        // Dlatents of the 2b path ends `[e0 of pair 0, e1 of pair 0, e0 of pair 1, ...]`.
        let w = match opts.space {
            PplSpace::Z => {
                let mut ze = Vec::with_capacity(2 * b * k);
                for i in 0..b {
                    let z0: Vec<f64> = z[2 * i * k..(2 * i + 1) * k]
                        .iter()
                        .map(|&v| v as f64)
                        .collect();
                    let z1: Vec<f64> = z[(2 * i + 1) * k..(2 * i + 2) * k]
                        .iter()
                        .map(|&v| v as f64)
                        .collect();
                    for tt in [t[i], t[i] + opts.epsilon] {
                        ze.extend(slerp(&z0, &z1, tt).iter().map(|&v| v as f32));
                    }
                }
                g.map_latents_classes(&ze, classes, &none)?
            }
            PplSpace::W => {
                let w01 = g.map_latents_classes(&z, classes, &none)?;
                let row = l * dl;
                let mut we = Vec::with_capacity(2 * b * row);
                for i in 0..b {
                    let (w0, w1) = (
                        &w01[2 * i * row..(2 * i + 1) * row],
                        &w01[(2 * i + 1) * row..(2 * i + 2) * row],
                    );
                    for tt in [t[i], t[i] + opts.epsilon] {
                        we.extend(
                            w0.iter()
                                .zip(w1)
                                .map(|(a, b)| (*a as f64 + (*b as f64 - *a as f64) * tt) as f32),
                        );
                    }
                }
                we
            }
        };
        let images = g.synthesize_dlatents(&w, NoiseMode::Const)?;
        let (mut a, mut bb) = (Vec::new(), Vec::new());
        for (i, im) in images.iter().enumerate() {
            if i % 2 == 0 {
                a.extend_from_slice(&im.data)
            } else {
                bb.extend_from_slice(&im.data)
            }
        }
        let d = distance(&a, &bb, b)?;
        out.extend(d.iter().map(|v| v / (opts.epsilon * opts.epsilon)));
        progress(b);
    }
    filtered_mean(&out)
}

/// Each `side x side` plane of `planes` averaged over `factor x factor` blocks (the official
/// `reshape(..).mean([3, 5])`).
pub fn box_downsample(x: &[f32], planes: usize, side: usize, factor: usize) -> Vec<f32> {
    let so = side / factor;
    let mut out = vec![0f32; planes * so * so];
    let inv = 1.0 / (factor * factor) as f64;
    for p in 0..planes {
        for oy in 0..so {
            for ox in 0..so {
                let mut acc = 0f64;
                for dy in 0..factor {
                    let row = &x[(p * side + oy * factor + dy) * side + ox * factor..];
                    acc += row[..factor].iter().map(|&v| v as f64).sum::<f64>();
                }
                out[(p * so + oy) * so + ox] = (acc * inv) as f32;
            }
        }
    }
    out
}

/// The official distance of two batches of `n` images `[n, c, side, side]` in [-1, 1]: images
/// larger than 256 box-downsampled by `side / 256`, grayscale repeated to RGB, LPIPS-VGG16.
pub fn lpips_distance(
    lpips: &Lpips,
    a: &[f32],
    b: &[f32],
    n: usize,
    c: usize,
    side: usize,
) -> Result<Vec<f64>> {
    let f = (side / 256).max(1);
    let d = if f > 1 {
        let (a, b) = (
            box_downsample(a, n * c, side, f),
            box_downsample(b, n * c, side, f),
        );
        lpips.distance_images(&a, &b, n, c, side / f, side / f)?
    } else {
        lpips.distance_images(a, b, n, c, side, side)?
    };
    Ok(d.into_iter().map(f64::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_follows_the_great_circle() {
        let (a, b) = ([3.0, 0.0, 0.0], [0.0, 0.5, 0.0]);
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-12);
        assert!(close(&slerp(&a, &b, 0.0), &[1.0, 0.0, 0.0]));
        assert!(close(&slerp(&a, &b, 1.0), &[0.0, 1.0, 0.0]));
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!(close(&slerp(&a, &b, 0.5), &[h, h, 0.0]));
        let third = slerp(&a, &b, 1.0 / 3.0);
        assert!(close(
            &third,
            &[(std::f64::consts::PI / 6.0).cos(), 0.5, 0.0]
        ));
    }

    #[test]
    fn box_downsample_averages_blocks() {
        // One 4x4 plane 0..16 by 2: the means of its four 2x2 blocks.
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        assert_eq!(box_downsample(&x, 1, 4, 2), vec![2.5, 4.5, 10.5, 12.5]);
        assert_eq!(box_downsample(&x, 1, 4, 1), x);
    }

    #[test]
    fn percentile_filter_is_numpys_lower_and_higher() {
        // 201 values 0..=200: lo = v[floor(200 * 0.01)] = 2, hi = v[ceil(200 * 0.99)] = 198.
        let d: Vec<f64> = (0..=200).rev().map(|v| v as f64).collect();
        let want = (2..=198).map(|v| v as f64).sum::<f64>() / 197.0;
        assert!((filtered_mean(&d).unwrap() - want).abs() < 1e-12);
        assert_eq!(filtered_mean(&[5.0]).unwrap(), 5.0);
        assert!(filtered_mean(&[]).is_err() && filtered_mean(&[1.0, f64::NAN]).is_err());
    }
}
