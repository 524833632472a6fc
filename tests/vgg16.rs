//! VGG16 up to fc7 (`eval::vgg16::Vgg16Fc7`), the network of precision and recall: its fc6/fc7
//! head against the f64 reference (fc6 split into row blocks as on a 128 MiB adapter, and
//! whole), errors that name the file and tensor, and, in CI, `stylegan features --vgg16`
//! against torchvision's own `vgg16` with random weights (`benches/pytorch/vgg16_fc7_ref.py`).
//! The convolutional trunk is the one LPIPS uses and is checked in tests/lpips.rs.

mod common;

use common::process::{python, run, stylegan, write_images};
use common::tempdir::TempDir;
use common::*;
use stylegan_wgpu::eval::vgg16::{random_fc_tensors, random_tensors, Vgg16Fc7, FC, FC7_FEATURES};
use stylegan_wgpu::gpu::Policy;
use stylegan_wgpu::io::npy::read_npy;
use stylegan_wgpu::nn::params::HostWeights;
use stylegan_wgpu::reference::basic::bias_relu;
use stylegan_wgpu::reference::dense::matmul;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;

const LPIPS_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch/lpips_ref.py");
const FC7_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/pytorch/vgg16_fc7_ref.py"
);

fn all_tensors(seed: u64) -> HostWeights {
    let mut t = random_tensors(seed);
    t.extend(random_fc_tensors(seed + 1));
    t
}

/// fc6, ReLU, fc7, ReLU in f64 on `[N, 512, 7, 7]` flattened in NCHW order.
fn head_reference(t: &HostWeights, x: &Arr) -> Arr {
    let n = x.shape[0];
    let mut y = Arr::new(&[n, FC[0].1], x.data.clone());
    for &(i, _, _) in &FC {
        let w = &t[&format!("classifier.{i}.weight")];
        let b = &t[&format!("classifier.{i}.bias")];
        let z = matmul(&y, &Arr::from_f32(&w.shape, &w.data), false, true, 1.0);
        y = bias_relu(&z, &Arr::from_f32(&b.shape, &b.data));
    }
    y
}

#[test]
fn fc7_head_matches_the_reference_whole_and_in_blocks() {
    let t = all_tensors(5);
    let mut r = rng(6);
    // Positive inputs, as after the trunk's ReLU and pool.
    let x = uniform(&mut r, &[2, 512, 7, 7], 0.0, 2.0);
    let want = head_reference(&t, &x);
    let live = want.data.iter().filter(|&&v| v > 0.0).count();
    assert!(live > want.data.len() / 4, "only {live} fc7 units active");
    // 128 MiB: fc6 (411 MB) in four blocks, fc7 (64 MiB) whole; then an adapter that holds
    // fc6 whole where it can (lavapipe's binding limit decides).
    for max_binding in [Some(128 << 20), None] {
        let g = gpu_with(Policy {
            max_binding,
            ..Policy::default()
        });
        let net = Vgg16Fc7::from_tensors(&g, &t, "vgg.pth").unwrap();
        let blocks = net.fc_blocks();
        let y = net.head(&Var::constant(upload(&g, &x))).unwrap();
        assert_eq!(y.shape(), &[2, FC7_FEATURES]);
        assert_close(
            &format!("vgg16 fc7 head, blocks {blocks:?}"),
            &download(&y),
            &want,
            1e-5,
        );
        if max_binding.is_some() {
            assert_eq!(blocks, vec![4, 1]);
        }
    }
}

#[test]
fn bad_weights_and_inputs_are_named() {
    let g = gpu();
    let mut t = all_tensors(1);
    t.remove("classifier.3.bias");
    let e = Vgg16Fc7::from_tensors(&g, &t, "v.pth")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("v.pth") && e.contains("classifier.3.bias"),
        "{e}"
    );
    let mut t = all_tensors(1);
    t.get_mut("classifier.0.weight").unwrap().shape = vec![4096, 4096];
    let e = Vgg16Fc7::from_tensors(&g, &t, "v.pth")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("classifier.0.weight") && e.contains("25088"),
        "{e}"
    );
    let net = Vgg16Fc7::from_tensors(&g, &all_tensors(1), "v.pth").unwrap();
    let x = Var::constant(upload(&g, &Arr::zeros(&[1, 3, 32, 32])));
    let e = net.forward(&x).err().unwrap().to_string();
    assert!(e.contains("224"), "{e}");
    let e = net
        .features(&[0u8; 100], 1, 1, 16, 16)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("vgg16") && e.contains("16x16"), "{e}");
}

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
