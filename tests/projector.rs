//! The projector (`stylegan_wgpu::projector`): its schedules against the official formulas,
//! its w statistics against the f64 reference mapping, and a projection on a tiny model that
//! must find a generated image again (PSNR >= 30 dB) and hand back dlatents and noise maps
//! that make exactly its image; the noise regularization (built from roll, mean and 2x2 average
//! pooling) against the official formula written out in f64, with its gradient. `roll` itself
//! is checked in tests/ops_roll.rs.

mod common;
use common::*;
use stylegan_wgpu::nn::{Config, FusedScale, Generator};
use stylegan_wgpu::projector::{
    noise_regularization, w_stats, w_stats_class, Distance, Projector, ProjectorConfig,
};
use stylegan_wgpu::reference::generator::RefGenerator;
use stylegan_wgpu::reference::pool::avg_pool2d;
use stylegan_wgpu::reference::roll::roll;
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::rng::NumpyRandomState;
use stylegan_wgpu::{NoiseMode, Truncation};

fn tiny() -> Config {
    Config {
        resolution: 16,
        num_channels: 1,
        latent_size: 16,
        dlatent_size: 16,
        mapping_layers: 2,
        mapping_fmaps: 16,
        fmap_base: 128,
        fmap_max: 32,
        fused_scale: FusedScale::Off,
        ..Config::default()
    }
}

/// PSNR in dB of images in [-1, 1] (peak-to-peak 2).
fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (4.0 / mse).log10()
}

#[test]
fn schedules_follow_the_official_formulas() {
    let c = ProjectorConfig::default();
    assert_eq!(
        (c.steps, c.w_avg_samples, c.seed),
        (1000, 10_000, 303),
        "stylegan2-ada's defaults"
    );
    for step in [0usize, 10, 49, 50, 300, 750, 800, 875, 999] {
        // projector.py, written out.
        let t = step as f64 / 1000.0;
        let mut ramp = ((1.0 - t) / 0.25f64).min(1.0);
        ramp = 0.5 - 0.5 * (ramp * std::f64::consts::PI).cos();
        ramp *= (t / 0.05f64).min(1.0);
        let lr = 0.1 * ramp;
        let noise = 2.0 * 0.05 * (1.0 - t / 0.75).max(0.0).powi(2);
        let (got_lr, got_noise) = (c.learning_rate(step), c.w_noise_scale(2.0, step));
        assert!(
            (got_lr as f64 - lr).abs() < 1e-7,
            "lr at {step}: {got_lr} vs {lr}"
        );
        assert!(
            (got_noise as f64 - noise).abs() < 1e-7,
            "w noise at {step}: {got_noise} vs {noise}"
        );
    }
    assert_eq!(c.learning_rate(0), 0.0);
    assert!((c.learning_rate(500) - 0.1).abs() < 1e-7);
    assert_eq!(c.w_noise_scale(2.0, 750), 0.0);
}

#[test]
fn w_statistics_match_the_reference_mapping() {
    let g = gpu();
    let cfg = tiny();
    let weights = lively_generator_weights(&cfg, 3, 0.05);
    let gen = Generator::new(&g, &cfg, &weights).unwrap();
    let n = 50;
    let got = w_stats(&gen, n).unwrap();
    // z = RandomState(123).randn(n, latent_size), mapped in f64.
    let z = Arr::new(&[n, 16], NumpyRandomState::new(123).randn(n * 16));
    let w = RefGenerator::new(&cfg, &weights).mapping_w(&z);
    let avg: Vec<f64> = (0..16)
        .map(|j| (0..n).map(|i| w.data[i * 16 + j]).sum::<f64>() / n as f64)
        .collect();
    let ss: f64 = (0..n * 16).map(|k| (w.data[k] - avg[k % 16]).powi(2)).sum();
    let std = (ss / n as f64).sqrt();
    assert_close(
        "w_avg",
        &Arr::from_f32(&[16], &got.avg),
        &Arr::new(&[16], avg),
        1e-5,
    );
    let rel = (got.std as f64 - std).abs() / std;
    eprintln!("w_std: gpu {} reference {std:.7} rel {rel:.2e}", got.std);
    assert!(rel < 1e-5);
    assert!(w_stats(&gen, 0).is_err());
}

/// The mean and the std about it (as `w_stats`) of the first layer's rows of dlatents `w`.
fn stats_of(w: &[f32], l: usize, d: usize) -> (Vec<f64>, f64) {
    let rows: Vec<&[f32]> = w.chunks(l * d).map(|r| &r[..d]).collect();
    let n = rows.len() as f64;
    let avg: Vec<f64> = (0..d)
        .map(|j| rows.iter().map(|r| r[j] as f64).sum::<f64>() / n)
        .collect();
    let ss: f64 = rows
        .iter()
        .flat_map(|r| r.iter().zip(&avg).map(|(&v, a)| (v as f64 - a).powi(2)))
        .sum();
    (avg, (ss / n).sqrt())
}

#[test]
fn w_statistics_of_a_conditional_model_by_class() {
    let g = gpu();
    let cfg = Config {
        label_size: 3,
        ..tiny()
    };
    let gen = stylegan_wgpu::Model::init(&cfg, 4)
        .unwrap()
        .generator(&g)
        .unwrap();
    let n = 30;
    let z: Vec<f32> = NumpyRandomState::new(123)
        .randn(n * 16)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let (l, d) = (cfg.num_layers(), cfg.dlatent_size);
    let none = Truncation::NONE;
    // One class: every sample mapped with it; none: sample i with class i mod 3.
    for (class, classes) in [
        (Some(2), vec![2u32; n]),
        (None, (0..n as u32).map(|i| i % 3).collect()),
    ] {
        let got = w_stats_class(&gen, n, class).unwrap();
        let w = gen.map_latents_classes(&z, Some(&classes), &none).unwrap();
        let (avg, std) = stats_of(&w, l, d);
        let err = got
            .avg
            .iter()
            .zip(&avg)
            .map(|(&a, b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "class {class:?}: w_std {} (mapped: {std:.6}), w_avg max err {err:.2e}",
            got.std
        );
        assert!(err < 1e-5 && (got.std as f64 - std).abs() < 1e-5 * std);
    }
    let (a0, a1) = (
        w_stats_class(&gen, n, Some(0)).unwrap().avg,
        w_stats_class(&gen, n, Some(1)).unwrap().avg,
    );
    assert_ne!(a0, a1, "the class changed nothing");
    assert_eq!(
        w_stats(&gen, n).unwrap().avg,
        w_stats_class(&gen, n, None).unwrap().avg
    );
    let e = w_stats_class(&gen, n, Some(3)).unwrap_err().to_string();
    assert!(e.contains("class 3") && e.contains("0-2"), "{e}");
    let u = Generator::new(&g, &tiny(), &lively_generator_weights(&tiny(), 3, 0.05)).unwrap();
    let e = w_stats_class(&u, n, Some(0)).unwrap_err().to_string();
    assert!(e.contains("unconditional"), "{e}");
    // The projector refuses a class the model cannot take.
    let target = vec![0f32; 16 * 16];
    let stats = w_stats(&u, 4).unwrap();
    let pc = ProjectorConfig {
        class: Some(0),
        ..ProjectorConfig::default()
    };
    let dist = Distance::PixelFeatures {
        classifier: None,
        feature_weight: 0.0,
    };
    let e = Projector::new(&u, &target, dist, stats, pc)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("unconditional"), "{e}");
}

#[test]
fn projection_finds_a_generated_image_again() {
    let g = gpu();
    let cfg = tiny();
    // Noise strengths of std 0.01: the stored noise moves the target visibly (printed), yet
    // the projector, which starts from other noise maps, can match it. At 0.05 the noise
    // texture dominates this tiny network and 1000 steps reach 24-27 dB: the noise-driven
    // detail of an image is not all recoverable, as on the default model (assets/README.md).
    let mut gen = Generator::new(&g, &cfg, &lively_generator_weights(&cfg, 5, 0.01)).unwrap();
    // The target: a seed's w (known), the model's stored noise.
    let seed_image = |noise| {
        gen.generate_seeds(&[7], &Truncation::NONE, noise)
            .unwrap()
            .remove(0)
            .data
    };
    let target = seed_image(NoiseMode::Const);
    eprintln!(
        "the stored noise's part of the target: PSNR {:.2} dB against the noise-free image",
        psnr(&target, &seed_image(NoiseMode::None))
    );
    let stats = w_stats(&gen, 1000).unwrap();
    let pc = ProjectorConfig {
        steps: 300,
        ..ProjectorConfig::default()
    };
    let distance = Distance::PixelFeatures {
        classifier: None,
        feature_weight: 0.0,
    };
    let mut p = Projector::new(&gen, &target, distance, stats, pc).unwrap();
    let start = psnr(&p.image().unwrap(), &target);
    let mut first = None;
    let mut last = None;
    while !p.done() {
        let l = p.step(true).unwrap().unwrap();
        first.get_or_insert(l);
        last = Some(l);
    }
    let (first, last) = (first.unwrap(), last.unwrap());
    let image = p.image().unwrap();
    let end = psnr(&image, &target);
    eprintln!(
        "PSNR from w_avg {start:.2} dB -> projected {end:.2} dB; dist {:.3e} -> {:.3e}, noise reg {:.3e}",
        first.dist, last.dist, last.reg
    );
    assert!(start < 25.0, "the start is already close: {start:.2} dB");
    assert!(end >= 30.0, "projection reached only {end:.2} dB");
    assert!(last.loss.is_finite() && last.dist < first.dist);

    // The dlatents and noise maps make the projector's image through the inference path.
    let dl = p.dlatents().unwrap();
    assert_eq!(dl.len(), cfg.num_layers() * cfg.dlatent_size);
    let maps = p.noise_maps().unwrap();
    drop(p);
    let host: stylegan_wgpu::nn::HostWeights = maps
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let s = stylegan_wgpu::nn::params::layer_side(i);
            (
                format!("noise{i}"),
                stylegan_wgpu::nn::params::HostTensor {
                    shape: vec![1, 1, s, s],
                    data,
                },
            )
        })
        .collect();
    gen.set_noise_maps(&host, "projected").unwrap();
    let again = gen
        .synthesize_dlatents(&dl, NoiseMode::Const)
        .unwrap()
        .remove(0)
        .data;
    assert_close(
        "projected image via synthesize_dlatents",
        &Arr::from_f32(&[again.len()], &again),
        &Arr::from_f32(&[image.len()], &image),
        1e-6,
    );
}

#[test]
fn bad_targets_and_noise_maps_are_named() {
    let g = gpu();
    let cfg = tiny();
    let mut gen = Generator::new(&g, &cfg, &lively_generator_weights(&cfg, 5, 0.05)).unwrap();
    let stats = w_stats(&gen, 10).unwrap();
    let d = || Distance::PixelFeatures {
        classifier: None,
        feature_weight: 0.0,
    };
    let e = Projector::new(
        &gen,
        &[0.0; 10],
        d(),
        stats.clone(),
        ProjectorConfig::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("1x16x16"), "{e}");
    let mut nan = vec![0.0; 256];
    nan[3] = f32::NAN;
    let e = Projector::new(&gen, &nan, d(), stats, ProjectorConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("value 3"), "{e}");
    let mut maps = stylegan_wgpu::nn::HostWeights::new();
    maps.insert(
        "noise0".into(),
        stylegan_wgpu::nn::params::HostTensor {
            shape: vec![1, 1, 4, 4],
            data: vec![0.0; 16],
        },
    );
    let e = gen
        .set_noise_maps(&maps, "n.safetensors")
        .unwrap_err()
        .to_string();
    assert!(e.contains("n.safetensors") && e.contains("noise1"), "{e}");
}

#[test]
fn lpips_distance_is_what_the_projector_minimizes() {
    use stylegan_wgpu::eval::lpips::{lin_tensors, Lpips};
    let g = gpu();
    let cfg = tiny();
    let gen = Generator::new(&g, &cfg, &lively_generator_weights(&cfg, 5, 0.01)).unwrap();
    let mut r = rng(11);
    let lin = lin_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let data = uniform(&mut r, &shape, 0.0, 0.2).to_f32();
            (name, stylegan_wgpu::nn::params::HostTensor { shape, data })
        })
        .collect();
    let vgg = stylegan_wgpu::eval::vgg16::random_tensors(12);
    let lp = Lpips::from_tensors(&g, &vgg, "vgg", &lin, "lin").unwrap();
    let target = gen
        .generate_seeds(&[3], &Truncation::NONE, NoiseMode::Const)
        .unwrap()
        .remove(0)
        .data;
    let stats = w_stats(&gen, 200).unwrap();
    let pc = ProjectorConfig {
        steps: 40,
        ..ProjectorConfig::default()
    };
    let mut p = Projector::new(&gen, &target, Distance::Lpips(&lp), stats, pc).unwrap();
    // The distance of the starting image, gray repeated to RGB as the package does.
    let before = lp
        .distance_images(&p.image().unwrap(), &target, 1, 1, 16, 16)
        .unwrap()[0];
    let mut last = None;
    while !p.done() {
        last = p.step(true).unwrap();
    }
    let after = lp
        .distance_images(&p.image().unwrap(), &target, 1, 1, 16, 16)
        .unwrap()[0];
    let reported = last.unwrap().dist;
    eprintln!("LPIPS {before:.5} -> {after:.5} (last step reported {reported:.5}, with w noise)");
    assert!(after < 0.5 * before, "LPIPS {before} -> {after}");
    // The last step measured the same distance one update earlier (its noise on w faded out
    // at 75 % of the steps): the learning rate has ramped down, so the two nearly agree.
    assert!(
        (reported - after).abs() <= 0.05 * after,
        "{reported} vs {after}"
    );
}

/// The official regularization in f64 (stylegan2-ada-pytorch `projector.py`).
fn reg_reference(maps: &[Arr]) -> f64 {
    let mut total = 0.0;
    for m in maps {
        let mut v = m.clone();
        loop {
            for (dy, dx) in [(0, 1), (1, 0)] {
                let p = v.zip(&roll(&v, dy, dx), |a, b| a * b);
                let mean = p.data.iter().sum::<f64>() / p.numel() as f64;
                total += mean * mean;
            }
            if v.shape[2] <= 8 {
                break;
            }
            v = avg_pool2d(&v, 2, 2, 0, true);
        }
    }
    total
}

#[test]
fn noise_regularization_matches_the_official_formula() {
    let g = gpu();
    let mut r = rng(2);
    // Sides 4, 8 (taken once) and 32 (32, 16, 8): a map with correlated neighbours so the
    // value is not tiny.
    let maps: Vec<Arr> = [4usize, 8, 32]
        .iter()
        .map(|&s| {
            let a = randn(&mut r, &[1, 1, s, s]);
            a.zip(&roll(&a, 0, 1), |p, q| p + 0.5 * q)
        })
        .collect();
    let check = Check::default();
    check_op(
        "noise_regularization",
        &g,
        &maps,
        &|v| noise_regularization(v),
        &|a| Arr::new(&[1], vec![reg_reference(a)]),
        &check,
    );
}
