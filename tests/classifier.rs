//! The evaluation classifier (`eval::classifier`) as a whole network: features and logits on the
//! GPU vs the f64 reference, and the gradient of the mean cross-entropy with respect to every
//! parameter tensor vs central finite differences of the reference along a random direction.
//! Widths 16/16/32 so the convs run on the subgroup kernels where the adapter has them.

mod common;
use common::*;

use std::collections::BTreeMap;
use stylegan_wgpu::autodiff::grad_scalar;
use stylegan_wgpu::eval::classifier::{
    init_classifier, Classifier, ClassifierConfig, DropoutMasks,
};
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::classifier::{classifier, classifier_dropout};
use stylegan_wgpu::reference::softmax::softmax_cross_entropy;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;
use stylegan_wgpu::train::classifier::dropout_mask;

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
    check_against_reference(false);
}

/// Training's dropout masks (`DropoutMasks`, drawn by `dropout_mask`) in the forward pass and
/// the gradient, against the reference with the same masks.
#[test]
fn dropout_forward_and_gradients_match_the_reference() {
    check_against_reference(true);
}

fn check_against_reference(dropout: bool) {
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

    let (flat_mask, feature_mask) = if dropout {
        let mut r = stylegan_wgpu::rng::seeded(5);
        let mut draw = |shape: &[usize], p: f32| {
            let m = dropout_mask(&mut r, shape.iter().product(), p);
            assert!(m.iter().all(|&v| v == 0.0 || v == 1.0 / (1.0 - p)));
            assert!(m.contains(&0.0) && m.iter().any(|&v| v > 0.0));
            Arr::from_f32(shape, &m)
        };
        (Some(draw(&[n, 32, 2, 2], 0.25)), Some(draw(&[n, 8], 0.5)))
    } else {
        (None, None)
    };
    let masks = DropoutMasks {
        flat: flat_mask.as_ref().map(|m| Var::constant(upload(&g, m))),
        features: feature_mask.as_ref().map(|m| Var::constant(upload(&g, m))),
    };
    let out = net
        .forward_dropout(&Var::constant(upload(&g, &x)), &masks)
        .unwrap();
    let reference = |p: &BTreeMap<String, Arr>| {
        classifier_dropout(&cfg, p, &x, flat_mask.as_ref(), feature_mask.as_ref())
    };
    let (f_ref, l_ref) = reference(&params);
    assert_close("features", &download(&out.features), &f_ref, 1e-4);
    assert_close("logits", &download(&out.logits), &l_ref, 1e-4);

    let tv = ops::one_hot(&g, &labels, 4).unwrap();
    let loss = ops::mean(&ops::softmax_cross_entropy(&out.logits, &tv).unwrap()).unwrap();
    let vars: Vec<Var> = net.params().iter().map(|(_, v)| v.clone()).collect();
    let grads = grad_scalar(&loss, &vars, false).unwrap();

    let ref_loss = |p: &BTreeMap<String, Arr>| -> f64 {
        let (_, l) = reference(p);
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

#[test]
fn image_features_preprocess_like_the_reference() {
    // 8-bit RGB images of 8x8 are averaged to gray, resized to the 16x16 input, scaled to
    // [-1, 1]: the same as the reference fed that input, and batch independent.
    use stylegan_wgpu::metrics::features::FeatureNet;
    use stylegan_wgpu::reference::resize::resize_bilinear;
    let g = gpu();
    let cfg = cfg();
    let host = init_classifier(&cfg, 5);
    let net = Classifier::from_tensors(&g, &cfg, &host, "test").unwrap();
    let mut rn = rng(9);
    let bytes: Vec<u8> = uniform(&mut rn, &[2 * 3 * 64], 0.0, 255.0)
        .data
        .iter()
        .map(|v| *v as u8)
        .collect();
    let got = net.features(&bytes, 2, 3, 8, 8).unwrap();
    assert_eq!(got.len(), 2 * net.dim());
    let gray: Vec<f64> = bytes
        .chunks(3 * 64)
        .flat_map(|img| {
            (0..64).map(move |i| (0..3).map(|c| img[c * 64 + i] as f64).sum::<f64>() / 3.0)
        })
        .collect();
    let x = resize_bilinear(&Arr::new(&[2, 1, 8, 8], gray), 16, 16).map(|v| v / 127.5 - 1.0);
    let params: BTreeMap<String, Arr> = host
        .iter()
        .map(|(n, t)| (n.clone(), Arr::from_f32(&t.shape, &t.data)))
        .collect();
    let (want, _) = classifier(&cfg, &params, &x);
    assert_close(
        "classifier image features",
        &Arr::from_f32(&[2, 8], &got),
        &want,
        1e-4,
    );
    let one = net.features(&bytes[192..], 1, 3, 8, 8).unwrap();
    assert_eq!(one, got[8..].to_vec(), "image 1 alone vs in a batch of 2");
}
