//! `stylegan features` and `stylegan fid` against pytorch-fid (random Inception weights saved by
//! the reference package, converted by `stylegan convert`). Needs python3 with torch, numpy and
//! pytorch-fid, so it is ignored in a plain `cargo test`; CI runs it with `--ignored`.

mod common;
use common::errors_f32;
use common::process::{python, run, stylegan, write_images};
use stylegan_wgpu::io::npy::read_npy;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/pytorch/inception_fid.py"
);

fn parse_fid(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("FID: "))
        .unwrap_or_else(|| panic!("no 'FID: ' line in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs python3 with torch, numpy and pytorch-fid; CI runs it: cargo test --test inception -- --ignored"]
fn features_and_fid_match_pytorch_fid() {
    let tmp = std::env::temp_dir().join(format!("sgw-inception-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let py = python();
    // A: RGB 32x32 (upscaled to 299); B: grayscale 512x512 (downscaled), 5 images each.
    write_images(&tmp.join("a"), 5, 3, 32, 1);
    write_images(&tmp.join("b"), 5, 1, 512, 2);
    run(&tmp, &py, &[SCRIPT, "weights", "w.pth", "--seed", "3"]);
    for set in ["a", "b"] {
        let want_path = format!("want_{set}.npy");
        run(&tmp, &py, &[SCRIPT, "features", "w.pth", set, &want_path]);
        let got_path = format!("got_{set}.npy");
        stylegan(
            &tmp,
            &[
                "features",
                set,
                "--inception",
                "w.pth",
                "--out",
                &got_path,
                "--batch",
                "3",
            ],
        );
        let (got, want) = (
            read_npy(tmp.join(&got_path)).unwrap(),
            read_npy(tmp.join(&want_path)).unwrap(),
        );
        assert_eq!(got.shape, want.shape, "feature shapes of {set}");
        let (abs, rel) = errors_f32(&got.data, &want.data);
        eprintln!("features of {set}: max abs error {abs:.3e}, relative to the largest {rel:.3e}");
        assert!(
            rel <= 1e-4,
            "features of {set} differ from pytorch-fid's: rel {rel:.3e}"
        );
    }
    let want: f64 = run(&tmp, &py, &[SCRIPT, "fid", "w.pth", "a", "b"])
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .expect("the script prints the FID");
    stylegan(&tmp, &["convert", "w.pth", "w.safetensors"]);
    for weights in ["w.pth", "w.safetensors"] {
        let got = parse_fid(&stylegan(
            &tmp,
            &[
                "fid",
                "a",
                "b",
                "--inception",
                weights,
                "--kid",
                "--json",
                "fid.json",
            ],
        ));
        let rel = (got - want).abs() / want.abs();
        eprintln!("FID with {weights}: ours {got:.6}, pytorch-fid {want:.6}, rel {rel:.3e}");
        assert!(
            rel <= 1e-3,
            "FID {got} vs pytorch-fid {want} (rel {rel:.3e})"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(tmp.join("fid.json")).unwrap()).unwrap();
        assert_eq!(json["n_a"], 5);
        assert_eq!(json["n_b"], 5);
        assert!((json["fid"].as_f64().unwrap() - got).abs() <= 1e-5 * got.abs());
        let kid = json["kid"].as_f64().unwrap();
        // 5 images per set: every KID subset is the whole set, so the value is deterministic.
        let kid_want: f64 = run(&tmp, &py, &[SCRIPT, "kid", "got_a.npy", "got_b.npy"])
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .next_back()
            .expect("the script prints the KID");
        let rel = (kid - kid_want * 1e3).abs() / (kid_want * 1e3).abs().max(1e-12);
        eprintln!(
            "KID×10³ with {weights}: ours {kid:.6}, stylegan2-ada's formula {:.6}, rel {rel:.3e}",
            kid_want * 1e3
        );
        assert!(
            rel <= 1e-6,
            "KID×10³ {kid} vs {} (rel {rel:.3e})",
            kid_want * 1e3
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `--dims` (pytorch-fid's other feature layers) and `--save-stats` / `.npz` statistics
/// against pytorch-fid: the features of each width, the FID of 768-d features, and statistics
/// written by each program read by the other.
#[test]
#[ignore = "needs python3 with torch, numpy and pytorch-fid; CI runs it: cargo test --test inception -- --ignored"]
fn dims_and_saved_statistics_match_pytorch_fid() {
    use stylegan_wgpu::metrics::Moments;
    let tmp = std::env::temp_dir().join(format!("sgw-inception-dims-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let py = python();
    // A: RGB 64x64 (upscaled to 299); B: grayscale 512x512 (downscaled), 5 images each.
    write_images(&tmp.join("a"), 5, 3, 64, 4);
    write_images(&tmp.join("b"), 5, 1, 512, 5);
    run(&tmp, &py, &[SCRIPT, "weights", "w.pth", "--seed", "7"]);
    for dims in ["64", "192", "768"] {
        for set in ["a", "b"] {
            let want_path = format!("want_{set}_{dims}.npy");
            run(
                &tmp,
                &py,
                &[SCRIPT, "features", "w.pth", set, &want_path, "--dims", dims],
            );
            let got_path = format!("got_{set}_{dims}.npy");
            let args = ["features", set, "--inception", "w.pth", "--dims", dims];
            stylegan(&tmp, &[&args[..], &["--out", &got_path]].concat());
            let (got, want) = (
                read_npy(tmp.join(&got_path)).unwrap(),
                read_npy(tmp.join(&want_path)).unwrap(),
            );
            assert_eq!(got.shape, [5, dims.parse::<usize>().unwrap()]);
            assert_eq!(
                got.shape, want.shape,
                "--dims {dims} feature shapes of {set}"
            );
            let (abs, rel) = errors_f32(&got.data, &want.data);
            eprintln!("--dims {dims}, {set}: max abs error {abs:.3e}, relative {rel:.3e}");
            assert!(
                rel <= 1e-4,
                "--dims {dims} features of {set}: rel {rel:.3e}"
            );
        }
    }
    let fid_py = |a: &str, b: &str| -> f64 {
        run(&tmp, &py, &[SCRIPT, "fid", "w.pth", a, b, "--dims", "768"])
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .next_back()
            .expect("the script prints the FID")
    };
    let close = |what: &str, got: f64, want: f64| {
        let rel = (got - want).abs() / want.abs();
        eprintln!("{what}: ours {got:.6}, pytorch-fid {want:.6}, rel {rel:.3e}");
        assert!(rel <= 1e-3, "{what}: {got} vs {want} (rel {rel:.3e})");
    };
    let want = fid_py("a", "b");
    let ours = |args: &[&str]| {
        let base = [
            "fid",
            "--inception",
            "w.pth",
            "--dims",
            "768",
            "--batch-size",
            "4",
        ];
        parse_fid(&stylegan(&tmp, &[&base[..], args].concat()))
    };
    close(
        "FID --dims 768",
        ours(&["a", "b", "--save-stats", "a_ours.npz"]),
        want,
    );
    // pytorch-fid's statistics of A and ours: the same mu and sigma.
    run(
        &tmp,
        &py,
        &[SCRIPT, "stats", "w.pth", "a", "a_py.npz", "--dims", "768"],
    );
    let (m_ours, m_py) = (
        Moments::read_npz(&tmp.join("a_ours.npz")).unwrap(),
        Moments::read_npz(&tmp.join("a_py.npz")).unwrap(),
    );
    for (name, got, want) in [
        ("mu", m_ours.mu.as_slice(), m_py.mu.as_slice()),
        ("sigma", m_ours.sigma.as_slice(), m_py.sigma.as_slice()),
    ] {
        let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let err = got
            .iter()
            .zip(want)
            .fold(0f64, |m, (g, w)| m.max((g - w).abs()));
        eprintln!(
            "saved {name}: max abs error {err:.3e}, relative {:.3e}",
            err / scale
        );
        assert!(
            err <= 1e-4 * scale,
            "{name} differs: {err:.3e} of {scale:.3e}"
        );
    }
    // Each program reads the other's statistics.
    close(
        "ours on pytorch-fid's a_py.npz",
        ours(&["a_py.npz", "b"]),
        want,
    );
    close(
        "pytorch-fid on our a_ours.npz",
        fid_py("a_ours.npz", "b"),
        want,
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
