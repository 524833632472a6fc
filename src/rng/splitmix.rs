//! SplitMix64 (Steele, Lea and Flood 2014): a counter-based generator and 64-bit mix, written
//! out here so its values never depend on a dependency. It keys the streams that must be pure
//! functions of their position (training data order, per-step and per-image seeds), which is
//! what lets a resumed run continue exactly.

/// The golden-ratio increment of the SplitMix64 counter.
pub const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The SplitMix64 output function (Stafford's "Mix13"): a bijective 64-bit mix.
pub fn fmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The SplitMix64 output for counter state `z`: `fmix64(z + GOLDEN)`; also a good hash.
pub fn mix64(z: u64) -> u64 {
    fmix64(z.wrapping_add(GOLDEN))
}

/// The key of sub-stream `index` of stream `seed` (independent streams per step, per phase,
/// per image: `key(key(key(seed, step), phase), image)`).
pub fn key(seed: u64, index: u64) -> u64 {
    fmix64(
        seed ^ index
            .wrapping_mul(GOLDEN)
            .wrapping_add(0xd1b5_4a32_d192_ed03),
    )
}

/// The key of image `index`'s draws (latents, noise) in phase `phase` (0: D step, 1: G step)
/// of training step `step`: independent of how the minibatch is split over ranks or passes.
pub fn image_key(seed: u64, step: u64, phase: u64, index: u64) -> u64 {
    key(key(key(seed, step), phase), index)
}

/// The SplitMix64 generator.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        fmix64(self.0)
    }

    /// Uniform in `0..n` for `n >= 1` (multiply-shift; the bias, n / 2^64, is negligible).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal (Box-Muller on two uniforms).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        super::box_muller(u1, self.uniform())
    }
}
