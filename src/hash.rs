//! FNV-1a (64-bit): the checksum of cache files (pipeline cache, real-feature cache keys).
//! Not for security; chosen because it is tiny, dependency-free and stable forever.

/// FNV-1a's offset basis: the hash of no bytes.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues FNV-1a hash `h` over `data`.
pub fn fnv1a(h: u64, data: &[u8]) -> u64 {
    data.iter()
        .fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}
