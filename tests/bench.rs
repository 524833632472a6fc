//! The benchmark suites run programmatically with tiny shapes and one timed call, and the
//! JSON report has the documented layout (benches/README.md): fields present, positive finite
//! numbers, a named adapter.

mod common;
use common::*;
use serde_json::Value;
use stylegan_wgpu::bench::{run_suite, BenchOptions, Suite, SCHEMA_VERSION};

fn tiny_opts() -> BenchOptions {
    BenchOptions {
        quick: true,
        tiny: true,
        iters: Some(1),
        runs: Some(2),
        warmup: Some(1),
    }
}

fn positive(r: &Value, key: &str) -> f64 {
    let v = r[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {r}"));
    assert!(v.is_finite() && v > 0.0, "{key} = {v} in {r}");
    v
}

fn check_report(json: &Value, suite: &str, suites: &[&str]) {
    assert_eq!(json["schema"], "stylegan-wgpu-bench");
    assert_eq!(json["schema_version"].as_u64(), Some(SCHEMA_VERSION as u64));
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
                // Every conv case names the kernel that ran.
                let name = r["name"].as_str().unwrap();
                if name.starts_with("conv") {
                    let k = r["kernel"].as_str().unwrap_or("");
                    assert!(
                        ["subgroup", "coop-f16", "tiled", "direct"].contains(&k),
                        "conv case without a kernel: {r}"
                    );
                }
            }
            _ => {
                positive(r, "images_per_s");
                positive(r, "ms_per_image");
                assert!(r["batch"].as_u64().unwrap_or(0) > 0);
            }
        }
    }
}

#[test]
fn all_suites_tiny_report() {
    let g = gpu();
    let mut printed = 0;
    let report = run_suite(&g, Suite::All, &tiny_opts(), &mut |r| {
        println!("{r}");
        printed += 1;
    })
    .unwrap();
    assert_eq!(printed, report.results.len());
    let json: Value = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    check_report(&json, "all", &["kernels", "generate", "train"]);
    let names: Vec<&str> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
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
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    println!(
        "timestamps: {}, timers: {:?}",
        report.timestamp_queries,
        report.results.iter().map(|r| r.timer).collect::<Vec<_>>()
    );
}

#[test]
fn suite_names_parse() {
    for (s, want) in [
        ("kernels", Suite::Kernels),
        ("Generate", Suite::Generate),
        ("train", Suite::Train),
        ("all", Suite::All),
    ] {
        assert_eq!(Suite::parse(s).unwrap(), want);
        assert_eq!(Suite::parse(want.name()).unwrap(), want);
    }
    assert!(Suite::parse("everything").is_err());
}
