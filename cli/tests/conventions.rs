//! What a StyleGAN user expects from the binary (issue 29): `--resume` takes a run directory,
//! metrics of the generator alone need no dataset, `devices` lists the GL adapters too,
//! `project.json` keeps the losses along the way and the final message names every file, and
//! counts read right for one. Needs a GPU adapter (lavapipe will do).

mod common;
use common::process::{ok, output, png_dataset, TINY_NET};
use common::tempdir::TempDir;

#[test]
fn resume_takes_the_run_directory() {
    let dir = TempDir::new("conv-resume");
    png_dataset(&dir.path("data"), 8);
    let tiny = [
        &["--data", "data", "--outdir", "run"],
        TINY_NET,
        &["--batch", "4"],
    ]
    .concat();
    let first = [
        &["train"],
        &tiny[..],
        &["--kimg", "0.008", "--snapshot-kimg", "0.004"],
    ]
    .concat();
    ok(&dir.0, &first);
    for s in ["000000_004", "000000_008"] {
        assert!(dir
            .path(&format!("run/network-snapshot-{s}.safetensors"))
            .is_file());
    }
    let again = [
        &["train", "--resume", "run"],
        &tiny[..],
        &["--kimg", "0.012", "--snapshot-kimg", "0.004"],
    ]
    .concat();
    let o = ok(&dir.0, &again);
    assert!(
        o.stderr
            .contains("its latest snapshot is run/network-snapshot-000000_008.safetensors"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("resumed at"), "{}", o.stderr);
    assert!(dir
        .path("run/network-snapshot-000000_012.safetensors")
        .is_file());
    let o = output(
        &dir.0,
        &[
            "train", "--resume", "data", "--data", "data", "--outdir", "x",
        ],
    );
    assert!(
        !o.ok && o.stderr.contains("without network-snapshot"),
        "{}",
        o.stderr
    );
}

#[test]
fn generator_metrics_need_no_dataset() {
    let dir = TempDir::new("conv-metrics");
    let o = ok(&dir.0, &["metrics", "--metrics", "ppl_wend100"]);
    assert!(o.stdout.contains("ppl_wend100: "), "{}", o.stdout);
    // The default metric-<name>.jsonl beside the model cannot be written (a folder has the
    // name): a warning, and the metrics go on.
    ok(
        &dir.0,
        &["init", "--preset", "fmnist", "--out", "m.safetensors"],
    );
    std::fs::create_dir_all(dir.path("metric-ppl_wend50.jsonl")).unwrap();
    let o = ok(
        &dir.0,
        &[
            "metrics",
            "--model",
            "m.safetensors",
            "--metrics",
            "ppl_wend50,ppl_zend50",
        ],
    );
    assert!(
        o.stderr.contains("warning:") && o.stderr.contains("metric-ppl_wend50.jsonl"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.contains("ppl_zend50: "), "{}", o.stdout);
    assert!(dir.path("metric-ppl_zend50.jsonl").is_file());
    let o = output(&dir.0, &["metrics", "--metrics", "ppl_wend100,fid100"]);
    assert!(!o.ok, "fid100 without --data must fail");
    assert!(
        o.stderr
            .contains("fid100 compares generated images with real ones: give the dataset (--data)"),
        "{}",
        o.stderr
    );
}

#[test]
fn devices_lists_every_adapter_that_runs() {
    let dir = TempDir::new("conv-devices");
    let gl = ok(&dir.0, &["devices", "--backend", "gl", "--json"]).stdout;
    let gl: serde_json::Value = serde_json::from_str(&gl).unwrap();
    let all = ok(&dir.0, &["devices", "--json"]).stdout;
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    let names = |v: &serde_json::Value, backend: &str| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["backend"] == backend)
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Whatever GL adapters this machine has are in the plain listing too.
    assert_eq!(names(&all, "Gl"), names(&gl, "Gl"));
    let table = ok(&dir.0, &["devices"]).stdout;
    if !names(&gl, "Gl").is_empty() {
        assert!(table.contains("with --backend gl"), "{table}");
    }
}

#[test]
fn outputs_are_named_and_counted_right() {
    let dir = TempDir::new("conv-project");
    let o = ok(&dir.0, &["generate", "--seeds", "5", "--outdir", "t"]);
    assert!(o.stdout.contains("wrote 1 image to t"), "{}", o.stdout);
    let o = ok(
        &dir.0,
        &[
            "project",
            "--target",
            "t/seed0005.png",
            "--outdir",
            "p",
            "--steps",
            "20",
        ],
    );
    assert!(
        o.stdout.contains(
            "wrote target.png, proj.png, projected_w.npy, projected_w.npz, \
             projected_noise.safetensors, project.json to p"
        ),
        "{}",
        o.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("p/project.json")).unwrap())
            .unwrap();
    let steps: Vec<u64> = json["losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [10, 20], "{json}");
    // NVIDIA's projected_w.npz holds the same w as our .npy.
    let npz = stylegan_wgpu::io::npz::read_npz(dir.path("p/projected_w.npz")).unwrap();
    let npy = stylegan_wgpu::io::npy::read_npy(dir.path("p/projected_w.npy")).unwrap();
    let w = npz.get("w").unwrap().to_f32();
    assert_eq!((w.shape, w.data), (npy.shape, npy.data));
    assert_eq!(json["losses"][1]["dist"], json["dist"]);
}
