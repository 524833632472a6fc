//! The real-feature cache: features of a dataset's first `n` images under a network, kept as
//! `.npy` files so that a second measurement against the same data only measures the fakes.
//! The key covers every pixel used, the network's weights, the count and the layout: a cache
//! hit can never be stale.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::hash::fnv1a;
use crate::io::npy::{read_npy, write_npy};
use crate::metrics::features::Reals;
use crate::metrics::networks::LoadedNet;

/// The cache folder when none is given: `metrics/` in the crate's cache folder
/// ([`crate::gpu::policy::cache_root`]).
pub fn default_dir() -> Option<PathBuf> {
    crate::gpu::policy::cache_root().map(|d| d.join("metrics"))
}

/// Where the features of the first `n` reals under `net` are cached in `dir` (mirror images
/// are hashed as the pixels they are, so a mirrored set has keys of its own).
pub fn path(dir: &Path, net: &LoadedNet, reals: Reals, n: usize) -> Result<PathBuf> {
    let info = reals.ds.info();
    let mut h = net.weights_hash;
    h = fnv1a(
        h,
        format!("v1 {n} {} {}", info.channels, info.resolution).as_bytes(),
    );
    for i in 0..n {
        h = fnv1a(h, &reals.image(i)?);
    }
    Ok(dir.join(format!("{}-features-{h:016x}.npy", net.name)))
}

/// What the cache holds for a key.
pub enum Cached {
    /// Usable features (`[n, dim]`, finite).
    Features(Vec<f32>),
    /// A readable `.npy` of the wrong shape or with non-finite values (to be replaced).
    Unusable,
    /// Nothing readable.
    Missing,
}

/// The cached features at `path`.
pub fn read(path: &Path, n: usize, dim: usize) -> Cached {
    match read_npy(path) {
        Ok(arr) if arr.shape == [n, dim] && arr.data.iter().all(|v| v.is_finite()) => {
            Cached::Features(arr.data)
        }
        Ok(_) => Cached::Unusable,
        Err(_) => Cached::Missing,
    }
}

/// Stores `features` (`[n, dim]`) at `path`, creating the folder.
pub fn write(path: &Path, features: &[f32], n: usize, dim: usize) -> Result<()> {
    if let Some(dir) = path.parent() {
        // The caller names the file; the folder's error needs no second path.
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::Invalid(e.to_string()))?;
    }
    write_npy(path, &[n, dim], features)
}
