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
use common::errors_f32;

use rand::Rng;
use stylegan_wgpu::eval::inception::{random_tensors, Inception};

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
    let (abs, rel) = errors_f32(&one, &all[2048..4096]);
    eprintln!("image 1 alone vs in a batch of 3: max abs {abs:.3e}, rel {rel:.3e}");
    assert!(rel <= 1e-5);
}
