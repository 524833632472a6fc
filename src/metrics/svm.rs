//! A linear SVM: scikit-learn's `LinearSVC()` with the defaults of the official StyleGAN
//! code's time (`dual=True`), ported because linear separability needs exactly this solver and
//! no maintained Rust crate implements liblinear's: dual coordinate descent for the
//! L2-regularized squared-hinge loss (Hsieh et al. 2008, Algorithm 1 with the shrinking of
//! section 3), the bias a constant feature 1 regularized like the weights. Its random
//! permutations come from our own generator, so the fit differs from sklearn's within the
//! solver's tolerance, or, where both stop at `max_iter` (common for 512-d latents), by as much
//! as two sklearn seeds differ. Since sklearn 1.5 `LinearSVC()` means `dual="auto"`, which takes
//! a primal Newton solver when there are more samples than dimensions: same objective, but it
//! converges where the dual solver may not. Tested in `separability.rs`.

use crate::error::{Error, Result};
use crate::rng::splitmix::SplitMix64;

/// Options: `seed` for the solver's permutations; `c` the SVM's C (1.0); `max_iter` (1000);
/// `tol` (1e-4).
#[derive(Clone, Debug)]
pub struct SvmOptions {
    pub c: f64,
    pub tol: f64,
    pub max_iter: usize,
    pub seed: u64,
}

impl Default for SvmOptions {
    fn default() -> Self {
        SvmOptions {
            c: 1.0,
            tol: 1e-4,
            max_iter: 1000,
            seed: 0,
        }
    }
}

impl SvmOptions {
    pub(crate) fn check(&self) -> Result<()> {
        if !(self.c.is_finite() && self.c > 0.0) {
            return Err(Error::Invalid(format!(
                "SVM: C must be positive and finite, not {}",
                self.c
            )));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(Error::Invalid(format!(
                "SVM: tol must be positive and finite, not {}",
                self.tol
            )));
        }
        Ok(())
    }
}

/// A fitted linear classifier: weights and bias.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearSvm {
    pub w: Vec<f64>,
    pub b: f64,
}

impl LinearSvm {
    /// Fits on `x` [n, dim] row-major, labels `y` (bool). Errors (Error::Invalid with a clear
    /// message) on shape mismatch or n == 0 or dim == 0.
    ///
    /// Labels of one class only are fitted as they are (the problem is still well posed);
    /// sklearn refuses them, [`linear_separability`](crate::metrics::separability::linear_separability) never passes them.
    pub fn fit(x: &[f32], dim: usize, y: &[bool], opts: &SvmOptions) -> Result<LinearSvm> {
        let n = check_rows("LinearSvm::fit: x", x, dim)?;
        if y.len() != n {
            return Err(Error::Invalid(format!(
                "LinearSvm::fit: {} labels for {n} rows",
                y.len()
            )));
        }
        opts.check()?;
        let rows: Vec<&[f32]> = x.chunks_exact(dim).collect();
        Ok(solve(&rows, y, opts))
    }

    /// w·x + b of one row; NaN when `x` does not have `w.len()` values.
    pub fn decision(&self, x: &[f32]) -> f64 {
        if x.len() != self.w.len() {
            return f64::NAN;
        }
        self.dot(x)
    }

    /// Whether the row is on the positive side (false for a row of the wrong length).
    pub fn predict(&self, x: &[f32]) -> bool {
        self.decision(x) > 0.0
    }

    pub(crate) fn dot(&self, x: &[f32]) -> f64 {
        self.b
            + self
                .w
                .iter()
                .zip(x)
                .map(|(w, &v)| w * v as f64)
                .sum::<f64>()
    }

    /// [w, b] += d [x, 1].
    fn axpy(&mut self, d: f64, x: &[f32]) {
        for (w, &v) in self.w.iter_mut().zip(x) {
            *w += d * v as f64;
        }
        self.b += d;
    }
}

/// Checks that `x` is `[n, dim]` row-major with n ≥ 1 and finite values; returns n.
pub(crate) fn check_rows(what: &str, x: &[f32], dim: usize) -> Result<usize> {
    if dim == 0 || !x.len().is_multiple_of(dim) {
        return Err(Error::Invalid(format!(
            "{what}: {} values are not rows of {dim} values",
            x.len()
        )));
    }
    if x.is_empty() {
        return Err(Error::Invalid(format!("{what}: no rows")));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "{what}: value {} of row {} is {} (not finite)",
            i % dim,
            i / dim,
            x[i]
        )));
    }
    Ok(x.len() / dim)
}

/// liblinear's `solve_l2r_l1l2_svc` for the squared hinge: minimises
/// 0.5 αᵀ(Q + D)α − Σα over α ≥ 0, Q_ij = y_i y_j [x_i,1]·[x_j,1], D_ii = 1/(2C), keeping
/// [w, b] = Σ α_i y_i [x_i, 1] up to date so that each coordinate step costs one row.
/// `rows` is non-empty and of equal lengths (checked by the callers).
pub(crate) fn solve(rows: &[&[f32]], y: &[bool], opts: &SvmOptions) -> LinearSvm {
    let n = rows.len();
    let diag = 0.5 / opts.c;
    // Diagonal of Q + D; the 1.0 is the bias feature's square.
    let qd: Vec<f64> = rows
        .iter()
        .map(|r| diag + 1.0 + r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>())
        .collect();
    let mut svm = LinearSvm {
        w: vec![0.0; rows[0].len()],
        b: 0.0,
    };
    let mut alpha = vec![0.0f64; n];
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut rng = SplitMix64(opts.seed);
    // Shrinking (section 3): a variable at its bound 0 whose gradient exceeds the largest
    // projected gradient of the previous pass is unlikely to move, so it leaves the active set
    // until the active problem has converged. With U = ∞ the upper bound never binds, so only
    // this half of liblinear's test is needed.
    let mut pg_max_old = f64::INFINITY;
    for _ in 0..opts.max_iter {
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        for s in 0..active {
            let j = s + rng.below(active - s);
            index.swap(s, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let yi = if y[i] { 1.0 } else { -1.0 };
            let g = yi * svm.dot(rows[i]) - 1.0 + alpha[i] * diag;
            let pg = if alpha[i] == 0.0 {
                if g > pg_max_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                g.min(0.0)
            } else {
                g
            };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            // liblinear's threshold: skips updates too small to change anything.
            if pg.abs() > 1e-12 {
                let new = (alpha[i] - g / qd[i]).max(0.0);
                svm.axpy((new - alpha[i]) * yi, rows[i]);
                alpha[i] = new;
            }
            s += 1;
        }
        if pg_max - pg_min <= opts.tol {
            if active == n {
                break;
            }
            // Converged on the shrunk problem only: check again on all variables.
            active = n;
            pg_max_old = f64::INFINITY;
            continue;
        }
        pg_max_old = if pg_max > 0.0 { pg_max } else { f64::INFINITY };
    }
    svm
}
