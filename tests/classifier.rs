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
use stylegan_wgpu::reference::basic::softmax_cross_entropy;
use stylegan_wgpu::reference::classifier::{classifier, classifier_dropout};
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

/// Writes an IDX3 image file of `n` 28x28 images and its IDX1 labels: class `i % 10`, each
/// class a bright bar at its own row so a few steps can learn it.
fn write_idx(dir: &std::path::Path, prefix: &str, n: usize) {
    let mut img = vec![0u8, 0, 8, 3];
    img.extend((n as u32).to_be_bytes());
    img.extend(28u32.to_be_bytes());
    img.extend(28u32.to_be_bytes());
    let mut lab = vec![0u8, 0, 8, 1];
    lab.extend((n as u32).to_be_bytes());
    for i in 0..n {
        let c = i % 10;
        for y in 0..28 {
            for x in 0..28 {
                let bar = y / 2 == c + 2;
                img.push(if bar {
                    200 + (x % 7) as u8
                } else {
                    ((x * y + i) % 13) as u8
                });
            }
        }
        lab.push(c as u8);
    }
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), img).unwrap();
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), lab).unwrap();
}

#[test]
fn train_classifier_command_writes_snapshots_and_resumes() {
    let dir = std::env::temp_dir().join(format!("stylegan-cls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_idx(&dir, "train", 40);
    write_idx(&dir, "t10k", 20);
    let out = dir.join("c.safetensors");
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
            .args(["train-classifier", "--data"])
            .arg(&dir)
            .arg("--out")
            .arg(&out)
            .args(["--batch", "8"])
            .args(extra)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        text
    };
    let first = run(&["--epochs", "2"]);
    eprintln!("{first}");
    assert!(
        first.contains("epoch 1:") && first.contains("epoch 2:"),
        "{first}"
    );
    assert!(first.contains("confusion matrix"), "{first}");
    let again = run(&["--epochs", "3", "--resume"]);
    eprintln!("{again}");
    assert!(
        !again.contains("epoch 2:") && again.contains("epoch 3:"),
        "{again}"
    );
    let bytes = std::fs::read(&out).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["epoch"], "3");
    let acc: f64 = meta["test_accuracy"].parse().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(meta["lr"], "0.01");
    assert_eq!(meta["dropout"], r#"{"flat":0.25,"features":0.5}"#);
    // A per-epoch plan continues at its 4th rate.
    let planned = run(&["--lr-plan", "0.01,0.01,0.001,0.0005", "--resume"]);
    assert!(
        planned.contains("epoch 4:") && !planned.contains("epoch 3:"),
        "{planned}"
    );
    let bytes = std::fs::read(&out).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(
        (meta["epoch"].as_str(), meta["lr"].as_str()),
        ("4", "0.0005")
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .args(["train-classifier", "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("bad.safetensors"))
        .args(["--dropout-features", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("--dropout-features"),
        "{err}"
    );
    // FID and KID on the classifier's features (`--classifier` instead of `--inception`).
    let json = dir.join("fid.json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .arg("fid")
        .arg(dir.join("train-images-idx3-ubyte"))
        .arg(dir.join("t10k-images-idx3-ubyte"))
        .arg("--classifier")
        .arg(&out)
        .arg("--kid")
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    eprintln!("fid --classifier: {v}");
    assert!(v["fid"].as_f64().unwrap().is_finite() && v["fid"].as_f64().unwrap() >= 0.0);
    assert!(v["kid"].as_f64().unwrap().is_finite());
    assert_eq!((v["n_a"].as_u64(), v["n_b"].as_u64()), (Some(40), Some(20)));
    // `train --metrics` with the classifier's features: a line per snapshot in the official
    // JSON-lines log; linear separability with Inception is refused before training.
    let run_dir = dir.join("run");
    let train = |metrics: &str, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
            .arg("train")
            .arg("--data")
            .arg(dir.join("train-images-idx3-ubyte"))
            .arg("--outdir")
            .arg(&run_dir)
            .args(["--preset", "tiny", "--batch", "4", "--kimg", "0.008"])
            .args(["--snapshot-kimg", "0.004", "--metrics", metrics])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = train("ls8", &["--inception", "none.pth"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("ls8") && err.contains("--features fmnist"),
        "{err}"
    );
    let o = train("fid8,kid8", &["--classifier", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["fid8", "kid8"] {
        let log = std::fs::read_to_string(run_dir.join(format!("metric-{name}.jsonl"))).unwrap();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        eprintln!("{name}: {log}");
        assert_eq!(lines.len(), 2, "{log}");
        assert!(lines
            .iter()
            .all(|l| l["results"][name].as_f64().unwrap().is_finite()));
        assert_eq!(lines[1]["kimg"].as_f64(), Some(0.008));
    }
    // Perceptual path length of the snapshot on the classifier's features; with Inception
    // alone it is refused (Inception's features are not a path-length distance).
    let snap = run_dir.join("network-snapshot-000000_008.safetensors");
    let metrics = |net: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
            .arg("metrics")
            .arg("--model")
            .arg(&snap)
            .arg("--data")
            .arg(dir.join("train-images-idx3-ubyte"))
            .args(["--metrics", "ppl_wend6,ppl_zfull6", "--batch", "3"])
            .args(net)
            .arg("--json")
            .arg(dir.join("ppl.jsonl"))
            .output()
            .unwrap()
    };
    let o = metrics(&["--classifier", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(dir.join("ppl.jsonl")).unwrap();
    eprintln!("{log}");
    for (line, name) in log.lines().zip(["ppl_wend6", "ppl_zfull6"]) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let p = v["results"][name].as_f64().unwrap();
        assert!(p.is_finite() && p >= 0.0, "{line}");
    }
    let o = metrics(&["--inception", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--classifier") && err.contains("--lpips"),
        "{err}"
    );
    // No network named, 1-channel 32x32 images: the embedded fmnist network, also for FID
    // and linear separability (8 images: 4 kept per class, SVMs on them).
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .arg("metrics")
        .arg("--model")
        .arg(&snap)
        .arg("--data")
        .arg(dir.join("train-images-idx3-ubyte"))
        .args([
            "--metrics",
            "fid8,ls8",
            "--batch",
            "4",
            "--cache-dir",
            "off",
        ])
        .output()
        .unwrap();
    let (out_text, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    eprintln!("{out_text}{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("features: fmnist"), "{err}");
    assert!(err.contains("images per class"), "{err}");
    let ls_line = out_text.lines().find(|l| l.starts_with("ls8:")).unwrap();
    for part in ["z ", "w "] {
        let v: f64 = ls_line
            .split(part)
            .nth(1)
            .and_then(|r| r.split([',', ' ']).next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {part} value in {ls_line}"));
        // exp of a sum of 10 entropies of at most ln 2 each: between 1 and 2^10.
        assert!((1.0..=1024.0).contains(&v), "{ls_line}");
    }
    // Labels that do not match the images are an error naming the file.
    write_idx(&dir, "t10k", 20);
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 5, 1],
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .args(["train-classifier", "--data"])
        .arg(&dir)
        .arg("--out")
        .arg(dir.join("d.safetensors"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("t10k-labels-idx1-ubyte"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn image_features_preprocess_like_the_reference() {
    // 8-bit RGB images of 8x8 are averaged to gray, resized to the 16x16 input, scaled to
    // [-1, 1]: the same as the reference fed that input, and batch independent.
    use stylegan_wgpu::metrics::features::FeatureNet;
    use stylegan_wgpu::reference::pool::resize_bilinear;
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
