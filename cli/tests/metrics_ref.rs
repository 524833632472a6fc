//! Three metric formulas against Python ports of the official code
//! (`benches/pytorch/metrics_ref.py`), on random inputs written as `.npy`:
//!   - precision/recall against stylegan2-ada-pytorch's `metrics/precision_recall.py`
//!     (torch.cdist, `kthvalue(k + 1)` radii): fractions of counts, so they must agree exactly;
//!   - PPL's slerp and percentile filter against the official StyleGAN (TF) code, in numpy;
//!   - linear separability against the official StyleGAN `metrics/linear_separability.py`
//!     with scikit-learn's `LinearSVC(dual=True)`.
//!
//! Needs python3 with torch, numpy and scikit-learn (STYLEGAN_PYTHON picks the interpreter),
//! so the comparisons are `#[ignore]`d in a plain `cargo test`; `.ci/run` runs them with
//! `--ignored`. Without those packages they fail, never skip. No GPU is needed.

mod common;
use common::process::{python, run};
use common::{randn, rng, uniform};

use std::path::{Path, PathBuf};

use stylegan_wgpu::io::npy::write_npy;
use stylegan_wgpu::metrics::ppl::{filtered_mean, slerp};
use stylegan_wgpu::metrics::pr::precision_recall;
use stylegan_wgpu::metrics::separability::{linear_separability, SvmOptions};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/pytorch/metrics_ref.py"
);

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let tmp = std::env::temp_dir().join(format!("sgw-metrics-ref-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    tmp
}

/// The value of the last `<key>: <v>` line of the script's output.
fn parse(text: &str, key: &str) -> f64 {
    let prefix = format!("{key}: ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .next_back()
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{text}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("'{prefix}' line of:\n{text}\n{e}"))
}

/// A little-endian float64 `.npy` as numpy's `np.save` writes it (our reader gives f32 only,
/// and the slerp comparison needs the script's full precision): (shape, data).
fn read_f64_npy(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..6], b"\x93NUMPY", "{} is not a .npy", path.display());
    let (len, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        _ => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
    };
    let header = std::str::from_utf8(&b[start..start + len]).unwrap();
    assert!(
        header.contains("'descr': '<f8'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let dims = &header[header.find('(').unwrap() + 1..header.find(')').unwrap()];
    let shape: Vec<usize> = dims
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let data: Vec<f64> = b[start + len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(data.len(), shape.iter().product::<usize>(), "{header}");
    (shape, data)
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
#[ignore = "needs python3 with torch and numpy; CI runs it: cargo test --test metrics_ref -- --ignored"]
fn precision_recall_matches_stylegan2_ada() {
    let tmp = scratch("pr");
    let py = python();
    let (n_real, n_fake, dim, k) = (300, 250, 16, 3);
    let mut r = rng(11);
    let real = randn(&mut r, &[n_real, dim]).to_f32();
    // Generated features: shifted and wider, so neither value is 0 or 1.
    let fake: Vec<f32> = randn(&mut r, &[n_fake, dim])
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| (1.25 * v + if i % dim < 4 { 0.6 } else { 0.0 }) as f32)
        .collect();
    write_npy(tmp.join("real.npy"), &[n_real, dim], &real).unwrap();
    write_npy(tmp.join("fake.npy"), &[n_fake, dim], &fake).unwrap();
    let ours = precision_recall(&real, &fake, dim, k).unwrap();
    let k_arg = k.to_string();
    // Row and column batches smaller than the sets, so the script's batching and padding of
    // compute_distances run too.
    let batches = ["--row-batch", "128", "--col-batch", "100"];
    // float64 with the radii kept in float64: what we compute (our radii are f64), so the
    // counts must agree exactly.
    let mut args = vec![
        SCRIPT, "pr", "real.npy", "fake.npy", &k_arg, "--dtype", "float64", "--radii", "exact",
    ];
    args.extend(batches);
    let out = run(&tmp, &py, &args);
    let (p64, r64) = (parse(&out, "precision"), parse(&out, "recall"));
    // The official code as it stands: float32 distances, radii stored in float16. A probe
    // within float16 rounding of a radius (about 4e-4 relative) could land on the other side;
    // on these inputs none does.
    let mut args = vec![SCRIPT, "pr", "real.npy", "fake.npy", &k_arg];
    args.extend(batches);
    let out = run(&tmp, &py, &args);
    let (p16, r16) = (parse(&out, "precision"), parse(&out, "recall"));
    eprintln!(
        "precision: ours {:.6}, official float64 radii {p64:.6}, official float32/float16 {p16:.6}",
        ours.precision
    );
    eprintln!(
        "recall:    ours {:.6}, official float64 radii {r64:.6}, official float32/float16 {r16:.6}",
        ours.recall
    );
    assert!(
        0.0 < ours.precision && ours.precision < 1.0 && 0.0 < ours.recall && ours.recall < 1.0,
        "degenerate test inputs: {ours:?}"
    );
    for (what, got, want) in [
        ("precision vs float64", ours.precision, p64),
        ("recall vs float64", ours.recall, r64),
        ("precision vs official float32/float16", ours.precision, p16),
        ("recall vs official float32/float16", ours.recall, r16),
    ] {
        assert!(
            (got - want).abs() <= 1e-12,
            "{what}: ours {got}, reference {want}"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
#[ignore = "needs python3 with numpy; CI runs it: cargo test --test metrics_ref -- --ignored"]
fn ppl_slerp_and_filter_match_the_official_code() {
    let tmp = scratch("ppl");
    let py = python();
    let (n, dim) = (20, 32);
    let mut r = rng(12);
    let z = randn(&mut r, &[n, 2, dim]).to_f32();
    let t = uniform(&mut r, &[n], 0.0, 1.0).to_f32();
    write_npy(tmp.join("z.npy"), &[n, 2, dim], &z).unwrap();
    write_npy(tmp.join("t.npy"), &[n], &t).unwrap();
    run(
        &tmp,
        &py,
        &[SCRIPT, "ppl_parts", "z.npy", "t.npy", "slerp.npy"],
    );
    let (shape, want) = read_f64_npy(&tmp.join("slerp.npy"));
    assert_eq!(shape, [n, dim]);
    let mut worst = 0f64;
    for i in 0..n {
        let pair = widen(&z[i * 2 * dim..(i + 1) * 2 * dim]);
        let got = slerp(&pair[..dim], &pair[dim..], t[i] as f64);
        let w = &want[i * dim..(i + 1) * dim];
        let scale = w.iter().fold(0f64, |m, v| m.max(v.abs()));
        let abs = got
            .iter()
            .zip(w)
            .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
        worst = worst.max(abs / scale);
    }
    eprintln!("slerp of {n} pairs of {dim}-d vectors: max rel error {worst:.3e}");
    assert!(
        worst <= 1e-10,
        "slerp differs from the official one: rel {worst:.3e}"
    );

    // Distances as PPL's: positive, log-normal, with heavy outliers: 8 at x1e6 and 11 at x1e3
    // (the 99th percentile cuts the first and 2 of the second), 10 tiny ones at x1e-4 (the 1st
    // percentile keeps exactly the largest of them).
    let m = 1000;
    let d: Vec<f32> = randn(&mut r, &[m])
        .data
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let base = (v * 0.7).exp() * 40.0;
            (if i % 125 == 50 {
                base * 1e6
            } else {
                match i % 97 {
                    3 => base * 1e3,
                    71 => base * 1e-4,
                    _ => base,
                }
            }) as f32
        })
        .collect();
    write_npy(tmp.join("d.npy"), &[m], &d).unwrap();
    let want = parse(&run(&tmp, &py, &[SCRIPT, "filter", "d.npy"]), "ppl");
    let got = filtered_mean(&widen(&d)).unwrap();
    let rel = (got - want).abs() / want.abs();
    eprintln!("filtered mean of {m} distances: ours {got:.12}, official {want:.12}, rel {rel:.3e}");
    assert!(
        rel <= 1e-12,
        "filtered mean {got} vs official {want} (rel {rel:.3e})"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
#[ignore = "needs python3 with numpy and scikit-learn; CI runs it: cargo test --test metrics_ref -- --ignored"]
fn linear_separability_matches_the_official_code() {
    let tmp = scratch("ls");
    let py = python();
    let (n, dim, classes) = (2000, 16, 10);
    let mut r = rng(13);
    let latents = randn(&mut r, &[n, dim]);
    let w = randn(&mut r, &[dim, classes]);
    let noise = randn(&mut r, &[n, classes]);
    // Class probabilities: a softmax of a noisy linear function of the latents, so each
    // one-vs-rest attribute is largely but not perfectly linearly separable.
    let mut probs = Vec::with_capacity(n * classes);
    for i in 0..n {
        let logits: Vec<f64> = (0..classes)
            .map(|c| {
                let lin: f64 = (0..dim)
                    .map(|j| latents.data[i * dim + j] * w.data[j * classes + c])
                    .sum();
                0.5 * lin + 4.0 * noise.data[i * classes + c]
            })
            .collect();
        let top = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let e: Vec<f64> = logits.iter().map(|v| (v - top).exp()).collect();
        let s: f64 = e.iter().sum();
        probs.extend(e.iter().map(|v| (v / s) as f32));
    }
    let latents = latents.to_f32();
    write_npy(tmp.join("latents.npy"), &[n, dim], &latents).unwrap();
    write_npy(tmp.join("probs.npy"), &[n, classes], &probs).unwrap();
    let out = run(&tmp, &py, &[SCRIPT, "ls", "latents.npy", "probs.npy"]);
    let want = parse(&out, "ls");
    let ours = linear_separability(&latents, dim, &probs, classes, &SvmOptions::default()).unwrap();
    for (c, h) in ours.entropies.iter().enumerate() {
        let official_bits = parse(&out, &format!("H[{c}]"));
        eprintln!(
            "H[{c}]: ours {:.6} bits, official {official_bits:.6} bits",
            h / std::f64::consts::LN_2
        );
    }
    let rel = (ours.score - want).abs() / want;
    eprintln!(
        "LS: ours {:.6}, official {want:.6}, rel {rel:.3e}",
        ours.score
    );
    assert!(
        ours.score > 1.01,
        "degenerate test inputs: every attribute separable ({ours:?})"
    );
    // Not exact: the same data and objective, but liblinear's dual coordinate descent visits
    // the samples in random orders, ours from our own generator and sklearn's from its own, so
    // the two fits stop at different points within the solver's tolerance (1e-4) and a sample
    // next to the hyperplane may be predicted differently. The official entropies are also
    // float32.
    assert!(
        rel <= 1e-3,
        "LS {} vs official {want} (rel {rel:.3e})",
        ours.score
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
