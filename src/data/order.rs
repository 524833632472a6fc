//! The order images are visited in, and which are mirrored: pure functions of the seed and
//! the position in the stream.
//!
//! Keeping the stream a function of `(seed, images consumed)` alone is what lets a resumed run
//! continue exactly where it stopped. The generator is SplitMix64 ([`crate::rng::splitmix`]),
//! whose values no dependency can move.

use crate::rng::splitmix::{mix64, GOLDEN};

/// The visiting order of epoch `epoch`: a Fisher-Yates shuffle seeded from `(seed, epoch)`.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut state = mix64(mix64(seed ^ 0x005e_ed0f_da7a) ^ epoch);
    for i in (1..len).rev() {
        state = state.wrapping_add(GOLDEN);
        let r = mix64(state);
        // Multiply-shift maps r to [0, i] without the bias of a modulo.
        let j = ((r as u128 * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

/// Whether the image at stream position `pos` is mirrored (when mirroring is on).
pub fn flip_at(seed: u64, pos: u64) -> bool {
    mix64(mix64(seed ^ 0xf11b_f11b_f11b) ^ pos) >> 63 == 1
}

/// The dataset index at each of the stream positions `positions`.
pub(super) fn stream_indices(len: usize, seed: u64, positions: &[u64]) -> Vec<usize> {
    let mut out = Vec::with_capacity(positions.len());
    let mut cached: Option<(u64, Vec<usize>)> = None;
    for &pos in positions {
        let (epoch, k) = (pos / len as u64, (pos % len as u64) as usize);
        if cached.as_ref().map(|(e, _)| *e != epoch).unwrap_or(true) {
            cached = Some((epoch, epoch_order(len, seed, epoch)));
        }
        out.push(cached.as_ref().unwrap().1[k]);
    }
    out
}
