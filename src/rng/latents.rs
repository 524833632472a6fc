//! Latents the way the official scripts make them: a seed list, each seed's
//! `RandomState(seed).randn(latent_size)`, and spherical interpolation between latents.

use super::NumpyRandomState;
use crate::error::{Error, Result};

/// The latent `z` of `seed` as the official code draws it:
/// `numpy.random.RandomState(seed).randn(latent_size)`, as f32.
pub fn seed_latent(seed: u32, latent_size: usize) -> Vec<f32> {
    NumpyRandomState::new(seed)
        .randn(latent_size)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// Most seeds a single spec may expand to; a typo like `0-4000000000` should be an error, not
/// a 16 GB allocation.
pub const MAX_SEEDS: usize = 1 << 20;

/// Parses a seed list such as `"0-7,42"` (inclusive ranges, comma separated, spaces allowed)
/// in the order written. Seeds must fit numpy's `[0, 2^32)`.
pub fn parse_seeds(spec: &str) -> Result<Vec<u32>> {
    let bad = |part: &str, why: &str| {
        Error::Invalid(format!("seed list {spec:?}: bad part {part:?}: {why}"))
    };
    let one = |part: &str, s: &str| -> Result<u32> {
        let s = s.trim();
        let v: u64 = s
            .parse()
            .map_err(|_| bad(part, "expected a non-negative integer or a range like 0-7"))?;
        u32::try_from(v).map_err(|_| bad(part, "seeds must be below 2^32 (numpy's limit)"))
    };
    let mut out = Vec::new();
    if spec.trim().is_empty() {
        return Err(Error::Invalid(
            "seed list is empty; expected e.g. 0-7,42".into(),
        ));
    }
    for part in spec.split(',') {
        let p = part.trim();
        if p.is_empty() {
            return Err(bad(part, "empty entry"));
        }
        let (lo, hi) = match p.split_once('-') {
            Some((a, b)) => (one(p, a)?, one(p, b)?),
            None => {
                let v = one(p, p)?;
                (v, v)
            }
        };
        if lo > hi {
            return Err(bad(p, "range start is greater than its end"));
        }
        let count = (hi - lo) as usize + 1;
        if out.len() + count > MAX_SEEDS {
            return Err(bad(p, &format!("more than {MAX_SEEDS} seeds in total")));
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Spherical interpolation between the directions of `a` and `b`, as in the StyleGAN
/// perceptual-path-length code: both inputs are normalized and the result is a unit vector
/// (the mapping network normalizes `z` anyway, so only the direction matters). `t = 0` gives
/// `a/|a|`, `t = 1` gives `b/|b|`.
pub fn slerp(a: &[f64], b: &[f64], t: f64) -> Result<Vec<f64>> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::Invalid(format!(
            "slerp: vectors must be non-empty and equally long, got {} and {}",
            a.len(),
            b.len()
        )));
    }
    let (na, nb) = (norm(a), norm(b));
    if !(na > 0.0 && nb > 0.0 && na.is_finite() && nb.is_finite()) {
        return Err(Error::Invalid(
            "slerp: vectors must have a finite non-zero norm".into(),
        ));
    }
    let a: Vec<f64> = a.iter().map(|x| x / na).collect();
    let b: Vec<f64> = b.iter().map(|x| x / nb).collect();
    let d = a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>();
    let mut c: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y - d * x).collect();
    let nc = norm(&c);
    // |b - d a| is the sine of the angle; atan2 stays accurate near 0 and pi where the paper
    // code's acos(d) loses half the digits (and is NaN once rounding pushes d past 1).
    let p = t * nc.atan2(d);
    if nc < 1e-12 {
        if d > 0.0 {
            // Parallel: every interpolant is the same direction.
            return Ok(a);
        }
        // Antiparallel: any great circle works; pick one deterministically through the axis
        // least aligned with `a`.
        let k = (0..a.len())
            .min_by(|&i, &j| a[i].abs().total_cmp(&a[j].abs()))
            .unwrap_or(0);
        for (i, ci) in c.iter_mut().enumerate() {
            *ci = if i == k { 1.0 } else { 0.0 } - a[k] * a[i];
        }
        let nc = norm(&c);
        if nc < 1e-12 {
            // Only in one dimension, where the "sphere" is two points.
            return Ok(if t < 0.5 { a } else { b });
        }
        c.iter_mut().for_each(|x| *x /= nc);
    } else {
        c.iter_mut().for_each(|x| *x /= nc);
    }
    let (cp, sp) = (p.cos(), p.sin());
    let mut out: Vec<f64> = a.iter().zip(&c).map(|(x, y)| x * cp + y * sp).collect();
    let no = norm(&out);
    out.iter_mut().for_each(|x| *x /= no);
    Ok(out)
}
