//! `stylegan train --init-from MODEL`: fine-tuning from a model's networks, with this run's
//! settings and a fresh optimizer (the library's `Start::FineTune`, tested bit for bit in
//! tests/train_run.rs); here the flag's wiring and refusals. Needs a GPU adapter (lavapipe).

mod common;
use common::process::{fails, ok, output, write_images};
use common::tempdir::TempDir;

#[test]
fn init_from_fine_tunes_a_model_and_refuses_what_does_not_fit() {
    let dir = TempDir::new("fine-tune-cli");
    ok(
        &dir.0,
        &["init", "--preset", "tiny", "--out", "m.safetensors"],
    );
    write_images(&dir.path("rgb"), 8, 3, 32, 1);
    let o = ok(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb",
            "--outdir",
            "run",
            "--init-from",
            "m.safetensors",
            "--batch",
            "4",
            "--kimg",
            "0.008",
        ],
    );
    assert!(
        o.stderr
            .contains("fine-tuning --init-from m.safetensors: its G, D and Gs"),
        "{}",
        o.stderr
    );
    assert!(dir
        .path("run/network-snapshot-000000_008.safetensors")
        .is_file());
    // With the first D block frozen (stylegan2-ada's --freezed), as fine-tuning often is.
    ok(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb",
            "--outdir",
            "frozen",
            "--init-from",
            "m.safetensors",
            "--batch",
            "4",
            "--kimg",
            "0.004",
            "--freeze-d",
            "1",
        ],
    );
    fails(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb",
            "--outdir",
            "f4",
            "--init-from",
            "m.safetensors",
            "--freeze-d",
            "4",
        ],
        &["--freeze-d 4", "3 block(s) above 4x4"],
    );

    // Labelled data and an unconditional model: the model decides, and the run says so.
    let labels: Vec<String> = (0..8)
        .map(|i| format!("[\"{i:03}.png\", {}]", i % 2))
        .collect();
    std::fs::write(
        dir.path("rgb/dataset.json"),
        format!("{{\"labels\": [{}]}}", labels.join(", ")),
    )
    .unwrap();
    let o = ok(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb",
            "--outdir",
            "run2",
            "--init-from",
            "m.safetensors",
            "--batch",
            "4",
            "--kimg",
            "0.004",
        ],
    );
    assert!(
        o.stderr
            .contains("the model is unconditional: training is unconditional"),
        "{}",
        o.stderr
    );

    // The network is the model's: architecture flags are refused by name.
    fails(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb",
            "--outdir",
            "x",
            "--init-from",
            "m.safetensors",
            "--preset",
            "tiny",
            "--fmap-max",
            "8",
        ],
        &["--init-from m.safetensors", "drop --preset, --fmap-max"],
    );
    // Data of another size: what would fit is named.
    write_images(&dir.path("gray28"), 4, 1, 28, 2);
    fails(
        &dir.0,
        &[
            "train",
            "--data",
            "gray28",
            "--transform",
            "pad",
            "--outdir",
            "y",
            "--init-from",
            "m.safetensors",
        ],
        &["3 channel(s)", "--channels 3"],
    );
    write_images(&dir.path("rgb64"), 4, 3, 64, 3);
    fails(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb64",
            "--outdir",
            "z",
            "--init-from",
            "m.safetensors",
        ],
        &["32x32", "64x64", "--resize 32"],
    );
    // Fine-tuning and resuming are two different starts.
    let o = output(
        &dir.0,
        &[
            "train",
            "--data",
            "rgb",
            "--outdir",
            "w",
            "--init-from",
            "m.safetensors",
            "--resume",
            "run",
        ],
    );
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("--init-from") && o.stderr.contains("--resume"),
        "{}",
        o.stderr
    );
}

/// `--init-from` an official pickle (written in the official `(G, D, Gs)` layout): a
/// class-conditional one fine-tunes conditionally on data with one subfolder per class, keeping
/// its label size, and starts from the pickle's weights.
#[test]
fn init_from_an_official_conditional_pickle() {
    let dir = TempDir::new("fine-tune-pkl");
    let (_, g) = common::write_conditional_pickle(&dir.path("official.pkl"));
    for (i, class) in ["bag", "coat", "shoe"].iter().enumerate() {
        write_images(&dir.path(&format!("data/{class}")), 4, 3, 8, i as u64);
    }
    let o = ok(
        &dir.0,
        &[
            "train",
            "--data",
            "data",
            "--outdir",
            "run",
            "--init-from",
            "official.pkl",
            "--batch",
            "4",
            "--kimg",
            "0.004",
        ],
    );
    assert!(
        o.stderr
            .contains("fine-tuning --init-from official.pkl: its G, D and Gs"),
        "{}",
        o.stderr
    );
    let snap = stylegan_wgpu::io::safetensors::load(
        &dir.path("run/network-snapshot-000000_004.safetensors"),
    )
    .unwrap();
    assert_eq!(snap.config.label_size, 3);
    // One step from the pickle's weights: the label embedding moved, but only a little.
    let before = &g["G_mapping/LabelConcat/weight"].data;
    let after = &snap.nets["G"]["G_mapping/LabelConcat/weight"].data;
    let moved = before
        .iter()
        .zip(after)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(moved > 0.0 && moved < 0.1, "LabelConcat moved by {moved}");
}
