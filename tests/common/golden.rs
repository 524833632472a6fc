//! A short training run and a metrics line recorded with the binary (tests/fixtures/golden; first
//! recorded before the library took over the training loop and the metric runner, re-recorded
//! untuned (`STYLEGAN_TUNE=off`) when issue 27's kernels changed the rounding of the weight
//! gradient, the matmul and the 1x1 convs, and again when 8-channel convs moved to the subgroup
//! kernel, CPU adapters took sequential row sums from 8 rows and AdaIN one invocation per
//! plane there (whatever the batch); the script is
//! `benches/golden/record.sh`), written by
//! `stylegan train --data DATA --outdir run --preset tiny --fmap-base 16 --fmap-max 8
//! --latent-size 8 --mapping-layers 1 --batch 4 --kimg 0.016 --snapshot-kimg 0.008 --metrics
//! fid16,kid16,ppl_wend16 --features fmnist` and `stylegan metrics --model
//! run/network-snapshot-000000_016.safetensors --data DATA --metrics fid16,kid16,ppl_wend16
//! --features fmnist --cache-dir off --json metrics-command.jsonl` on lavapipe). The library
//! run (tests/train_run.rs) and the command line (cli/tests/golden.rs) must give the same
//! weights, log and metric values: bit for bit on lavapipe (llvmpipe), where they were
//! recorded. Training from the official initialization amplifies rounding, so another adapter
//! cannot match; there only the structure is compared, and the test says so.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stylegan_wgpu::io::safetensors::load;

/// The recorded files.
pub fn dir() -> PathBuf {
    super::fixture("golden")
}

/// The training data: 16 grayscale 32x32 PNGs of stripes, `img00.png`...
pub fn write_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..16u32 {
        let img = image::GrayImage::from_fn(32, 32, |x, y| {
            image::Luma([(((x * (i % 4 + 1) + y * (i / 4 + 1)) * 7 + i * 13) % 256) as u8])
        });
        img.save(dir.join(format!("img{i:02}.png"))).unwrap();
    }
}

/// Whether results must equal the recording bit for bit (the adapter it was made on).
pub fn exact(gpu: &stylegan_wgpu::Gpu) -> bool {
    gpu.describe().contains("llvmpipe")
}

/// JSON lines without the fields that measure time or name paths.
pub fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for k in [
                "time",
                "sec_per_kimg",
                "timestamp",
                "total_time",
                "total_time_str",
                "model",
            ] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        })
        .collect()
}

/// `got` without the keys its recorded line lacks: fields added to the lines after the
/// recording (issue 29: `num_gpus`, and `snapshot_pkl` in `stylegan metrics`' lines) are not
/// part of it; every recorded field is still compared.
pub fn recorded_keys_only(mut got: Value, want: &Value) -> Value {
    if let (Some(g), Some(w)) = (got.as_object_mut(), want.as_object()) {
        g.retain(|k, _| w.contains_key(k));
    }
    got
}

/// Compares a run in `got` (an outdir) with the recording: the last snapshot's every tensor
/// and metadata, `log.jsonl` and the three `metric-*.jsonl`.
pub fn compare_run(got: &Path, exact: bool) {
    let want_dir = dir();
    let snap = "network-snapshot-000000_016.safetensors";
    let (want, have) = (
        load(&want_dir.join(snap)).unwrap(),
        load(&got.join(snap)).unwrap(),
    );
    assert_eq!(want.config, have.config, "config");
    assert_eq!(
        want.nets.keys().collect::<Vec<_>>(),
        have.nets.keys().collect::<Vec<_>>(),
        "networks"
    );
    let mut tensors = 0;
    for (net, w) in &want.nets {
        for (name, t) in w {
            let h = &have.nets[net][name];
            assert_eq!(t.shape, h.shape, "{net}/{name}");
            if exact {
                assert!(t.data == h.data, "{net}/{name} differs from the recording");
            }
            tensors += 1;
        }
    }
    let mut files = vec!["log.jsonl".to_string()];
    files.extend(["fid16", "kid16", "ppl_wend16"].map(|m| format!("metric-{m}.jsonl")));
    for f in &files {
        let w = lines(&want_dir.join(f));
        let h: Vec<Value> = lines(&got.join(f))
            .into_iter()
            .zip(&w)
            .map(|(h, w)| recorded_keys_only(h, w))
            .collect();
        assert_eq!(w.len(), h.len(), "{f}: lines");
        if exact {
            assert_eq!(w, h, "{f} differs from the recording");
        }
    }
    if exact {
        assert_eq!(want.metadata, have.metadata, "snapshot metadata");
        eprintln!(
            "golden run: {tensors} tensors, metadata, log and metric lines equal the recording"
        );
    } else {
        eprintln!(
            "golden run: not on llvmpipe, so only the structure was compared ({tensors} tensors, \
             {} files)",
            files.len()
        );
    }
}
