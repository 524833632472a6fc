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
