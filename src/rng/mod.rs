//! Every seeded random stream of the crate, and what keeps each one the same across versions.
//!
//! | stream | generator | why it is stable |
//! |---|---|---|
//! | latents of seeds (generate, mix, interpolate, projector's w statistics) | [`NumpyRandomState`] | hand-written, numpy's legacy MT19937 bit for bit |
//! | training images' order and mirroring, per-step and per-image keys, SVM permutations | [`splitmix`] | hand-written SplitMix64 |
//! | initialization, training latents and noise, metrics' latents, dropout | [`Seeded`] (ChaCha12) | `rand` and `rand_chacha` pinned to exact versions in `Cargo.toml` |
//! | test and benchmark fill data | [`lcg_fill`] | hand-written LCG |
//!
//! `rand`'s `StdRng` is ChaCha12 today but is not promised to stay so, and its uniform and
//! range sampling may change in a minor release; so [`Seeded`] names ChaCha12 itself and both
//! crates are pinned with `=`. `tests/rng.rs` pins the first values of every stream: a
//! dependency bump that moves one fails there, not silently in a resumed training run.

mod latents;
mod numpy;
pub mod splitmix;

pub use latents::{parse_seeds, seed_latent, slerp, MAX_SEEDS};
pub use numpy::NumpyRandomState;

use rand::SeedableRng;

/// The seeded general-purpose generator: ChaCha12, the algorithm `rand`'s `StdRng` uses today,
/// named so that a `rand` upgrade cannot swap it.
pub type Seeded = rand_chacha::ChaCha12Rng;

/// The generator of `seed` (the same stream `crate::rng::seeded(seed)` gives with the
/// pinned `rand`).
pub fn seeded(seed: u64) -> Seeded {
    Seeded::seed_from_u64(seed)
}

/// One standard normal from two uniforms: `u1` in (0, 1], `u2` in [0, 1) (Box-Muller, cosine
/// branch).
pub fn box_muller(u1: f64, u2: f64) -> f64 {
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` standard normal values from any RNG (Box-Muller in f64). For project-internal
/// randomness (initialization, training noise); seeds that must match numpy use
/// [`NumpyRandomState`].
pub fn std_normal(rng: &mut impl rand::Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(1e-300);
            let u2: f64 = rng.random::<f64>();
            box_muller(u1, u2) as f32
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
