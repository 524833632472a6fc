//! numpy's legacy `RandomState`, bit for bit.
//!
//! The official StyleGAN scripts draw latents with `np.random.RandomState(seed).randn(...)`;
//! reproducing that stream bit for bit means a given seed yields the same face here as in the
//! paper's code with converted weights. [`NumpyRandomState`] is numpy's *legacy* generator:
//! MT19937 seeded with `init_genrand` (what `RandomState(int)` does for an integer seed),
//! 53-bit doubles built from two draws, and the polar Box-Muller transform that caches its
//! second value. Hand-written because no crate promises numpy's legacy stream exactly.

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
