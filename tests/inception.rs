//! The FID Inception and `stylegan features` / `stylegan fid` against pytorch-fid itself
//! (`benches/pytorch/inception_fid.py`): pytorch-fid's own network built with random weights
//! (no real weights exist on our machines), saved as `.pth`; our pool features of the same
//! images must match its features (rel ≤ 1e-4 of the largest feature) and our FID its FID
//! (rel ≤ 1e-3), through both the `.pth` and its safetensors conversion.
//!
//! The images cover what the preprocessing must get right: RGB and grayscale (repeated to RGB),
//! sizes below and above 299 (bilinear up- and down-scaling).
//!
//! Needs python3 with torch, numpy and pytorch-fid (STYLEGAN_PYTHON picks the interpreter), so
//! the comparison is `#[ignore]`d in a plain `cargo test`; `.ci/run` installs them and runs it
//! with `--ignored`. Without them it fails, never skips.

mod common;
use common::process::{python, run, stylegan, write_images};

use rand::Rng;
use stylegan_wgpu::eval::inception::{random_tensors, Inception};
use stylegan_wgpu::io::npy::read_npy;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/pytorch/inception_fid.py"
);

fn max_rel(got: &[f32], want: &[f32]) -> (f64, f64) {
    let scale = want.iter().fold(0f64, |m, &v| m.max(v.abs() as f64));
    let abs = got
        .iter()
        .zip(want)
        .fold(0f64, |m, (&a, &b)| m.max((a as f64 - b as f64).abs()));
    (abs, abs / scale.max(1e-30))
}

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
        let (abs, rel) = max_rel(&got.data, &want.data);
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

#[test]
fn a_missing_or_misshapen_tensor_is_named() {
    let g = common::gpu();
    let mut w = random_tensors(0);
    w.remove("Mixed_6c.branch7x7dbl_3.conv.weight");
    let e = Inception::from_tensors(&g, &w, "w.pth")
        .err()
        .expect("missing tensor")
        .to_string();
    assert!(
        e.contains("w.pth") && e.contains("Mixed_6c.branch7x7dbl_3.conv.weight"),
        "{e}"
    );

    let mut w = random_tensors(0);
    let t = w.get_mut("Conv2d_4a_3x3.bn.running_var").unwrap();
    t.shape = vec![191];
    t.data.truncate(191);
    let e = Inception::from_tensors(&g, &w, "w.pth")
        .err()
        .expect("bad shape")
        .to_string();
    assert!(
        e.contains("Conv2d_4a_3x3.bn.running_var") && e.contains("[191]"),
        "{e}"
    );
}

#[test]
fn features_are_finite_and_batch_independent() {
    let g = common::gpu();
    let net = Inception::from_tensors(&g, &random_tensors(1), "random").unwrap();
    // Three 8x8 grayscale images, resized to 299 inside.
    let mut rng = stylegan_wgpu::rng::seeded(5);
    let bytes: Vec<u8> = (0..3 * 64).map(|_| rng.random()).collect();
    let all = net.features(&bytes, 3, 1, 8, 8).unwrap();
    assert_eq!(all.len(), 3 * 2048);
    assert!(all.iter().all(|v| v.is_finite()));
    let one = net.features(&bytes[64..128], 1, 1, 8, 8).unwrap();
    let (abs, rel) = max_rel(&one, &all[2048..4096]);
    eprintln!("image 1 alone vs in a batch of 3: max abs {abs:.3e}, rel {rel:.3e}");
    assert!(rel <= 1e-5);
}
