//! Linear separability (LS), StyleGAN (Karras et al. 2019) section 4.2, as the official
//! `metrics/linear_separability.py`: how well a linear hyperplane in latent space (z or w)
//! separates the images a classifier assigns to a binary attribute.
//!
//! For each attribute (here: each class of a classifier, one-vs-rest) the least confident half
//! of the samples is dropped, a linear SVM is fitted on the latents of the rest to predict the
//! classifier's label, and the conditional entropy H(Y|X) of the label Y given the SVM's
//! prediction X on those same samples is measured. The score is exp(Σ H) over the attributes:
//! 1 when every attribute is perfectly linearly separable, larger when it is not.
//!
//! The SVM is [`super::svm`]'s port of the official code's `LinearSVC()`.
//!
//! We use natural logarithms and exp; the official code uses log2 and 2^, the same number.

use crate::error::{Error, Result};
use crate::metrics::svm::{check_rows, solve};
pub use crate::metrics::svm::{LinearSvm, SvmOptions};

/// H(Y|X) of a 2x2 table of counts or probabilities `p[x][y]` (normalized inside), natural
/// log, ≥ 0.
///
/// Computed as the official code does, H(Y) − I(X;Y) with zero cells skipped and clamped at 0
/// (rounding can take it just below). Entries must be non-negative with a positive finite sum;
/// other tables give NaN.
pub fn conditional_entropy(p: [[f64; 2]; 2]) -> f64 {
    let total: f64 = p.iter().flatten().sum();
    if !(total.is_finite() && total > 0.0) || p.iter().flatten().any(|&v| v < 0.0) {
        return f64::NAN;
    }
    let p = p.map(|row| row.map(|v| v / total));
    let px = [p[0][0] + p[0][1], p[1][0] + p[1][1]];
    let py = [p[0][0] + p[1][0], p[0][1] + p[1][1]];
    let h_y: f64 = py.iter().filter(|&&v| v > 0.0).map(|&v| -v * v.ln()).sum();
    let mut mi = 0.0;
    for (row, &p_x) in p.iter().zip(&px) {
        for (&p_xy, &p_y) in row.iter().zip(&py) {
            if p_xy > 0.0 {
                mi += p_xy * (p_xy / (p_x * p_y)).ln();
            }
        }
    }
    (h_y - mi).max(0.0)
}

/// Per-class conditional entropies and the score exp(Σ H).
#[derive(Clone, Debug, PartialEq)]
pub struct Separability {
    pub entropies: Vec<f64>,
    pub score: f64,
}

/// LS of `latents` [n, dim] given classifier probabilities `probs` [n, classes], as described
/// in the module docs. Needs n ≥ 2 (half of the samples are kept); every class is fitted with
/// `opts`, so the result depends only on the inputs and `opts.seed`.
pub fn linear_separability(
    latents: &[f32],
    dim: usize,
    probs: &[f32],
    classes: usize,
    opts: &SvmOptions,
) -> Result<Separability> {
    let n = check_rows("linear_separability: latents", latents, dim)?;
    if classes == 0 {
        return Err(Error::Invalid(
            "linear_separability: no classes".to_string(),
        ));
    }
    if probs.len() != n * classes {
        return Err(Error::Invalid(format!(
            "linear_separability: {} probabilities for {n} latents of {classes} classes \
             (expected {})",
            probs.len(),
            n * classes
        )));
    }
    if let Some(i) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(Error::Invalid(format!(
            "linear_separability: probability of class {} of sample {} is {} (not in [0, 1])",
            i % classes,
            i / classes,
            probs[i]
        )));
    }
    let keep = n / 2;
    if keep == 0 {
        return Err(Error::Invalid(format!(
            "linear_separability: {n} sample; at least 2 are needed"
        )));
    }
    opts.check()?;
    let rows: Vec<&[f32]> = latents.chunks_exact(dim).collect();
    let mut entropies = Vec::with_capacity(classes);
    for c in 0..classes {
        let p = |i: usize| probs[i * classes + c] as f64;
        let confidence = |i: usize| (p(i) - 0.5).abs();
        let mut order: Vec<usize> = (0..n).collect();
        // A stable sort, so ties keep index order as Python's `sorted` does in the official code.
        order.sort_by(|&a, &b| confidence(b).total_cmp(&confidence(a)));
        order.truncate(keep);
        let kept: Vec<&[f32]> = order.iter().map(|&i| rows[i]).collect();
        let y: Vec<bool> = order.iter().map(|&i| p(i) > 0.5).collect();
        // One class only: sklearn raises, and the official code then takes the labels as the
        // predictions.
        let y_hat: Vec<bool> = if y.iter().all(|&v| v == y[0]) {
            y.clone()
        } else {
            let svm = solve(&kept, &y, opts);
            kept.iter().map(|r| svm.dot(r) > 0.0).collect()
        };
        let mut table = [[0.0; 2]; 2];
        for (&yh, &yi) in y_hat.iter().zip(&y) {
            table[yh as usize][yi as usize] += 1.0;
        }
        entropies.push(conditional_entropy(table));
    }
    let score = entropies.iter().sum::<f64>().exp();
    Ok(Separability { entropies, score })
}

/// What linear separability is measured on: for `n` images of a generator drawn as the
/// official code draws them (`z ~ N(0, I)`, no truncation, random noise), `z [n, latent]`,
/// `w [n, dlatent]` (the mapping's output) and the classifier's probabilities `[n, classes]`.
pub struct LabelledLatents {
    pub z: Vec<f32>,
    pub w: Vec<f32>,
    pub probs: Vec<f32>,
    pub classes: usize,
}

/// Draws [`LabelledLatents`] from `g`, labelled by `net` (which must classify), in batches of
/// `batch`; `progress` is told how many images each batch held.
pub fn labelled_latents(
    g: &crate::nn::generator::Generator,
    net: &dyn crate::metrics::features::FeatureNet,
    n: usize,
    batch: usize,
    seed: u64,
    progress: &mut dyn FnMut(usize),
) -> Result<LabelledLatents> {
    use crate::nn::generator::{NoiseMode, Truncation};
    let (k, l, dl) = (g.cfg.latent_size, g.cfg.num_layers(), g.cfg.dlatent_size);
    let (c, r) = (g.cfg.num_channels, g.cfg.resolution);
    let mut rng = crate::rng::seeded(seed);
    g.seed_noise(seed ^ 0x5851_f42d_4c95_7f2d);
    let mut out = LabelledLatents {
        z: Vec::with_capacity(n * k),
        w: Vec::with_capacity(n * dl),
        probs: Vec::new(),
        classes: 0,
    };
    let mut done = 0;
    while done < n {
        let b = batch.max(1).min(n - done);
        let z = crate::rng::std_normal(&mut rng, b * k);
        let classes = crate::nn::labels::balanced_classes(&g.cfg, done, b);
        let ws = g.map_latents_classes(&z, classes.as_deref(), &Truncation::NONE)?;
        let images = g.synthesize_dlatents(&ws, NoiseMode::Random)?;
        let pixels: Vec<f32> = images
            .iter()
            .flat_map(|im| im.data.iter().copied())
            .collect();
        let p = net
            .class_probabilities(&pixels, b, c, r, r)?
            .ok_or_else(|| {
                Error::Invalid(
                    "linear separability needs a classifier to label the images (--features \
                 fmnist or --classifier), not Inception"
                        .into(),
                )
            })?;
        out.classes = p.len() / b;
        out.probs.extend(p);
        out.z.extend(z);
        // Without truncation every layer holds the same w: the first layer's is it.
        out.w
            .extend(ws.chunks(l * dl).flat_map(|row| row[..dl].iter().copied()));
        progress(b);
        done += b;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::splitmix::SplitMix64;
    use std::f64::consts::LN_2;

    /// `n` points in 2-D, labelled by the sign of x0, with |x0| ≥ 0.5 (a margin of 1).
    fn separable(n: usize, seed: u64) -> (Vec<f32>, Vec<bool>) {
        let mut d = SplitMix64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let pos = i % 2 == 0;
            let x0 = 0.5 + 2.0 * d.uniform();
            let x0 = if pos { x0 } else { -x0 };
            x.push(x0 as f32);
            x.push(3.0 * d.normal() as f32);
            y.push(pos);
        }
        (x, y)
    }

    /// 0.5‖[w, b]‖² + C Σ max(0, 1 − y_i (w·x_i + b))², the primal LinearSVC minimises.
    fn primal(w: &[f64], b: f64, x: &[f32], y: &[bool], c: f64) -> f64 {
        let svm = LinearSvm { w: w.to_vec(), b };
        let reg = 0.5 * (w.iter().map(|v| v * v).sum::<f64>() + b * b);
        let loss: f64 = x
            .chunks_exact(w.len())
            .zip(y)
            .map(|(r, &yi)| {
                let s = if yi { 1.0 } else { -1.0 };
                (1.0 - s * svm.decision(r)).max(0.0).powi(2)
            })
            .sum();
        reg + c * loss
    }

    #[test]
    fn separable_data_is_fitted_exactly() {
        let (x, y) = separable(200, 1);
        let svm = LinearSvm::fit(&x, 2, &y, &SvmOptions::default()).unwrap();
        for (r, &yi) in x.chunks_exact(2).zip(&y) {
            assert_eq!(svm.predict(r), yi, "row {r:?}");
        }
        // The hyperplane is (close to) x0 = 0, not tilted by the noise in x1.
        assert!(svm.w[0] > 0.0 && svm.w[1].abs() < 0.1 * svm.w[0], "{svm:?}");
        assert!(svm.decision(&[1.0]).is_nan() && !svm.predict(&[1.0, 0.0, 0.0]));

        // As one attribute of LS: confident, correct labels everywhere → H = 0, score 1.
        let probs: Vec<f32> = x
            .chunks_exact(2)
            .map(|r| 0.5 + 0.45 * r[0].tanh())
            .collect();
        let ls = linear_separability(&x, 2, &probs, 1, &SvmOptions::default()).unwrap();
        // Not exactly 0: H(Y) − I(X;Y) cancels only up to rounding.
        assert!(
            ls.entropies[0] < 1e-12 && (ls.score - 1.0).abs() < 1e-12,
            "{ls:?}"
        );
    }

    #[test]
    fn only_the_most_confident_half_is_fitted() {
        // First half: separable and balanced, confidence 0.375. Second half: random labels,
        // confidence 0.125 (or, in the second run, also 0.375: ties keep index order, so the
        // first half wins). The probabilities are exact in f32, so the ties are exact too.
        let (mut x, y) = separable(200, 2);
        let mut d = SplitMix64(3);
        let mut probs: Vec<f32> = y.iter().map(|&v| if v { 0.875 } else { 0.125 }).collect();
        for _ in 0..200 {
            x.push(d.normal() as f32);
            x.push(d.normal() as f32);
            probs.push(if d.uniform() < 0.5 { 0.625 } else { 0.375 });
        }
        let opts = SvmOptions::default();
        let ls = linear_separability(&x, 2, &probs, 1, &opts).unwrap();
        assert!(ls.entropies[0] < 1e-12, "{ls:?}");
        for p in &mut probs[200..] {
            *p = if *p > 0.5 { 0.875 } else { 0.125 };
        }
        let ls = linear_separability(&x, 2, &probs, 1, &opts).unwrap();
        assert!(ls.entropies[0] < 1e-12, "{ls:?}");
        // The other way round the noise is kept and the score rises.
        let mut swapped = probs[200..].to_vec();
        swapped.extend_from_slice(&probs[..200]);
        let mut xs = x[400..].to_vec();
        xs.extend_from_slice(&x[..400]);
        let ls = linear_separability(&xs, 2, &swapped, 1, &opts).unwrap();
        assert!(ls.entropies[0] > 0.5, "{ls:?}");
    }

    #[test]
    fn random_labels_give_about_ln2_per_class() {
        let (n, dim, classes) = (4000, 8, 3);
        let mut d = SplitMix64(4);
        let x: Vec<f32> = (0..n * dim).map(|_| d.normal() as f32).collect();
        let probs: Vec<f32> = (0..n * classes).map(|_| d.uniform() as f32).collect();
        let ls = linear_separability(&x, dim, &probs, classes, &SvmOptions::default()).unwrap();
        // 2000 kept samples, 9 parameters: the fit finds ~1 % of chance structure at most.
        for &h in &ls.entropies {
            assert!(h > LN_2 - 0.01 && h <= LN_2 + 1e-12, "{ls:?}");
        }
        assert!((ls.score / 8.0 - 1.0).abs() < 0.03, "{ls:?}");
    }

    #[test]
    fn one_class_only_needs_no_fit() {
        let x = [0.0f32, 1.0, 2.0, 3.0];
        let ls = linear_separability(&x, 1, &[0.9, 0.8, 0.7, 0.99], 1, &SvmOptions::default());
        assert_eq!(ls.unwrap().entropies, vec![0.0]);
    }

    #[test]
    fn conditional_entropy_of_known_tables() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(
            conditional_entropy([[0.25, 0.25], [0.25, 0.25]]),
            LN_2
        ));
        assert_eq!(conditional_entropy([[0.5, 0.0], [0.0, 0.5]]), 0.0);
        // A perfectly wrong classifier still determines Y.
        assert_eq!(conditional_entropy([[0.0, 3.0], [5.0, 0.0]]), 0.0);
        // X = 0 (half the mass) fixes Y = 0; X = 1 leaves Y a fair coin: H = 0.5 ln 2.
        // Counts are normalized inside.
        assert!(close(
            conditional_entropy([[2.0, 0.0], [1.0, 1.0]]),
            0.5 * LN_2
        ));
        // [[0.1, 0.2], [0.3, 0.4]]: P(X=0) = 0.3 with Y|X=0 ~ (1/3, 2/3); P(X=1) = 0.7 with
        // Y|X=1 ~ (3/7, 4/7). With h(q) = −q ln q − (1−q) ln(1−q): h(1/3) = 0.636514,
        // h(3/7) = 0.682908, H = 0.3 · 0.636514 + 0.7 · 0.682908 = 0.190954 + 0.478036
        // = 0.668990.
        let h2 = |q: f64| -q * q.ln() - (1.0 - q) * (1.0 - q).ln();
        let expected = 0.3 * h2(1.0 / 3.0) + 0.7 * h2(3.0 / 7.0);
        assert!((expected - 0.668990).abs() < 1e-6);
        assert!(close(
            conditional_entropy([[0.1, 0.2], [0.3, 0.4]]),
            expected
        ));
        // Y constant: nothing left to know.
        assert_eq!(conditional_entropy([[0.7, 0.0], [0.3, 0.0]]), 0.0);
        assert!(conditional_entropy([[0.0; 2]; 2]).is_nan());
        assert!(conditional_entropy([[1.0, -0.5], [0.25, 0.25]]).is_nan());
    }

    /// Overlapping classes in 3-D, so the loss term is active for many samples.
    fn overlapping(n: usize, seed: u64) -> (Vec<f32>, Vec<bool>) {
        let mut d = SplitMix64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let pos = i % 3 != 0;
            let shift = if pos {
                [1.0, -0.5, 2.0]
            } else {
                [-0.5, 0.5, 1.0]
            };
            x.extend(shift.iter().map(|s| (s + d.normal()) as f32));
            y.push(pos);
        }
        (x, y)
    }

    #[test]
    fn fit_minimises_the_primal() {
        let (x, y) = overlapping(300, 5);
        let c = 0.7;
        let tight = SvmOptions {
            c,
            tol: 1e-10,
            max_iter: 100_000,
            seed: 9,
        };
        let svm = LinearSvm::fit(&x, 3, &y, &tight).unwrap();
        // KKT of the (differentiable, strictly convex) primal: its gradient
        // [w, b] − 2C Σ ξ_i y_i [x_i, 1], ξ_i = max(0, 1 − y_i f(x_i)), vanishes.
        let mut grad = svm.w.clone();
        grad.push(svm.b);
        for (r, &yi) in x.chunks_exact(3).zip(&y) {
            let s = if yi { 1.0 } else { -1.0 };
            let xi = (1.0 - s * svm.decision(r)).max(0.0);
            for (g, &v) in grad.iter_mut().zip(r.iter().chain(&[1.0])) {
                *g -= 2.0 * c * xi * s * v as f64;
            }
        }
        assert!(grad.iter().all(|g| g.abs() < 1e-6), "{grad:?}");
        // Hence no perturbation of (w, b) does better.
        let best = primal(&svm.w, svm.b, &x, &y, c);
        for k in 0..4 {
            for eps in [1e-4, -1e-4, 1e-2, -1e-2, 0.3, -0.3] {
                let (mut w, mut b) = (svm.w.clone(), svm.b);
                if k < 3 {
                    w[k] += eps;
                } else {
                    b += eps;
                }
                assert!(primal(&w, b, &x, &y, c) >= best - 1e-9, "k {k} eps {eps}");
            }
        }
        // The default tolerance gets within a hair of the optimum, whatever the seed.
        for seed in 0..3 {
            let opts = SvmOptions {
                c,
                seed,
                ..SvmOptions::default()
            };
            let fit = LinearSvm::fit(&x, 3, &y, &opts).unwrap();
            let obj = primal(&fit.w, fit.b, &x, &y, c);
            assert!(
                obj >= best - 1e-9 && obj <= best * (1.0 + 1e-4),
                "{obj} vs {best}"
            );
        }
    }

    #[test]
    fn fit_is_deterministic_per_seed() {
        let (x, y) = overlapping(100, 6);
        let opts = SvmOptions::default();
        let a = LinearSvm::fit(&x, 3, &y, &opts).unwrap();
        assert_eq!(a, LinearSvm::fit(&x, 3, &y, &opts).unwrap());
    }

    #[test]
    fn bad_inputs_are_errors() {
        let opts = SvmOptions::default();
        let x = [0.0f32, 1.0, 2.0, 3.0];
        let invalid = |r: Result<LinearSvm>| matches!(r, Err(Error::Invalid(_)));
        assert!(invalid(LinearSvm::fit(&x, 2, &[true], &opts)));
        assert!(invalid(LinearSvm::fit(&x, 3, &[true], &opts)));
        assert!(invalid(LinearSvm::fit(&x, 0, &[true], &opts)));
        assert!(invalid(LinearSvm::fit(&[], 2, &[], &opts)));
        assert!(invalid(LinearSvm::fit(&[f32::NAN, 0.0], 2, &[true], &opts)));
        let bad_c = SvmOptions {
            c: 0.0,
            ..opts.clone()
        };
        assert!(invalid(LinearSvm::fit(&x, 2, &[true, false], &bad_c)));
        let bad_tol = SvmOptions {
            tol: f64::NAN,
            ..opts.clone()
        };
        assert!(invalid(LinearSvm::fit(&x, 2, &[true, false], &bad_tol)));

        let ls = |x: &[f32], dim, p: &[f32], classes| {
            matches!(
                linear_separability(x, dim, p, classes, &opts),
                Err(Error::Invalid(_))
            )
        };
        assert!(ls(&x, 2, &[0.2, 0.9, 0.1], 1)); // 3 probabilities for 2 samples
        assert!(ls(&x, 2, &[0.2, 0.9], 2));
        assert!(ls(&x, 2, &[], 0));
        assert!(ls(&x, 3, &[0.2], 1)); // 4 values are not rows of 3
        assert!(ls(&x, 4, &[0.2], 1)); // one sample: nothing left after pruning
        assert!(ls(&x, 2, &[0.2, 1.5], 1));
        assert!(ls(&x, 2, &[0.2, f32::NAN], 1));
        assert!(ls(&[0.0, f32::INFINITY], 1, &[0.2, 0.9], 1));
        assert!(!ls(&x, 2, &[0.2, 0.9], 1));
    }
}
