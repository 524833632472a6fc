//! Mean and covariance of a set of feature vectors, accumulated in f64.
//!
//! Rows arrive in blocks (one GPU batch at a time) and are merged on the host: the sum of
//! the rows and the Gram matrix `Σ (x - s)(x - s)ᵀ`, both taken about a shift `s` (the first
//! row) so that the covariance is not the small difference of two large numbers. The
//! covariance is the unbiased one, `÷ (N - 1)`, as numpy's `np.cov` and therefore pytorch-fid
//! compute it (stylegan2-ada divides by `N`; for 50,000 images the two differ by 2·10⁻⁵
//! relative).

use std::path::Path;

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};
use crate::io::npz::{read_npz, write_npz, NpzData};

/// Running statistics of `dim`-dimensional features.
#[derive(Clone, Debug)]
pub struct FeatureStats {
    dim: usize,
    n: usize,
    shift: DVector<f64>,
    sum: DVector<f64>,
    gram: DMatrix<f64>,
}

impl FeatureStats {
    pub fn new(dim: usize) -> FeatureStats {
        FeatureStats {
            dim,
            n: 0,
            shift: DVector::zeros(dim),
            sum: DVector::zeros(dim),
            gram: DMatrix::zeros(dim, dim),
        }
    }

    /// The statistics of `features`, `[n, dim]` row-major.
    pub fn from_features(features: &[f32], dim: usize) -> Result<FeatureStats> {
        let mut s = FeatureStats::new(dim);
        s.append(features)?;
        Ok(s)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Rows seen so far.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds the rows of `features` (`[b, dim]` row-major, finite).
    pub fn append(&mut self, features: &[f32]) -> Result<()> {
        let b = super::check_features("feature statistics", features, self.dim, 0)?;
        if b == 0 {
            return Ok(());
        }
        if self.n == 0 {
            self.shift =
                DVector::from_iterator(self.dim, features[..self.dim].iter().map(|&v| v as f64));
        }
        // Columns are the rows of the block, shifted: Y = (X - s)ᵀ, dim x b.
        let y = DMatrix::from_iterator(
            self.dim,
            b,
            features
                .iter()
                .enumerate()
                .map(|(i, &v)| v as f64 - self.shift[i % self.dim]),
        );
        for col in y.column_iter() {
            self.sum += col;
        }
        let yt = y.transpose();
        self.gram.gemm(1.0, &y, &yt, 1.0);
        self.n += b;
        Ok(())
    }

    /// The mean of the rows.
    pub fn mean(&self) -> Result<DVector<f64>> {
        if self.n == 0 {
            return Err(Error::Invalid("feature statistics: no rows".into()));
        }
        Ok(&self.shift + &self.sum / self.n as f64)
    }

    /// The mean and the covariance.
    pub fn moments(&self) -> Result<Moments> {
        Ok(Moments {
            mu: self.mean()?,
            sigma: self.covariance()?,
        })
    }

    /// The unbiased covariance `÷ (N - 1)`; needs at least two rows.
    pub fn covariance(&self) -> Result<DMatrix<f64>> {
        if self.n < 2 {
            return Err(Error::Invalid(format!(
                "feature statistics: a covariance needs at least 2 images, got {}",
                self.n
            )));
        }
        let n = self.n as f64;
        let m = &self.sum / n;
        // Σ (y - m)(y - m)ᵀ = G - n m mᵀ for the shifted rows y.
        let mut c = self.gram.clone();
        c.ger(-n, &m, &m, 1.0);
        c /= n - 1.0;
        // Exactly symmetric, as the eigendecomposition of FID assumes.
        let ct = c.transpose();
        Ok((c + ct) * 0.5)
    }
}

/// The mean and covariance of a feature set: all FID needs of it, and what pytorch-fid's
/// `--save-stats` stores (`np.savez_compressed(path, mu=mu, sigma=sigma)`, float64), so
/// statistics precomputed by either program serve both.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub mu: DVector<f64>,
    /// Symmetric.
    pub sigma: DMatrix<f64>,
}

impl Moments {
    pub fn dim(&self) -> usize {
        self.mu.len()
    }

    /// The moments of `features`, `[n, dim]` row-major, finite, `n >= 2`; `what` names the
    /// set in errors.
    pub fn from_features(what: &str, features: &[f32], dim: usize) -> Result<Moments> {
        super::check_features(what, features, dim, 2)?;
        FeatureStats::from_features(features, dim)?.moments()
    }

    /// Reads pytorch-fid's statistics file: arrays `mu` `[d]` and `sigma` `[d, d]`, finite
    /// (float64, or any numeric type). Errors name the file.
    pub fn read_npz(path: &Path) -> Result<Moments> {
        let shown = path.display().to_string();
        let bad = |msg: String| Error::Format {
            path: shown.clone(),
            msg,
        };
        let z = read_npz(path)?;
        let (mu, sigma) = (z.get("mu")?, z.get("sigma")?);
        let d = match mu.shape.as_slice() {
            [d] if *d > 0 => *d,
            s => return Err(bad(format!("'mu' has shape {s:?}, statistics need [d]"))),
        };
        if sigma.shape != [d, d] {
            return Err(bad(format!(
                "'sigma' has shape {:?}, 'mu' has {d} features so it must be [{d}, {d}]",
                sigma.shape
            )));
        }
        let (mu, sigma) = (mu.to_f64(), sigma.to_f64());
        for (name, v) in [("mu", &mu), ("sigma", &sigma)] {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!("'{name}' value {i} is {} (not finite)", v[i])));
            }
        }
        // Row-major in the file; symmetric up to rounding, made exactly so for FID.
        let sigma = DMatrix::from_row_slice(d, d, &sigma);
        let st = sigma.transpose();
        Ok(Moments {
            mu: DVector::from_vec(mu),
            sigma: (sigma + st) * 0.5,
        })
    }

    /// Writes them as pytorch-fid does: a deflated `.npz` with float64 `mu` and `sigma`.
    pub fn write_npz(&self, path: &Path) -> Result<()> {
        let d = self.dim();
        let sigma: Vec<f64> = self.sigma.transpose().as_slice().to_vec();
        write_npz(
            path,
            &[
                ("mu", &[d], NpzData::F64(self.mu.as_slice())),
                ("sigma", &[d, d], NpzData::F64(&sigma)),
            ],
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_round_trip_through_npz_exactly() {
        let f: Vec<f32> = (0..5 * 3)
            .map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.0)
            .collect();
        let m = FeatureStats::from_features(&f, 3)
            .unwrap()
            .moments()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("sgw-moments-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("stats.npz");
        m.write_npz(&p).unwrap();
        assert_eq!(Moments::read_npz(&p).unwrap(), m);
        // An array missing: the error names the file and the array.
        crate::io::npz::write_npz(&p, &[("mu", &[3], NpzData::F64(&[0.0; 3]))], false).unwrap();
        let e = Moments::read_npz(&p).unwrap_err().to_string();
        assert!(e.contains("stats.npz") && e.contains("'sigma'"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
