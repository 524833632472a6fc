//! Our outputs against the PyTorch twin (`benches/pytorch/stylegan1.py`), the independent
//! implementation the benchmark compares with: the same model file in, the same images, losses,
//! R1 penalties and every parameter gradient out (the twin in float64), so the benchmark's
//! ratios compare equal work.
//!
//! Each case writes a model whose every variable is non-trivial (the official init's zero
//! biases, zero noise strengths, constant 4x4 input and zero `dlatent_avg` are perturbed, so
//! each term of the network shows in the output), runs `stylegan generate` (truncated with a
//! cutoff and with the model's default cutoff, stored noise; and without noise) and `stylegan losses`, then `stylegan1.py check`.
//! The class-conditional case (`label_size` 3) makes the same images and losses through the
//! library (`generate_latents_classes`, `evaluate_losses` with classes), since those two
//! commands take no classes, and gives the twin the same classes (`check --classes`).
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
use stylegan_wgpu::train::inspect::evaluate_losses;
use stylegan_wgpu::{Model, NoiseMode, Truncation};

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

fn twin_check(dir: &Path, args: &[&str]) -> String {
    let mut all = vec![TWIN, "check", "--model", "model.safetensors"];
    all.extend_from_slice(args);
    let out = run(dir, &python(), &all);
    assert!(
        out.contains(": match"),
        "twin check did not report a match:\n{out}"
    );
    out
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

/// What a case gives both implementations: a fresh folder holding `model.safetensors`
/// (perturbed G = Gs and D), `z.npy` [BATCH, latent] and `reals.npy` [BATCH, C, R, R].
struct Inputs {
    dir: PathBuf,
    model: Checkpoint,
    z: Vec<f32>,
    reals: Vec<f32>,
}

fn inputs(name: &str, cfg: &Config) -> Inputs {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("stylegan-twin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    cfg.validate().unwrap();
    let g = perturbed(&generator_specs(cfg), 1, cfg.mapping_lrmul);
    let mut m = Checkpoint {
        config: cfg.clone(),
        ..Default::default()
    };
    m.nets.insert("G".into(), g.clone());
    m.nets.insert("Gs".into(), g);
    m.nets
        .insert("D".into(), perturbed(&discriminator_specs(cfg), 2, 1.0));
    save(&dir.join("model.safetensors"), &m).unwrap();

    let mut rng = stylegan_wgpu::rng::seeded(3);
    let z = std_normal(&mut rng, BATCH * cfg.latent_size);
    write_npy(dir.join("z.npy"), &[BATCH, cfg.latent_size], &z).unwrap();
    let (c, r) = (cfg.num_channels, cfg.resolution);
    let reals: Vec<f32> = (0..BATCH * c * r * r)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    write_npy(dir.join("reals.npy"), &[BATCH, c, r, r], &reals).unwrap();
    Inputs {
        dir,
        model: m,
        z,
        reals,
    }
}

fn case(name: &str, cfg: Config) {
    require_torch();
    let dir = inputs(name, &cfg).dir;

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

/// The class-conditional network (`label_size` 3: the embedding `G_mapping/LabelConcat`, D's
/// three `Dense1` outputs and `LabelSwitch`): images (truncated with a cutoff and with the
/// model's cutoff, stored noise, no noise) and the losses, R1 and every gradient with the
/// minibatch's classes, through the library since `stylegan generate --latents` and
/// `stylegan losses` take no classes. The same images for other classes must not match.
#[test]
#[ignore = "needs python3 with torch and numpy; CI runs it: cargo test --test pytorch_twin -- --ignored"]
fn twin_matches_conditional_with_classes() {
    require_torch();
    let cfg = Config {
        label_size: 3,
        ..small(32)
    };
    let Inputs {
        dir,
        model,
        z,
        reals,
    } = inputs("cond", &cfg);
    assert_eq!(
        model.nets["G"]["G_mapping/LabelConcat/weight"].shape,
        [3, cfg.latent_size]
    );
    assert_eq!(model.nets["D"]["4x4/Dense1/weight"].shape[1], 3);
    let classes = [2u32, 0, 1, 2];
    let as_f32: Vec<f32> = classes.iter().map(|&c| c as f32).collect();
    write_npy(dir.join("classes.npy"), &[BATCH], &as_f32).unwrap();

    let gpu = common::gpu();
    let m = Model::from_file(model.clone(), "twin model");
    let g = m.generator(&gpu).unwrap();
    let (c, r) = (cfg.num_channels, cfg.resolution);
    let cutoff = cfg.num_layers() / 2;
    let images = |classes: &[u32], trunc: &Truncation, noise: NoiseMode| -> Vec<f32> {
        g.generate_latents_classes(&z, Some(classes), trunc, noise)
            .unwrap()
            .into_iter()
            .flat_map(|im| im.data)
            .collect()
    };
    let write = |name: &str, data: &[f32]| {
        write_npy(dir.join(name), &[BATCH, c, r, r], data).unwrap();
    };
    let trunc = Truncation::new(0.7, cutoff);
    let consts = images(&classes, &trunc, NoiseMode::Const);
    write("const.npy", &consts);
    write(
        "default.npy",
        &images(&classes, &Truncation::psi(0.7), NoiseMode::Const),
    );
    write(
        "none.npy",
        &images(&classes, &Truncation::NONE, NoiseMode::None),
    );
    // The labels reach the images: image 0 (class 2) as class 0 differs.
    let other = images(&[0, 0, 1, 2], &trunc, NoiseMode::Const);
    let n = c * r * r;
    let moved = consts[..n]
        .iter()
        .zip(&other[..n])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(moved > 1e-2, "class changes image 0 by only {moved}");
    assert_eq!(consts[n..], other[n..], "the other images kept their class");

    let rep = evaluate_losses(
        &gpu,
        &cfg,
        &model.nets["G"],
        &model.nets["D"],
        &z,
        Some(&classes),
        &reals,
        NoiseMode::Const,
        10.0,
    )
    .unwrap();
    std::fs::write(
        dir.join("losses.safetensors"),
        rep.to_safetensors_bytes().unwrap(),
    )
    .unwrap();

    let cutoff = cutoff.to_string();
    let with_classes = ["--latents", "z.npy", "--classes", "classes.npy"];
    let out = twin_check(
        &dir,
        &[
            &with_classes[..],
            &["--images", "const.npy", "--trunc", "0.7"],
            &["--trunc-cutoff", &cutoff],
            &["--losses", "losses.safetensors", "--reals", "reals.npy"],
            &["--verbose"],
        ]
        .concat(),
    );
    // Every tensor was compared, the embedding's gradient and D's per-class outputs included.
    for t in [
        "grad/G/G_mapping/LabelConcat/weight",
        "grad/D/4x4/Dense1/weight",
        "grad/D/4x4/Dense1/bias",
        "r1_penalty",
        "d_fake",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(t) && l.ends_with("ok")),
            "{t} not compared:\n{out}"
        );
    }
    twin_check(
        &dir,
        &[
            &with_classes[..],
            &["--images", "default.npy", "--trunc", "0.7"],
        ]
        .concat(),
    );
    twin_check(
        &dir,
        &[
            &with_classes[..],
            &["--images", "none.npy", "--noise-mode", "none"],
        ]
        .concat(),
    );

    // Told other classes, the twin makes other images: the check fails, naming no match.
    let o = Command::new(python())
        .args([
            TWIN,
            "check",
            "--model",
            "model.safetensors",
            "--latents",
            "z.npy",
            "--classes",
            "0,0,1,2",
            "--images",
            "const.npy",
            "--trunc",
            "0.7",
            "--trunc-cutoff",
            &cutoff,
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && text.contains("FAIL"),
        "twin check with other classes should fail:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
