//! `stylegan train` and `stylegan metrics` give what the binary gave before the library took
//! over the training loop and the metric runner: the recorded run of tests/fixtures/golden
//! (see tests/common/golden.rs), bit for bit on lavapipe.

mod common;
use common::golden;
use common::process::stylegan;
use common::tempdir::TempDir;

#[test]
fn train_and_metrics_commands_equal_the_recording() {
    let exact = golden::exact(&common::gpu());
    let dir = TempDir::new("golden");
    golden::write_data(&dir.path("data"));
    let args = [
        &["train", "--data", "data", "--outdir", "run"],
        common::process::TINY_NET,
        &[
            "--batch",
            "4",
            "--kimg",
            "0.016",
            "--snapshot-kimg",
            "0.008",
            "--metrics",
            "fid16,kid16,ppl_wend16",
            "--features",
            "fmnist",
        ],
    ]
    .concat();
    stylegan(&dir.0, &args);
    golden::compare_run(&dir.path("run"), exact);

    let snap = golden::dir().join("network-snapshot-000000_016.safetensors");
    let out = stylegan(
        &dir.0,
        &[
            "metrics",
            "--model",
            snap.to_str().unwrap(),
            "--data",
            "data",
            "--metrics",
            "fid16,kid16,ppl_wend16",
            "--features",
            "fmnist",
            "--cache-dir",
            "off",
            "--json",
            "m.jsonl",
        ],
    );
    assert!(out.contains("fid16: "), "{out}");
    let want = golden::lines(&golden::dir().join("metrics-command.jsonl"));
    let got: Vec<_> = golden::lines(&dir.path("m.jsonl"))
        .into_iter()
        .zip(&want)
        .map(|(g, w)| golden::recorded_keys_only(g, w))
        .collect();
    assert_eq!(want.len(), got.len());
    if exact {
        assert_eq!(want, got, "stylegan metrics differs from the recording");
    }
}
