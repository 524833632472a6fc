//! Kernel Inception Distance as stylegan2-ada's `metrics/kernel_inception_distance.py`
//! computes it (`kid50k_full`): the unbiased estimate of MMD² with the cubic polynomial kernel
//! `k(x, y) = (xᵀy / d + 1)³`, averaged over `num_subsets` random subsets of
//! `m = min(n_gen, n_real, max_subset_size)` images drawn without replacement from each set.
//!
//! The value returned is MMD² itself; papers and `stylegan` print it ×10³. The kernel sums are
//! computed in f64 (the official code uses float32 matrix products). The subsets come from
//! `KidOptions::seed`, so a result is reproducible; when both sets hold exactly `m` images
//! every subset is the whole set and the value does not depend on the seed.

use nalgebra::DMatrix;

use crate::error::{Error, Result};

/// How KID draws its subsets (the defaults are the official ones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KidOptions {
    pub num_subsets: usize,
    pub max_subset_size: usize,
    pub seed: u64,
}

impl Default for KidOptions {
    fn default() -> KidOptions {
        KidOptions {
            num_subsets: 100,
            max_subset_size: 1000,
            seed: 0,
        }
    }
}

/// Rows `idx` of `f` (`[_, dim]` row-major) as an `m x dim` f64 matrix.
fn rows(f: &[f32], dim: usize, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(idx.len(), dim, |i, j| f[idx[i] * dim + j] as f64)
}

/// `Σ over all entries of (a bᵀ / d + 1)³` and the same over the diagonal (square case).
fn kernel_sums(a: &DMatrix<f64>, b: &DMatrix<f64>, d: f64) -> (f64, f64) {
    let k = a * b.transpose();
    let cube = |v: f64| (v / d + 1.0).powi(3);
    let total = k.iter().map(|&v| cube(v)).sum();
    let diag = (0..k.nrows().min(k.ncols())).map(|i| cube(k[(i, i)])).sum();
    (total, diag)
}

/// KID (MMD², not scaled) between generated features `gen` and real features `real`,
/// `[n, dim]` row-major each.
pub fn kid(gen: &[f32], real: &[f32], dim: usize, opts: &KidOptions) -> Result<f64> {
    let ng = super::check_features("KID, generated set", gen, dim, 2)?;
    let nr = super::check_features("KID, real set", real, dim, 2)?;
    if opts.num_subsets == 0 || opts.max_subset_size < 2 {
        return Err(Error::Invalid(format!(
            "KID: {} subsets of at most {} images; at least 1 subset of 2 images is needed",
            opts.num_subsets, opts.max_subset_size
        )));
    }
    let m = ng.min(nr).min(opts.max_subset_size);
    let d = dim as f64;
    let mut rng = crate::rng::seeded(opts.seed);
    let mut t = 0.0;
    for _ in 0..opts.num_subsets {
        let xi = rand::seq::index::sample(&mut rng, ng, m).into_vec();
        let yi = rand::seq::index::sample(&mut rng, nr, m).into_vec();
        let (x, y) = (rows(gen, dim, &xi), rows(real, dim, &yi));
        let (sxx, dxx) = kernel_sums(&x, &x, d);
        let (syy, dyy) = kernel_sums(&y, &y, d);
        let (sxy, _) = kernel_sums(&x, &y, d);
        let mf = m as f64;
        t += (sxx - dxx + syy - dyy) / (mf - 1.0) - sxy * 2.0 / mf;
    }
    Ok(t / opts.num_subsets as f64 / m as f64)
}
