//! `stylegan bench --smoke` runs every suite with tiny shapes and one call per timed run, and
//! its JSON report has the documented layout (benches/README.md): fields present, positive
//! finite numbers, a named adapter.

use serde_json::Value;
use stylegan_wgpu::ops::conv::{ConvKernel, WgradKernel};
use stylegan_wgpu::ops::dense::MatmulKernel;

/// The report layout version `benches/README.md` documents.
const SCHEMA_VERSION: u64 = 1;

fn positive(r: &Value, key: &str) -> f64 {
    let v = r[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {r}"));
    assert!(v.is_finite() && v > 0.0, "{key} = {v} in {r}");
    v
}

fn check_report(json: &Value, suite: &str, suites: &[&str]) {
    assert_eq!(json["schema"], "stylegan-wgpu-bench");
    assert_eq!(json["schema_version"].as_u64(), Some(SCHEMA_VERSION));
    assert_eq!(json["suite"], suite);
    for key in ["adapter", "backend", "device_type", "version"] {
        assert!(
            !json[key].as_str().unwrap_or("").is_empty(),
            "{key} empty in report"
        );
    }
    assert!(json["driver"].is_string());
    assert!(json["timestamp_queries"].is_boolean());
    assert!(json["created_unix_s"].as_u64().unwrap_or(0) > 0);
    assert_eq!(
        json["skipped"].as_array().map(|s| s.len()),
        Some(0),
        "skipped: {}",
        json["skipped"]
    );
    let results = json["results"].as_array().expect("results array");
    for s in suites {
        assert!(results.iter().any(|r| r["suite"] == *s), "no {s} results");
    }
    for r in results {
        for key in ["suite", "name", "shape"] {
            assert!(
                !r[key].as_str().unwrap_or("").is_empty(),
                "{key} empty in {r}"
            );
        }
        assert!(r["timer"] == "gpu" || r["timer"] == "wall", "timer in {r}");
        let (ms, lo, hi) = (
            positive(r, "ms"),
            positive(r, "ms_min"),
            positive(r, "ms_max"),
        );
        assert!(lo <= ms && ms <= hi, "min <= median <= max in {r}");
        positive(r, "wall_ms");
        assert_eq!(r["runs"].as_u64(), Some(2));
        assert_eq!(r["reps"].as_u64(), Some(1));
        positive(r, "peak_bytes");
        match r["suite"].as_str().unwrap() {
            "kernels" => {
                assert!(
                    r["gflops"]
                        .as_f64()
                        .or(r["gbps"].as_f64())
                        .is_some_and(|v| v > 0.0 && v.is_finite()),
                    "{r}"
                );
                // Every conv and matmul case names the kernel that ran, from its family's table.
                let name = r["name"].as_str().unwrap();
                let k = r["kernel"].as_str().unwrap_or("");
                let known = if name.contains("wgrad") {
                    WgradKernel::ALL.iter().any(|kernel| kernel.name() == k)
                } else if name.starts_with("conv") {
                    ConvKernel::ALL.iter().any(|kernel| kernel.name() == k)
                } else if name.starts_with("dense") {
                    MatmulKernel::ALL.iter().any(|kernel| kernel.name() == k)
                } else {
                    true
                };
                assert!(known, "{name} case without a kernel of its table: {r}");
            }
            other => {
                positive(r, "images_per_s");
                positive(r, "ms_per_image");
                assert!(r["batch"].as_u64().unwrap_or(0) > 0);
                // Whole-network cases count one call's dispatches and intermediate bytes.
                if other == "generate" || other == "train" {
                    positive(r, "dispatches");
                    positive(r, "dispatches_per_image");
                    positive(r, "intermediate_bytes_per_image");
                }
            }
        }
    }
}

/// Runs `stylegan bench <suite> --smoke --runs 2 --json FILE` and returns the report and
/// the printed lines.
fn bench(suite: &str) -> (Value, String) {
    let dir = std::env::temp_dir().join(format!(
        "stylegan-bench-test-{}-{suite}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .env("STYLEGAN_TUNE", "off")
        .args(["bench", suite, "--smoke", "--runs", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "stylegan bench {suite} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (report, stdout)
}

#[test]
fn all_suites_smoke_report() {
    let (json, stdout) = bench("all");
    print!("{stdout}");
    assert!(stdout.starts_with("adapter: "), "{stdout}");
    check_report(
        &json,
        "all",
        &["kernels", "generate", "train", "startup", "inception"],
    );
    let names: Vec<&str> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    // One printed line per result.
    for name in &names {
        assert!(stdout.contains(name), "{name} not printed");
    }
    for want in [
        "conv3x3",
        "conv3x3 direct",
        "conv_up2_fused",
        "conv_down2_fused",
        "dense matmul",
        "adain",
        "epilogue",
        "generator",
        "train step",
        "generate 1 image, cold",
        "generate 1 image, warm",
        "inception features",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

#[test]
fn each_suite_alone_reports_only_itself() {
    for suite in ["kernels", "generate", "train", "inception"] {
        let (json, _) = bench(suite);
        check_report(&json, suite, &[suite]);
        let results = json["results"].as_array().unwrap();
        assert!(
            results.iter().all(|r| r["suite"] == suite),
            "{suite}: {json}"
        );
    }
}
