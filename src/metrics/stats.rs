//! Mean and covariance of a set of feature vectors, accumulated in f64.
//!
//! Rows arrive in blocks (one GPU batch at a time) and are merged on the host: the sum of
//! the rows and the Gram matrix `Σ (x - s)(x - s)ᵀ`, both taken about a shift `s` (the first
//! row) so that the covariance is not the small difference of two large numbers. The
//! covariance is the unbiased one, `÷ (N - 1)`, as numpy's `np.cov` and therefore pytorch-fid
//! compute it (stylegan2-ada divides by `N`; for 50,000 images the two differ by 2·10⁻⁵
//! relative).

use nalgebra::{DMatrix, DVector};

use crate::error::{Error, Result};

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
