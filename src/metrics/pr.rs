//! Improved precision and recall (Kynkäänniemi et al. 2019), as stylegan2-ada's `pr50k3`:
//! each feature set spans a manifold, the union of balls around its points whose radius is the
//! distance to the point's k-th nearest neighbour in the set (the point itself excluded, i.e.
//! the (k+1)-th smallest distance counting it). Precision is the fraction of generated points
//! inside the real manifold; recall the fraction of real points inside the generated one.
//!
//! Distances are Euclidean, computed in f64 block by block (`‖a‖² + ‖b‖² − 2 a·b` with a
//! matrix product), so memory stays at one block of rows against the whole set. stylegan2-ada
//! stores the radii in f16; we keep them in f64, which can only differ on points within f16
//! rounding of a radius.

use nalgebra::DMatrix;

use super::check_features;
use crate::error::{Error, Result};

/// Rows of one distance block.
const BLOCK: usize = 1024;

/// Precision and recall, each in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrecisionRecall {
    pub precision: f64,
    pub recall: f64,
}

fn matrix(f: &[f32], dim: usize) -> DMatrix<f64> {
    DMatrix::from_row_iterator(f.len() / dim, dim, f.iter().map(|&v| v as f64))
}

/// Squared distances of rows `r0..r1` of `a` to every row of `b`: `[r1 - r0, nb]`.
fn sq_dists(
    a: &DMatrix<f64>,
    a_sq: &[f64],
    r0: usize,
    r1: usize,
    b: &DMatrix<f64>,
    b_sq: &[f64],
) -> DMatrix<f64> {
    let rows = a.rows(r0, r1 - r0);
    let mut d = rows * b.transpose();
    for i in 0..r1 - r0 {
        for j in 0..b.nrows() {
            d[(i, j)] = (a_sq[r0 + i] + b_sq[j] - 2.0 * d[(i, j)]).max(0.0);
        }
    }
    d
}

fn sq_norms(m: &DMatrix<f64>) -> Vec<f64> {
    m.row_iter().map(|r| r.norm_squared()).collect()
}

/// Squared k-NN radius of every row of `m` within `m` (itself excluded).
fn radii(m: &DMatrix<f64>, m_sq: &[f64], k: usize) -> Vec<f64> {
    let n = m.nrows();
    let mut out = Vec::with_capacity(n);
    let mut r0 = 0;
    while r0 < n {
        let r1 = (r0 + BLOCK).min(n);
        let d = sq_dists(m, m_sq, r0, r1, m, m_sq);
        for i in 0..r1 - r0 {
            let mut row: Vec<f64> = d.row(i).iter().copied().collect();
            // The (k+1)-th smallest counting the point itself (distance 0).
            let (_, kth, _) = row.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
            out.push(*kth);
        }
        r0 = r1;
    }
    out
}

/// Fraction of `probes` rows within the manifold of `m` (radii `r`).
fn coverage(m: &DMatrix<f64>, m_sq: &[f64], r: &[f64], probes: &DMatrix<f64>) -> f64 {
    let p_sq = sq_norms(probes);
    let n = probes.nrows();
    let mut inside = 0usize;
    let mut r0 = 0;
    while r0 < n {
        let r1 = (r0 + BLOCK).min(n);
        let d = sq_dists(probes, &p_sq, r0, r1, m, m_sq);
        for i in 0..r1 - r0 {
            if d.row(i).iter().zip(r).any(|(dij, rj)| dij <= rj) {
                inside += 1;
            }
        }
        r0 = r1;
    }
    inside as f64 / n as f64
}

/// Precision and recall of generated features `fake` against `real` (both `[n, dim]`
/// row-major), neighbourhood size `k` (3 in the official `pr50k3`). Each set needs more than
/// `k` rows.
pub fn precision_recall(
    real: &[f32],
    fake: &[f32],
    dim: usize,
    k: usize,
) -> Result<PrecisionRecall> {
    if k == 0 {
        return Err(Error::Invalid(
            "precision/recall: the neighbourhood size must be at least 1".into(),
        ));
    }
    check_features("precision/recall: real features", real, dim, k + 1)?;
    check_features("precision/recall: generated features", fake, dim, k + 1)?;
    let (r, f) = (matrix(real, dim), matrix(fake, dim));
    let (r_sq, f_sq) = (sq_norms(&r), sq_norms(&f));
    let precision = coverage(&r, &r_sq, &radii(&r, &r_sq, k), &f);
    let recall = coverage(&f, &f_sq, &radii(&f, &f_sq, k), &r);
    Ok(PrecisionRecall { precision, recall })
}
