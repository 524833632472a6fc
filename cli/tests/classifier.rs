//! `stylegan train-classifier` run as the real binary: snapshots, resume, metadata, and the
//! errors for bad data. The network itself is checked against the reference in the library's
//! tests/classifier.rs.

mod common;

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
        let o = common::process::stylegan_command()
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
    let bad = common::process::stylegan_command()
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
    let o = common::process::stylegan_command()
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
        common::process::stylegan_command()
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
        common::process::stylegan_command()
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
    let o = common::process::stylegan_command()
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
    let o = common::process::stylegan_command()
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
