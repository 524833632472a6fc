//! Any batch on any adapter: a batch whose activations exceed the adapter's largest storage
//! binding runs in passes that fit, and gives what the whole batch gives. The binding is capped
//! with `Policy::max_binding` (what `STYLEGAN_MAX_BINDING` sets) so tiny networks split on any
//! adapter; the uncapped context computes the reference.

mod common;
use common::*;

use stylegan_wgpu::gpu::Policy;
use stylegan_wgpu::nn::memory::activation_bytes_per_image;
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::{Config, Model, NoiseMode, Truncation};

fn small() -> Config {
    Config {
        resolution: 16,
        num_channels: 1,
        latent_size: 16,
        dlatent_size: 16,
        mapping_layers: 2,
        mapping_fmaps: 16,
        fmap_base: 64,
        fmap_max: 16,
        ..Config::default()
    }
}

/// A context whose tensors may hold at most `images` images' largest activation.
fn capped(cfg: &Config, images: u64) -> stylegan_wgpu::Gpu {
    gpu_with(Policy {
        max_binding: Some(images * activation_bytes_per_image(cfg)),
        ..Policy::default()
    })
}

fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    a.iter()
        .zip(b)
        .fold(0f64, |m, (x, y)| m.max((x - y).abs() as f64))
        / scale
}

/// One step, whole batch against two passes: the losses, every gradient of G and D (the Adam
/// first moments after the first step are the gradients, beta1 being 0), and `dlatent_avg`.
/// Parameters themselves are not compared: Adam's first step moves each by `lr * sign(grad)`,
/// so a gradient that is pure rounding noise (the bias of the 4x4 constant, whose plane is
/// constant at initialization, so instance norm cancels it) flips sign between any two sum
/// orders.
#[test]
fn a_split_training_step_equals_the_whole_batch() {
    let cfg = small();
    let tc = TrainConfig {
        batch: 8,
        seed: 11,
        ..TrainConfig::default()
    };
    let reals: Vec<f32> = (0..8 * 256)
        .map(|i| ((i * 7 % 23) as f32 / 11.0) - 1.0)
        .collect();
    let whole_gpu = gpu();
    let split_gpu = capped(&cfg, 4);
    let mut whole = Trainer::new(&whole_gpu, &cfg, &tc).unwrap();
    let mut split = Trainer::new(&split_gpu, &cfg, &tc).unwrap();
    assert_eq!(whole.passes_per_step().unwrap(), 1);
    assert_eq!(
        split.passes_per_step().unwrap(),
        2,
        "two passes of one group of 4"
    );
    let a = whole.step(&reals).unwrap().read().unwrap();
    let b = split.step(&reals).unwrap().read().unwrap();
    eprintln!("losses whole {a:?}\n       split {b:?}");
    assert!(max_rel(&b, &a) < 1e-5, "losses differ: {a:?} vs {b:?}");
    let (wa, wb) = (whole.snapshot().unwrap(), split.snapshot().unwrap());
    for moments in ["G_adam_m", "D_adam_m"] {
        let net = &wa.nets[moments];
        let largest = net
            .values()
            .flat_map(|t| t.data.iter())
            .fold(0f32, |m, v| m.max(v.abs()));
        let mut worst = (0f64, String::new());
        for (name, t) in net {
            let got = &wb.nets[moments][name].data;
            let abs = got
                .iter()
                .zip(&t.data)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            let own = t.data.iter().fold(0f32, |m, v| m.max(v.abs()));
            // Relative to the tensor's own largest gradient; a gradient that cancels to far
            // below the network's gradients (the constant's bias) is held to the network's
            // scale instead, which its terms had before cancelling.
            let rel = (abs / own.max(1e-30)) as f64;
            let rel_net = (abs / largest) as f64;
            eprintln!("{moments}/{name}: rel {rel:.2e}, of the largest gradient {rel_net:.2e}");
            if rel.min(100.0 * rel_net) > worst.0 {
                worst = (rel.min(100.0 * rel_net), name.clone());
            }
            assert!(
                rel < 1e-4 || rel_net < 1e-6,
                "{moments}/{name}: gradient rel {rel:.2e} (of the largest {rel_net:.2e})"
            );
        }
        eprintln!(
            "{moments}: worst gradient rel {:.2e} ({})",
            worst.0, worst.1
        );
    }
    for net in ["G", "Gs"] {
        let rel = max_rel(
            &wb.nets[net]["dlatent_avg"].data,
            &wa.nets[net]["dlatent_avg"].data,
        );
        eprintln!("{net}/dlatent_avg: rel {rel:.2e}");
        assert!(rel < 1e-4, "{net}/dlatent_avg: rel {rel:.2e}");
    }
}

#[test]
fn a_group_that_does_not_fit_one_pass_is_an_error_naming_the_cure() {
    let cfg = small();
    let tc = TrainConfig {
        batch: 8,
        ..TrainConfig::default()
    };
    let t = Trainer::new(&capped(&cfg, 2), &cfg, &tc).unwrap();
    let e = t.passes_per_step().unwrap_err().to_string();
    eprintln!("{e}");
    assert!(
        e.contains("minibatch-stddev group of 4") && e.contains("--fmap-base"),
        "{e}"
    );
}

#[test]
fn generation_in_passes_equals_one_batch() {
    let cfg = small();
    let model = Model::init(&cfg, 3).unwrap();
    let seeds: Vec<u32> = (0..7).collect();
    let trunc = Truncation::new(0.7, 2);
    let mut whole = model.generator(&gpu()).unwrap();
    whole.set_batch(8);
    let mut split = model.generator(&capped(&cfg, 3)).unwrap();
    split.set_batch(8);
    assert_eq!(whole.images_per_pass().unwrap(), 8);
    assert_eq!(split.images_per_pass().unwrap(), 3);
    let a = whole
        .generate_seeds(&seeds, &trunc, NoiseMode::Const)
        .unwrap();
    let b = split
        .generate_seeds(&seeds, &trunc, NoiseMode::Const)
        .unwrap();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let rel = max_rel(&y.data, &x.data);
        assert!(rel < 1e-6, "image {i}: rel {rel:.2e}");
    }
    // Not even one image fits (the weights still do): an error naming the cure, not a crash.
    let tight = gpu_with(Policy {
        max_binding: Some(activation_bytes_per_image(&cfg) - 256),
        ..Policy::default()
    });
    let g = model.generator(&tight).unwrap();
    let e = g
        .generate_seeds(&[0], &trunc, NoiseMode::Const)
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(
        e.contains("no batch size fits") && e.contains("--fmap-base"),
        "{e}"
    );
}
