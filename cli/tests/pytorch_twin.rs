//! Our outputs against the PyTorch twin (`benches/pytorch/stylegan1.py`), the independent
//! implementation the benchmark compares with: the same model file in, the same images, losses,
//! R1 penalties and every parameter gradient out (the twin in float64), so the benchmark's
//! ratios compare equal work.
//!
//! Each case writes a model whose every variable is non-trivial (the official init's zero
//! biases, zero noise strengths, constant 4x4 input and zero `dlatent_avg` are perturbed, so
//! each term of the network shows in the output), runs `stylegan generate` (truncated with a
//! cutoff and with the model's default cutoff, stored noise; and without noise) and `stylegan losses`, then `stylegan1.py check`.
//!
//! Needs python3 with torch and numpy (`pip install torch numpy`; STYLEGAN_PYTHON picks the
//! interpreter), so it is `#[ignore]`d in a plain `cargo test`; `.ci/run` installs them and
//! runs it with `--ignored`. Without torch it fails (never skips), like the GPU tests without an
//! adapter.

mod common;

use common::process::{python, run, stylegan};
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::Rng;
use stylegan_wgpu::io::npy::write_npy;
use stylegan_wgpu::io::safetensors::{save, Checkpoint};
use stylegan_wgpu::nn::config::{Config, FusedScale};
use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs, init_host, Init};
use stylegan_wgpu::nn::{HostWeights, ParamSpec};
use stylegan_wgpu::rng::std_normal;

const TWIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/pytorch/stylegan1.py"
);
const BATCH: usize = 4;

/// Official init, then every variable that starts as all zeros or all ones gets N(0, s) added
/// (s scaled by 1/lrmul for the mapping biases, which run at lrmul 0.01).
fn perturbed(specs: &[ParamSpec], seed: u64, lrmul: f32) -> HostWeights {
    let mut w = init_host(specs, seed);
    let mut rng = stylegan_wgpu::rng::seeded(seed ^ 0x5eed);
    for s in specs {
        if matches!(s.init, Init::Zeros | Init::Ones) && !s.name.ends_with("lod") {
            let scale = if s.name.starts_with("G_mapping/") {
                0.3 / lrmul
            } else {
                0.3
            };
            let t = w.get_mut(&s.name).expect("spec'd variable");
            let noise = std_normal(&mut rng, t.data.len());
            for (v, e) in t.data.iter_mut().zip(noise) {
                *v += scale * e;
            }
        }
    }
    w
}

fn twin_check(dir: &Path, args: &[&str]) {
    let mut all = vec![TWIN, "check", "--model", "model.safetensors"];
    all.extend_from_slice(args);
    let out = run(dir, &python(), &all);
    assert!(
        out.contains(": match"),
        "twin check did not report a match:\n{out}"
    );
}

fn require_torch() {
    let py = python();
    let ok = Command::new(&py)
        .args(["-c", "import torch, numpy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the PyTorch twin test needs `{py}` with torch and numpy (pip install torch numpy; \
         STYLEGAN_PYTHON=... picks another interpreter); CI={}",
        std::env::var("CI").unwrap_or_default()
    );
}

fn case(name: &str, cfg: Config) {
    require_torch();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("stylegan-twin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    cfg.validate().unwrap();
    let g = perturbed(&generator_specs(&cfg), 1, cfg.mapping_lrmul);
    let mut m = Checkpoint {
        config: cfg.clone(),
        ..Default::default()
    };
    m.nets.insert("G".into(), g.clone());
    m.nets.insert("Gs".into(), g);
    m.nets
        .insert("D".into(), perturbed(&discriminator_specs(&cfg), 2, 1.0));
    save(&dir.join("model.safetensors"), &m).unwrap();

    let mut rng = stylegan_wgpu::rng::seeded(3);
    let z = std_normal(&mut rng, BATCH * cfg.latent_size);
    write_npy(dir.join("z.npy"), &[BATCH, cfg.latent_size], &z).unwrap();
    let (c, r) = (cfg.num_channels, cfg.resolution);
    let reals: Vec<f32> = (0..BATCH * c * r * r)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    write_npy(dir.join("reals.npy"), &[BATCH, c, r, r], &reals).unwrap();

    let cutoff = (cfg.num_layers() / 2).to_string();
    let model = [
        "generate",
        "--model",
        "model.safetensors",
        "--latents",
        "z.npy",
    ];
    let trunc = ["--trunc", "0.7", "--trunc-cutoff", cutoff.as_str()];
    stylegan(
        &dir,
        &[&model[..], &trunc, &["--out-npy", "const.npy"]].concat(),
    );
    // No --trunc-cutoff: the model's truncation_cutoff (8), as the official `Gs.run` does; the
    // twin defaults to it as well. At 128² (12 layers) it differs from every layer.
    stylegan(
        &dir,
        &[&model[..], &["--trunc", "0.7", "--out-npy", "default.npy"]].concat(),
    );
    stylegan(
        &dir,
        &[
            &model[..],
            &["--noise-mode", "none", "--out-npy", "none.npy"],
        ]
        .concat(),
    );
    stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "model.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "reals.npy",
            "--out",
            "losses.safetensors",
        ],
    );

    twin_check(
        &dir,
        &[
            &["--latents", "z.npy", "--images", "const.npy"],
            &trunc[..],
            &["--losses", "losses.safetensors", "--reals", "reals.npy"],
        ]
        .concat(),
    );
    twin_check(
        &dir,
        &[
            "--latents",
            "z.npy",
            "--images",
            "default.npy",
            "--trunc",
            "0.7",
        ],
    );
    twin_check(
        &dir,
        &[
            "--latents",
            "z.npy",
            "--images",
            "none.npy",
            "--noise-mode",
            "none",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn small(resolution: usize) -> Config {
    Config {
        resolution,
        num_channels: 3,
        latent_size: 16,
        dlatent_size: 16,
        mapping_layers: 3,
        mapping_fmaps: 16,
        fmap_base: 64,
        fmap_max: 8,
        ..Config::default()
    }
}

#[test]
#[ignore = "needs python3 with torch and numpy; CI runs it: cargo test --test pytorch_twin -- --ignored"]
fn twin_matches_tiny_preset() {
    case("tiny", Config::preset("tiny").unwrap());
}

#[test]
#[ignore = "needs python3 with torch and numpy; CI runs it: cargo test --test pytorch_twin -- --ignored"]
fn twin_matches_fused_everywhere_grayscale_groups_of_2() {
    // Fused up/down-convs at every resolution, one channel, minibatch-stddev groups of 2 (so
    // images n and n + 2 form a group).
    case(
        "fused-on",
        Config {
            num_channels: 1,
            fused_scale: FusedScale::On,
            mbstd_group_size: 2,
            ..small(32)
        },
    );
}

#[test]
#[ignore = "needs python3 with torch and numpy; CI runs it: cargo test --test pytorch_twin -- --ignored"]
fn twin_matches_128_with_official_auto_fusing() {
    // 128²: the first resolution where the official network fuses (G's last up-conv, D's
    // first down-conv), next to unfused ones below.
    case("auto-128", small(128));
}
