//! Host-side randomness for the generation CLI.
//!
//! The official StyleGAN scripts draw latents with `np.random.RandomState(seed).randn(...)`;
//! reproducing that stream bit for bit means a given seed yields the same face here as in the
//! paper's code with converted weights. [`NumpyRandomState`] is numpy's *legacy* generator:
//! MT19937 seeded with `init_genrand` (what `RandomState(int)` does for an integer seed),
//! 53-bit doubles built from two draws, and the polar Box-Muller transform that caches its
//! second value. Also here: seed-list parsing for the CLI and spherical interpolation.

use crate::error::{Error, Result};

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// numpy's legacy `RandomState`: same seed, same numbers as
/// `numpy.random.RandomState(seed).randn(n)`.
#[derive(Clone)]
pub struct NumpyRandomState {
    key: [u32; N],
    pos: usize,
    // The polar method yields two normals per accepted pair; numpy hands out the second on the
    // next call, so the cache is part of the observable stream.
    has_gauss: bool,
    gauss: f64,
}

impl NumpyRandomState {
    /// `RandomState(seed)` for an integer seed: numpy's `_legacy_seeding` calls `mt19937_seed`
    /// (Matsumoto's `init_genrand`), not `init_by_array`, for Python ints in `[0, 2^32)`.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        let mut s = seed;
        for (i, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32
                .wrapping_mul(s ^ (s >> 30))
                .wrapping_add(i as u32 + 1);
        }
        NumpyRandomState {
            key,
            pos: N,
            has_gauss: false,
            gauss: 0.0,
        }
    }

    fn regenerate(&mut self) {
        let k = &mut self.key;
        for i in 0..N {
            let y = (k[i] & UPPER_MASK) | (k[(i + 1) % N] & LOWER_MASK);
            let mag = if y & 1 != 0 { MATRIX_A } else { 0 };
            k[i] = k[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// One tempered 32-bit MT19937 output.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.regenerate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `random_sample()`: a uniform double in [0, 1) with 53 random bits (27 + 26 from two draws).
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// One standard normal, numpy's legacy `gauss` (polar Box-Muller with a cached twin).
    pub fn gauss(&mut self) -> f64 {
        if self.has_gauss {
            self.has_gauss = false;
            let g = self.gauss;
            self.gauss = 0.0;
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 >= 1.0 || r2 == 0.0 {
                continue;
            }
            let f = (-2.0 * r2.ln() / r2).sqrt();
            self.gauss = f * x1;
            self.has_gauss = true;
            return f * x2;
        }
    }

    /// `randn(n)`: `n` standard normals in numpy's order.
    pub fn randn(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.gauss()).collect()
    }
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

/// `n` standard normal values from any RNG (Box-Muller in f64). For project-internal
/// randomness (initialization, training noise); seeds that must match numpy use
/// [`NumpyRandomState`].
pub fn std_normal(rng: &mut impl rand::Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(1e-300);
            let u2: f64 = rng.random::<f64>();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

/// Deterministic values in [-1, 1) from a cheap LCG: test, self-check and benchmark data that
/// only needs to be non-trivial and reproducible.
pub fn lcg_fill(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// The latent `z` of `seed` as the official code draws it:
/// `numpy.random.RandomState(seed).randn(latent_size)`, as f32.
pub fn seed_latent(seed: u32, latent_size: usize) -> Vec<f32> {
    NumpyRandomState::new(seed)
        .randn(latent_size)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}
