//! Robustness of the file readers on damaged input: every reader gets its valid seed files
//! cut at many lengths and with random bit flips, and must return (Ok or) Err, never panic,
//! hang, or allocate from a corrupted length. Cut files must always be errors.
//!
//! Adding a reader is one line in `readers()`: (name, fn(&[u8]) -> Result<(), String>, seed files).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use rand::Rng;

use stylegan_wgpu::io::safetensors::{self, Checkpoint};
use stylegan_wgpu::io::{npy, official, pickle, torch_checkpoint};
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::nn::params::{HostTensor, HostWeights};

type ReadFn = fn(&[u8]) -> Result<(), String>;

fn readers() -> Vec<(&'static str, ReadFn, Vec<Vec<u8>>)> {
    let pickles = fixtures(&[
        "tiny_p2.pkl",
        "tiny_p4.pkl",
        "progressive_p3.pkl",
        "dtypes_p5.pkl",
    ]);
    let networks = fixtures(&["tiny_p2.pkl", "tiny_p4.pkl", "progressive_p3.pkl"]);
    vec![
        (
            "pickle",
            |b| {
                pickle::parse_pickle(b, "fuzz")
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            pickles,
        ),
        (
            "official",
            |b| {
                official::parse_official_pickle(b, "fuzz")
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            networks,
        ),
        (
            "npy",
            |b| {
                npy::read_npy_bytes(b, "fuzz")
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            npy_seeds(),
        ),
        (
            "safetensors",
            |b| {
                safetensors::from_bytes(b, "fuzz")
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            vec![safetensors_seed()],
        ),
        (
            "torch_checkpoint",
            |b| {
                torch_checkpoint::parse_torch_checkpoint(b, "fuzz")
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            fixtures(&["torch_zip.pth", "torch_legacy.pth"]),
        ),
    ]
}

/// Arrays of rank 0 to 4 (small enough that every cut length is tried).
fn npy_seeds() -> Vec<Vec<u8>> {
    let shapes: [&[usize]; 5] = [&[], &[7], &[2, 3], &[1, 2, 3], &[2, 1, 2, 2]];
    shapes
        .iter()
        .map(|s| {
            let n: usize = s.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 1.0).collect();
            npy::npy_bytes(s, &data).expect("npy seed")
        })
        .collect()
}

/// A model file like a snapshot's: config and train metadata in the header, a few networks.
fn safetensors_seed() -> Vec<u8> {
    let mut config = Config::preset("tiny").expect("tiny preset");
    config.resolution = 8;
    let t = |shape: &[usize]| {
        let n: usize = shape.iter().product();
        HostTensor {
            shape: shape.to_vec(),
            data: (0..n).map(|i| (i as f32).sin()).collect(),
        }
    };
    let mut g = HostWeights::new();
    g.insert("G_mapping/Dense0/weight".into(), t(&[4, 3]));
    g.insert("G_synthesis/4x4/Const/const".into(), t(&[1, 2, 2, 2]));
    let mut d = HostWeights::new();
    d.insert("4x4/Dense1/bias".into(), t(&[1]));
    let mut m = Checkpoint {
        config,
        ..Default::default()
    };
    m.nets.insert("G".into(), g);
    m.nets.insert("D".into(), d);
    m.metadata
        .insert("train_state".into(), r#"{"cur_nimg":8,"step":2}"#.into());
    safetensors::to_bytes(&m).expect("safetensors seed")
}

fn fixtures(names: &[&str]) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap_or_else(|e| panic!("{n}: {e}")))
        .collect()
}

/// Runs `f`, turning a panic into a test failure that shows the input's provenance.
fn run(name: &str, f: ReadFn, input: &[u8], what: &str) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| f(input))) {
        Ok(r) => r,
        Err(_) => panic!("{name}: reader panicked on {what} ({} bytes)", input.len()),
    }
}

#[test]
fn truncations_are_errors() {
    for (name, f, seeds) in readers() {
        let mut n = 0;
        for (s, seed) in seeds.iter().enumerate() {
            assert!(
                run(name, f, seed, "the intact seed").is_ok(),
                "{name}: seed {s} should parse"
            );
            // Every length for small files, otherwise ~500 evenly spread cuts plus both ends.
            let stride = (seed.len() / 500).max(1);
            let cuts = (0..seed.len())
                .step_by(stride)
                .chain(seed.len().saturating_sub(16)..seed.len());
            for len in cuts {
                let r = run(
                    name,
                    f,
                    &seed[..len],
                    &format!("seed {s} cut to {len} bytes"),
                );
                assert!(
                    r.is_err(),
                    "{name}: seed {s} cut to {len} bytes was accepted"
                );
                n += 1;
            }
        }
        println!("{name}: {n} truncations, all errors");
    }
}

#[test]
fn bit_flips_never_panic() {
    let mut rng = stylegan_wgpu::rng::seeded(0x5eed);
    // FUZZ_TRIALS=20000 for a longer run by hand.
    let trials: usize = std::env::var("FUZZ_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for (name, f, seeds) in readers() {
        let (mut ok, mut err) = (0, 0);
        for (s, seed) in seeds.iter().enumerate() {
            for trial in 0..trials {
                let mut b = seed.clone();
                // Mostly single flips; sometimes a burst, or a whole byte set to an extreme
                // value (lengths become huge or zero).
                let flips = if trial % 4 == 0 {
                    rng.random_range(2..8)
                } else {
                    1
                };
                for _ in 0..flips {
                    let i = rng.random_range(0..b.len());
                    match trial % 5 {
                        0 => b[i] = 0xff,
                        1 => b[i] = 0x00,
                        _ => b[i] ^= 1 << rng.random_range(0..8),
                    }
                }
                match run(name, f, &b, &format!("seed {s} trial {trial}")) {
                    Ok(()) => ok += 1,
                    Err(_) => err += 1,
                }
            }
        }
        println!(
            "{name}: {} mutants, {ok} still parse, {err} errors, no panic",
            ok + err
        );
    }
}
