//! FID and KID statistics against plain f64 references: the covariance against the textbook
//! sum, FID against an independent matrix square root (Denman–Beavers iteration, not the
//! eigendecompositions the crate uses), KID against the official formula written as loops.
//! No GPU needed.

use rand::Rng;
use stylegan_wgpu::metrics::{fid_from_features, kid, FeatureStats, KidOptions};

/// `n` rows of `dim` correlated features: `x = A z + b` for a random mixing `A`.
fn features(n: usize, dim: usize, seed: u64, shift: f64) -> Vec<f32> {
    let mut r = stylegan_wgpu::rng::seeded(seed);
    let a: Vec<f64> = (0..dim * dim).map(|_| r.random_range(-1.0..1.0)).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let z: Vec<f64> = (0..dim).map(|_| r.random_range(-1.0..1.0)).collect();
        for i in 0..dim {
            let v: f64 = (0..dim).map(|j| a[i * dim + j] * z[j]).sum::<f64>() + shift + i as f64;
            out.push(v as f32);
        }
    }
    out
}

type M = Vec<Vec<f64>>;

fn mean_cov(f: &[f32], dim: usize) -> (Vec<f64>, M) {
    let n = f.len() / dim;
    let mut mu = vec![0.0; dim];
    for row in f.chunks(dim) {
        for (m, &v) in mu.iter_mut().zip(row) {
            *m += v as f64 / n as f64;
        }
    }
    let mut c = vec![vec![0.0; dim]; dim];
    for row in f.chunks(dim) {
        for i in 0..dim {
            for j in 0..dim {
                c[i][j] += (row[i] as f64 - mu[i]) * (row[j] as f64 - mu[j]) / (n - 1) as f64;
            }
        }
    }
    (mu, c)
}

fn matmul(a: &M, b: &M) -> M {
    let n = a.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (0..n).map(|k| a[i][k] * b[k][j]).sum())
                .collect()
        })
        .collect()
}

/// Inverse by Gauss-Jordan with partial pivoting.
fn inverse(a: &M) -> M {
    let n = a.len();
    let mut m: M = a
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            r.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| m[x][c].abs().total_cmp(&m[y][c].abs()))
            .unwrap();
        m.swap(c, p);
        let d = m[c][c];
        for v in &mut m[c] {
            *v /= d;
        }
        for r in 0..n {
            if r != c {
                let f = m[r][c];
                let row_c = m[c].clone();
                for (v, rc) in m[r].iter_mut().zip(row_c) {
                    *v -= f * rc;
                }
            }
        }
    }
    m.into_iter().map(|r| r[n..].to_vec()).collect()
}

/// The principal square root by the Denman–Beavers iteration (for a matrix with positive
/// eigenvalues, as Σ₁Σ₂ with full-rank covariances has).
fn sqrtm(a: &M) -> M {
    let n = a.len();
    let mut y = a.clone();
    let mut z: M = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _ in 0..100 {
        let (yi, zi) = (inverse(&y), inverse(&z));
        let y2: M = (0..n)
            .map(|i| (0..n).map(|j| 0.5 * (y[i][j] + zi[i][j])).collect())
            .collect();
        let z2: M = (0..n)
            .map(|i| (0..n).map(|j| 0.5 * (z[i][j] + yi[i][j])).collect())
            .collect();
        y = y2;
        z = z2;
    }
    y
}

fn fid_reference(a: &[f32], b: &[f32], dim: usize) -> f64 {
    let (m1, s1) = mean_cov(a, dim);
    let (m2, s2) = mean_cov(b, dim);
    let diff: f64 = m1.iter().zip(&m2).map(|(x, y)| (x - y) * (x - y)).sum();
    let root = sqrtm(&matmul(&s1, &s2));
    let tr = |m: &M| (0..dim).map(|i| m[i][i]).sum::<f64>();
    diff + tr(&s1) + tr(&s2) - 2.0 * tr(&root)
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1e-300)
}

#[test]
fn covariance_is_the_unbiased_one_and_blocks_merge_exactly() {
    let dim = 6;
    let f = features(37, dim, 1, 1e3);
    let (mu, cov) = mean_cov(&f, dim);
    let mut s = FeatureStats::new(dim);
    // Uneven blocks, as GPU batches arrive.
    for block in [&f[..5 * dim], &f[5 * dim..6 * dim], &f[6 * dim..]] {
        s.append(block).unwrap();
    }
    assert_eq!(s.len(), 37);
    let (m, c) = (s.mean().unwrap(), s.covariance().unwrap());
    let mut worst = 0f64;
    for i in 0..dim {
        worst = worst.max(rel(m[i], mu[i]));
        for j in 0..dim {
            worst = worst.max((c[(i, j)] - cov[i][j]).abs() / cov[i][i].abs());
        }
    }
    eprintln!("mean and covariance vs the textbook sums: max rel error {worst:.3e}");
    // Features near 1000 with a spread of ~1: the shifted accumulation keeps full precision.
    assert!(worst < 1e-12, "{worst:e}");
}

#[test]
fn fid_matches_an_independent_matrix_square_root() {
    let dim = 5;
    for (na, nb, shift) in [(40, 60, 0.0), (25, 25, 0.5), (100, 30, -2.0)] {
        let a = features(na, dim, 2, 0.0);
        let b = features(nb, dim, 3, shift);
        let got = fid_from_features(&a, &b, dim).unwrap();
        let want = fid_reference(&a, &b, dim);
        let r = rel(got, want);
        eprintln!("FID {na} vs {nb} rows: {got:.12} vs Denman–Beavers {want:.12}, rel {r:.3e}");
        assert!(r < 1e-9, "rel {r:e}");
        // Symmetric, and zero between a set and itself.
        assert!(rel(fid_from_features(&b, &a, dim).unwrap(), got) < 1e-9);
        assert!(fid_from_features(&a, &a, dim).unwrap().abs() < 1e-9);
    }
}

#[test]
fn fid_with_fewer_images_than_features_is_finite() {
    // Singular covariances (rank 3 in 8 dimensions), as FID of a few images in 2048-d has.
    let (a, b) = (features(4, 8, 4, 0.0), features(4, 8, 5, 0.3));
    let v = fid_from_features(&a, &b, 8).unwrap();
    assert!(v.is_finite() && v > 0.0, "{v}");
}

/// The official formula (`kernel_inception_distance.py`) with every subset the whole set.
fn kid_reference(x: &[f32], y: &[f32], dim: usize) -> f64 {
    let m = x.len() / dim;
    let k = |p: &[f32], q: &[f32]| {
        let d: f64 = p.iter().zip(q).map(|(&a, &b)| a as f64 * b as f64).sum();
        (d / dim as f64 + 1.0).powi(3)
    };
    let rows = |f: &[f32], i: usize| f[i * dim..(i + 1) * dim].to_vec();
    let (mut a, mut diag, mut b) = (0.0, 0.0, 0.0);
    for i in 0..m {
        for j in 0..m {
            let v = k(&rows(x, i), &rows(x, j)) + k(&rows(y, i), &rows(y, j));
            a += v;
            if i == j {
                diag += v;
            }
            b += k(&rows(x, i), &rows(y, j));
        }
    }
    ((a - diag) / (m - 1) as f64 - b * 2.0 / m as f64) / m as f64
}

#[test]
fn kid_matches_the_official_formula() {
    let dim = 7;
    let (x, y) = (features(20, dim, 6, 0.0), features(20, dim, 7, 0.2));
    let got = kid(&x, &y, dim, &KidOptions::default()).unwrap();
    let want = kid_reference(&x, &y, dim);
    eprintln!(
        "KID: {got:.12e} vs loops {want:.12e}, rel {:.3e}",
        rel(got, want)
    );
    assert!(rel(got, want) < 1e-10);
    // With subsets smaller than the sets, the value depends on the seed only.
    let opts = KidOptions {
        num_subsets: 7,
        max_subset_size: 9,
        seed: 3,
    };
    let (x, y) = (features(30, dim, 8, 0.0), features(25, dim, 9, 0.0));
    let v1 = kid(&x, &y, dim, &opts).unwrap();
    assert_eq!(v1, kid(&x, &y, dim, &opts).unwrap());
    assert_ne!(
        v1,
        kid(
            &x,
            &y,
            dim,
            &KidOptions {
                seed: 4,
                ..opts.clone()
            }
        )
        .unwrap()
    );
}

#[test]
fn bad_features_are_named() {
    let mut a = features(4, 3, 1, 0.0);
    a[7] = f32::NAN;
    let b = features(4, 3, 2, 0.0);
    let e = fid_from_features(&a, &b, 3).unwrap_err().to_string();
    assert!(
        e.contains("first set") && e.contains("image 2") && e.contains("NaN"),
        "{e}"
    );
    let e = fid_from_features(&b[..3], &b, 3).unwrap_err().to_string();
    assert!(e.contains("at least 2"), "{e}");
    let e = kid(&b[..5], &b, 3, &KidOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("rows of 3"), "{e}");
}

/// Precision/recall written as loops over every pair, distances from differences.
fn pr_loops(real: &[f32], fake: &[f32], dim: usize, k: usize) -> (f64, f64) {
    let rows = |f: &[f32]| -> Vec<Vec<f64>> {
        f.chunks(dim)
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect()
    };
    let d = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
    let cover = |m: &[Vec<f64>], probes: &[Vec<f64>]| {
        let radius: Vec<f64> = m
            .iter()
            .map(|p| {
                let mut ds: Vec<f64> = m.iter().map(|q| d(p, q)).collect();
                ds.sort_by(|a, b| a.total_cmp(b));
                ds[k]
            })
            .collect();
        let inside = probes
            .iter()
            .filter(|p| m.iter().zip(&radius).any(|(q, r)| d(p, q) <= *r))
            .count();
        inside as f64 / probes.len() as f64
    };
    let (r, f) = (rows(real), rows(fake));
    (cover(&r, &f), cover(&f, &r))
}

#[test]
fn precision_recall_match_pairwise_loops() {
    use stylegan_wgpu::metrics::precision_recall;
    // 1100 real rows cross the 1024-row distance block; the fakes are noisy, shifted copies of
    // some of them, so neither number is 0 or 1.
    let dim = 12;
    let real = features(1100, dim, 21, 0.0);
    let mut rn = stylegan_wgpu::rng::seeded(22);
    let fake: Vec<f32> = real[..700 * dim]
        .iter()
        .map(|v| v + 0.6 + rn.random_range(-0.8f32..0.8))
        .collect();
    let got = precision_recall(&real, &fake, dim, 3).unwrap();
    let (p, r) = pr_loops(&real, &fake, dim, 3);
    eprintln!(
        "precision {} recall {} (loops: {p} {r})",
        got.precision, got.recall
    );
    assert!((got.precision - p).abs() < 1e-12 && (got.recall - r).abs() < 1e-12);
    assert!(p > 0.05 && p < 0.99 && r > 0.05 && r < 0.99, "{p} {r}");
    // Identical sets cover each other; too few rows for k are an error naming the set.
    let same = precision_recall(&real, &real, dim, 3).unwrap();
    assert_eq!((same.precision, same.recall), (1.0, 1.0));
    let e = precision_recall(&real, &fake[..3 * dim], dim, 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("generated features"), "{e}");
}
