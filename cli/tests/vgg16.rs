//! `stylegan features --vgg16` against torchvision's vgg16 (random weights). Needs python3 with
//! torch and torchvision, so it is ignored in a plain `cargo test`; CI runs it with `--ignored`.

mod common;
use common::process::{python, run, stylegan, write_images};
use common::tempdir::TempDir;
use stylegan_wgpu::eval::vgg16::FC7_FEATURES;
use stylegan_wgpu::io::npy::read_npy;

const LPIPS_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/pytorch/lpips_ref.py"
);
const FC7_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/pytorch/vgg16_fc7_ref.py"
);

#[test]
#[ignore = "needs python3 with torch and torchvision; CI runs it: cargo test --test vgg16 -- --ignored"]
fn stylegan_features_vgg16_match_torchvision() {
    let tmp = TempDir::new("vgg16-fc7");
    let dir = &tmp.0;
    let py = python();
    run(
        dir,
        &py,
        &[LPIPS_SCRIPT, "weights", "vgg.pth", "--seed", "4"],
    );
    // RGB 64x64 (upsampled 3.5x, not an integer factor) and grayscale 32x32 (the
    // Fashion-MNIST models' images).
    write_images(&dir.join("rgb"), 3, 3, 64, 1);
    write_images(&dir.join("gray"), 2, 1, 32, 2);
    let mut worst: f64 = 0.0;
    for (set, n) in [("rgb", 3), ("gray", 2)] {
        let paths: Vec<String> = (0..n).map(|i| format!("{set}/{i:03}.png")).collect();
        let want_npy = format!("{set}-torch.npy");
        let mut args = vec![FC7_SCRIPT, "vgg.pth", &want_npy];
        args.extend(paths.iter().map(String::as_str));
        run(dir, &py, &args);
        let got_npy = format!("{set}-ours.npy");
        stylegan(
            dir,
            &[
                "features", set, "--vgg16", "vgg.pth", "--out", &got_npy, "--batch", "2",
            ],
        );
        let want = read_npy(dir.join(&want_npy)).unwrap();
        let got = read_npy(dir.join(&got_npy)).unwrap();
        assert_eq!(got.shape, vec![n, FC7_FEATURES]);
        assert_eq!(got.shape, want.shape);
        let scale = want.data.iter().fold(0f64, |m, v| m.max(v.abs() as f64));
        let live = want.data.iter().filter(|&&v| v > 0.0).count();
        assert!(
            scale > 0.0 && live > want.data.len() / 10,
            "{set}: dead features"
        );
        let err = got
            .data
            .iter()
            .zip(&want.data)
            .fold(0f64, |m, (a, b)| m.max((a - b).abs() as f64));
        eprintln!(
            "{set}: fc7 max |ours - torchvision| {err:.3e}, max |feature| {scale:.3e}, rel {:.2e}",
            err / scale
        );
        worst = worst.max(err / scale);
    }
    assert!(
        worst <= 1e-4,
        "worst error relative to the largest feature {worst:.2e}"
    );
}
