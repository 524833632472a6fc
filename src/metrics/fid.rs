//! Fréchet Inception Distance: `‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½)`.
//!
//! `Σ₁Σ₂` is not symmetric, but it is similar to the symmetric positive semi-definite
//! `Σ₁^½ Σ₂ Σ₁^½`, so `Tr((Σ₁Σ₂)^½)` is the sum of the square roots of that matrix's
//! eigenvalues. Both square roots come from symmetric eigendecompositions (nalgebra's), with
//! the tiny negative eigenvalues that rounding gives a singular covariance (fewer images than
//! features) clamped to zero. This is what scipy's `sqrtm` in pytorch-fid computes, without its
//! complex intermediate values.

use nalgebra::{DMatrix, SymmetricEigen};

use super::stats::{FeatureStats, Moments};
use crate::error::{Error, Result};

/// The eigendecomposition `V diag(λ) Vᵀ` of a symmetric matrix, negative λ clamped to 0.
fn eigen_psd(m: DMatrix<f64>) -> SymmetricEigen<f64, nalgebra::Dyn> {
    let mut e = SymmetricEigen::new(m);
    e.eigenvalues.apply(|l| *l = l.max(0.0));
    e
}

/// The FID between two feature distributions.
pub fn fid(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    if a.dim() != b.dim() {
        return Err(Error::Invalid(format!(
            "FID: features of {} and {} dimensions",
            a.dim(),
            b.dim()
        )));
    }
    fid_moments(&a.moments()?, &b.moments()?)
}

/// The FID between two distributions given by their means and (symmetric) covariances, such
/// as pytorch-fid's saved statistics.
pub fn fid_moments(a: &Moments, b: &Moments) -> Result<f64> {
    if a.dim() != b.dim() {
        return Err(Error::Invalid(format!(
            "FID: features of {} and {} dimensions",
            a.dim(),
            b.dim()
        )));
    }
    let (s1, s2) = (a.sigma.clone(), &b.sigma);
    let diff = (&a.mu - &b.mu).norm_squared();
    let trace = s1.trace() + s2.trace();
    // Σ₁^½ = V diag(√λ) Vᵀ.
    let e1 = eigen_psd(s1);
    let mut vs = e1.eigenvectors.clone();
    for (j, mut col) in vs.column_iter_mut().enumerate() {
        col *= e1.eigenvalues[j].sqrt();
    }
    let root1 = &vs * e1.eigenvectors.transpose();
    let m = &root1 * s2 * &root1;
    let m = (&m + m.transpose()) * 0.5;
    let tr_sqrt: f64 = eigen_psd(m).eigenvalues.iter().map(|l| l.sqrt()).sum();
    let fid = diff + trace - 2.0 * tr_sqrt;
    if !fid.is_finite() {
        return Err(Error::Invalid(format!("FID came out {fid}")));
    }
    Ok(fid)
}

/// The FID between feature sets `a` and `b`, `[n, dim]` row-major each (at least 2 rows).
pub fn fid_from_features(a: &[f32], b: &[f32], dim: usize) -> Result<f64> {
    super::check_features("FID, first set", a, dim, 2)?;
    super::check_features("FID, second set", b, dim, 2)?;
    fid(
        &FeatureStats::from_features(a, dim)?,
        &FeatureStats::from_features(b, dim)?,
    )
}
