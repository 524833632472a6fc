//! The evaluation classifier (`nn::classifier`) as a whole network: features and logits on the
//! GPU vs the f64 reference, and the gradient of the mean cross-entropy with respect to every
//! parameter tensor vs central finite differences of the reference along a random direction.
//! Widths 16/16/32 so the convs run on the subgroup kernels where the adapter has them.

mod common;
use common::*;

use std::collections::BTreeMap;
use stylegan_wgpu::autodiff::grad_scalar;
use stylegan_wgpu::graph::Var;
use stylegan_wgpu::nn::classifier::{init_classifier, Classifier, ClassifierConfig};
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::basic::softmax_cross_entropy;
use stylegan_wgpu::reference::classifier::classifier;
use stylegan_wgpu::reference::Arr;

fn cfg() -> ClassifierConfig {
    ClassifierConfig {
        side: 16,
        channels: [16, 16, 32],
        features: 8,
        classes: 4,
    }
}

#[test]
fn forward_and_every_parameter_gradient_match_the_reference() {
    let g = gpu();
    let cfg = cfg();
    let host = init_classifier(&cfg, 3);
    let mut params: BTreeMap<String, Arr> = host
        .iter()
        .map(|(n, t)| (n.clone(), Arr::from_f32(&t.shape, &t.data)))
        .collect();
    // Non-zero biases, so the bias gradients are checked away from the init.
    let mut rn = rng(11);
    for (n, a) in params.iter_mut() {
        if n.ends_with("bias") {
            *a = randn(&mut rn, &a.shape).map(|v| 0.1 * v);
        }
    }
    let host: stylegan_wgpu::nn::HostWeights = params
        .iter()
        .map(|(n, a)| {
            let t = stylegan_wgpu::nn::HostTensor {
                shape: a.shape.clone(),
                data: a.to_f32(),
            };
            (n.clone(), t)
        })
        .collect();
    let net = Classifier::from_tensors(&g, &cfg, &host, "test").unwrap();
    let n = 3;
    let x = uniform(&mut rn, &[n, 1, 16, 16], -1.0, 1.0);
    let labels = [0usize, 3, 1];
    let mut t = Arr::zeros(&[n, 4]);
    for (i, &l) in labels.iter().enumerate() {
        t.data[i * 4 + l] = 1.0;
    }

    let out = net.forward(&Var::constant(upload(&g, &x))).unwrap();
    let (f_ref, l_ref) = classifier(&cfg, &params, &x);
    assert_close("features", &download(&out.features), &f_ref, 1e-4);
    assert_close("logits", &download(&out.logits), &l_ref, 1e-4);

    let tv = ops::one_hot(&g, &labels, 4).unwrap();
    let loss = ops::mean(&ops::softmax_cross_entropy(&out.logits, &tv).unwrap()).unwrap();
    let vars: Vec<Var> = net.params().iter().map(|(_, v)| v.clone()).collect();
    let grads = grad_scalar(&loss, &vars, false).unwrap();

    let ref_loss = |p: &BTreeMap<String, Arr>| -> f64 {
        let (_, l) = classifier(&cfg, p, &x);
        softmax_cross_entropy(&l, &t).data.iter().sum::<f64>() / n as f64
    };
    let eps = 1e-5;
    for ((name, _), gv) in net.params().iter().zip(&grads) {
        let gv = download(
            gv.as_ref()
                .unwrap_or_else(|| panic!("no gradient for {name}")),
        );
        let u = randn(&mut rn, &gv.shape);
        let (mut plus, mut minus) = (params.clone(), params.clone());
        let shift = |p: &mut BTreeMap<String, Arr>, s: f64| {
            let a = p.get_mut(name).unwrap();
            for (v, d) in a.data.iter_mut().zip(&u.data) {
                *v += s * d;
            }
        };
        shift(&mut plus, eps);
        shift(&mut minus, -eps);
        let fd = (ref_loss(&plus) - ref_loss(&minus)) / (2.0 * eps);
        let got = gv.dot(&u);
        let rel = (got - fd).abs() / fd.abs().max(1e-3);
        eprintln!("d loss / d {name:<14} along u: gpu {got:+.6e}  fd {fd:+.6e}  rel {rel:.2e}");
        assert!(rel < 1e-4, "{name}: gpu {got} vs fd {fd}");
    }
}

#[test]
fn a_missing_or_misshapen_tensor_is_named() {
    let g = gpu();
    let cfg = cfg();
    let mut w = init_classifier(&cfg, 0);
    w.remove("conv2.bias");
    let e = Classifier::from_tensors(&g, &cfg, &w, "c.safetensors")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("c.safetensors") && e.contains("conv2.bias"),
        "{e}"
    );
    let mut w = init_classifier(&cfg, 0);
    w.get_mut("fc1.weight").unwrap().shape = vec![1, 2];
    let e = Classifier::from_tensors(&g, &cfg, &w, "c.safetensors")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("fc1.weight") && e.contains("[1, 2]"), "{e}");
    let net = Classifier::from_tensors(&g, &cfg, &init_classifier(&cfg, 0), "c").unwrap();
    let x = Var::constant(stylegan_wgpu::Tensor::zeros(&g, &[1, 3, 16, 16]).unwrap());
    let e = net.forward(&x).err().unwrap().to_string();
    assert!(e.contains("grayscale"), "{e}");
}
