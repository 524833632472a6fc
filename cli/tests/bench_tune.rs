//! `stylegan bench tune`: measures every conv shape of a training step and a generator pass
//! (whatever `STYLEGAN_TUNE` says: the harness sets `off`), prints the table, writes the tuning
//! table into `STYLEGAN_TUNE_DIR` and a bench report whose tune records have the documented
//! layout (benches/README.md): per shape one record per candidate, exactly one `tuned` and one
//! `fixed_order`, and the `tuning pass`.

mod common;
use common::tempdir::TempDir;

use std::collections::BTreeMap;

use serde_json::Value;
use stylegan_wgpu::ops::conv::{ConvKernel, WgradKernel};
use stylegan_wgpu::ops::dense::MatmulKernel;

#[test]
fn bench_tune_reports_and_writes_the_table() {
    let dir = TempDir::new("bench-tune");
    let json = dir.path("tune.json");
    let out = common::process::stylegan_command()
        .env("STYLEGAN_TUNE_DIR", &dir.0)
        .args(["bench", "tune", "--preset", "tiny", "--resolution", "8"])
        .args(["--batch", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "stylegan-wgpu-bench");
    assert_eq!(report["suite"], "tune");
    let results = report["results"].as_array().unwrap();
    let mut shapes: BTreeMap<(String, String), (usize, usize, usize)> = BTreeMap::new();
    let mut pass = 0;
    for r in results {
        assert_eq!(r["suite"], "tune", "{r}");
        let ms = r["ms"].as_f64().unwrap();
        assert!(ms > 0.0 && ms.is_finite(), "{r}");
        assert!(r["ms_min"].as_f64().unwrap() <= ms && ms <= r["ms_max"].as_f64().unwrap());
        if r["name"] == "tuning pass" {
            pass += 1;
            assert_eq!(r["batch"].as_u64(), Some(2));
            continue;
        }
        assert_eq!(r["timer"], "wall");
        // Every candidate is a kernel of its family's table.
        let k = r["kernel"].as_str().unwrap();
        let known = match r["name"].as_str().unwrap() {
            "conv" => ConvKernel::ALL.iter().any(|c| c.name() == k),
            "conv_wgrad" => WgradKernel::ALL.iter().any(|c| c.name() == k),
            "matmul" => MatmulKernel::ALL.iter().any(|c| c.name() == k),
            other => panic!("unknown kernel family {other}: {r}"),
        };
        assert!(known, "{r}");
        let e = shapes
            .entry((
                r["name"].as_str().unwrap().to_string(),
                r["shape"].as_str().unwrap().to_string(),
            ))
            .or_default();
        e.0 += 1;
        e.1 += r["tuned"].as_bool().unwrap() as usize;
        e.2 += r["fixed_order"].as_bool().unwrap() as usize;
    }
    assert_eq!(pass, 1);
    assert!(shapes.len() >= 3, "{shapes:?}");
    for ((family, shape), (n, tuned, fixed)) in &shapes {
        assert!(*n >= 2, "{family} {shape}: one candidate is not tuned");
        assert_eq!((*tuned, *fixed), (1, 1), "{family} {shape}");
        assert!(
            stdout.contains(shape.as_str()),
            "{family} {shape} not printed"
        );
    }
    assert!(stdout.contains(&format!(
        "{} shapes ({} measured now)",
        shapes.len(),
        shapes.len()
    )));
    // The table file: one entry per shape, chosen as reported.
    let tables: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tune-")
        })
        .collect();
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert!(stdout.contains(&tables[0].display().to_string()));
    let table: Value = serde_json::from_str(&std::fs::read_to_string(&tables[0]).unwrap()).unwrap();
    assert_eq!(table["schema"], "stylegan-wgpu-tune");
    let entries = table["entries"].as_array().unwrap();
    assert_eq!(entries.len(), shapes.len());
    for e in entries {
        let shape = e["shape"].as_str().unwrap();
        let chosen = results
            .iter()
            .find(|r| r["name"] == e["family"] && r["shape"] == shape && r["tuned"] == true)
            .unwrap();
        assert_eq!(e["chosen"], chosen["kernel"], "{shape}");
    }
}
