//! LPIPS-VGG16 (`eval::lpips`): our distance against the f64 reference (`reference::lpips`),
//! its gradient with respect to the images against finite differences of that reference,
//! errors that name the file and tensor, and, in CI, `stylegan lpips` against the lpips
//! package itself (`benches/pytorch/lpips_ref.py`: torchvision's VGG16 with random weights,
//! the package's shipped linear layers), rel ≤ 1e-4.

mod common;

use common::*;
use stylegan_wgpu::autodiff::grad_scalar;
use stylegan_wgpu::eval::lpips::{lin_tensors, Lpips};
use stylegan_wgpu::eval::vgg16::random_tensors;
use stylegan_wgpu::nn::params::{HostTensor, HostWeights};
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::lpips::lpips;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;

/// Non-negative linear weights, as the package's are.
fn random_lin(seed: u64) -> HostWeights {
    let mut r = rng(seed);
    lin_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let a = uniform(&mut r, &shape, 0.0, 0.2);
            let data = a.to_f32();
            (name, HostTensor { shape, data })
        })
        .collect()
}

#[test]
fn distance_and_image_gradient_match_the_reference() {
    let g = gpu();
    let (vgg, lin) = (random_tensors(7), random_lin(8));
    let net = Lpips::from_tensors(&g, &vgg, "vgg", &lin, "lin").unwrap();
    let mut r = rng(9);
    // 20x24: odd sizes after the third pool (5x6 -> 2x3 -> 1x1), images in [-1, 1].
    let shape = [2, 3, 20, 24];
    let a = uniform(&mut r, &shape, -1.0, 1.0);
    let b = uniform(&mut r, &shape, -1.0, 1.0);
    let av = param(&g, &a);
    let d = net.distance(&av, &Var::constant(upload(&g, &b))).unwrap();
    let want = Arr::new(&[2], lpips(&vgg, &lin, &a, &b));
    assert_close("lpips distance", &download(&d), &want, 1e-5);
    assert!(want.data.iter().all(|&v| v > 0.0));
    // Identical images: exactly 0.
    let same = net.distance(&av, &av).unwrap().to_vec().unwrap();
    assert_eq!(same, vec![0.0, 0.0]);

    // d(Σ distances)/d a along random directions vs central differences of the reference.
    let grads = grad_scalar(&ops::sum(&d).unwrap(), std::slice::from_ref(&av), false).unwrap();
    let ga = download(grads[0].as_ref().expect("a gradient"));
    let f = |x: &Arr| lpips(&vgg, &lin, x, &b).iter().sum::<f64>();
    // Random VGG16 on noise has a ReLU or max-pool kink within 1e-5 of almost any point along
    // a random direction of all 2880 pixels (differences at 1e-4, 1e-5, 1e-6 gave 6.01e-4,
    // 5.08e-4, 4.99e-4 where 1e-7 gives 5.1034e-4): the step must stay inside one smooth
    // piece. In f64 the rounding error at 1e-7 is ~1e-9 of these slopes.
    let eps = 1e-7;
    for k in 0..2 {
        let u = randn(&mut r, &shape);
        let shifted = |s: f64| a.zip(&u, |x, y| x + s * y);
        let fd = (f(&shifted(eps)) - f(&shifted(-eps))) / (2.0 * eps);
        let got = ga.dot(&u);
        let rel = (got - fd).abs() / fd.abs().max(1e-6);
        eprintln!("d lpips / d a along u{k}: gpu {got:+.6e}  fd {fd:+.6e}  rel {rel:.2e}");
        assert!(rel < 1e-3, "gradient along u{k}: rel {rel:.2e}");
    }
}

#[test]
fn grayscale_is_repeated_to_rgb() {
    let g = gpu();
    let (vgg, lin) = (random_tensors(1), random_lin(2));
    let net = Lpips::from_tensors(&g, &vgg, "vgg", &lin, "lin").unwrap();
    let mut r = rng(3);
    let a = uniform(&mut r, &[1, 1, 16, 16], -1.0, 1.0);
    let b = uniform(&mut r, &[1, 1, 16, 16], -1.0, 1.0);
    let got = net
        .distance_images(&a.to_f32(), &b.to_f32(), 1, 1, 16, 16)
        .unwrap();
    let rgb = |x: &Arr| {
        let data: Vec<f64> = (0..3).flat_map(|_| x.data.iter().copied()).collect();
        Arr::new(&[1, 3, 16, 16], data)
    };
    let want = Arr::new(&[1], lpips(&vgg, &lin, &rgb(&a), &rgb(&b)));
    assert_close("lpips gray", &Arr::from_f32(&[1], &got), &want, 1e-5);
    let e = net
        .distance_images(&a.to_f32(), &b.to_f32()[..100], 1, 1, 16, 16)
        .unwrap_err()
        .to_string();
    assert!(e.contains("lpips") && e.contains("16x16"), "{e}");
}

#[test]
fn bad_weights_name_the_file_and_tensor() {
    let g = gpu();
    let (mut vgg, mut lin) = (random_tensors(1), random_lin(2));
    lin.remove("lin3.model.1.weight");
    let e = Lpips::from_tensors(&g, &vgg, "v.pth", &lin, "lin.pth")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("lin.pth") && e.contains("lin3.model.1.weight"),
        "{e}"
    );
    vgg.get_mut("features.10.bias").unwrap().shape = vec![1, 256];
    let e = Lpips::from_tensors(&g, &vgg, "v.pth", &random_lin(2), "lin.pth")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("v.pth") && e.contains("features.10.bias") && e.contains("[256]"),
        "{e}"
    );
    let net = Lpips::from_tensors(&g, &random_tensors(1), "v", &random_lin(2), "l").unwrap();
    let x = Var::constant(upload(&g, &Arr::zeros(&[1, 3, 8, 8])));
    let e = net.distance(&x, &x).err().unwrap().to_string();
    assert!(e.contains("16"), "{e}");
}
