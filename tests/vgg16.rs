//! VGG16 up to fc7 (`eval::vgg16::Vgg16Fc7`), the network of precision and recall: its fc6/fc7
//! head against the f64 reference (fc6 split into row blocks as on a 128 MiB adapter, and
//! whole), errors that name the file and tensor, and, in CI, `stylegan features --vgg16`
//! against torchvision's own `vgg16` with random weights (`benches/pytorch/vgg16_fc7_ref.py`).
//! The convolutional trunk is the one LPIPS uses and is checked in tests/lpips.rs.

mod common;

use common::*;
use stylegan_wgpu::eval::vgg16::{random_fc_tensors, random_tensors, Vgg16Fc7, FC, FC7_FEATURES};
use stylegan_wgpu::gpu::Policy;
use stylegan_wgpu::nn::params::HostWeights;
use stylegan_wgpu::reference::dense::matmul;
use stylegan_wgpu::reference::epilogue::bias_relu;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;

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
