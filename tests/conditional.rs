//! Class-conditional training end to end through the library: labels from one subfolder per
//! class make a conditional run (named classes, stored in the snapshot) that resumes exactly;
//! `cond` chooses; and a tiny conditional model trained on three Fashion-MNIST classes makes
//! fakes that the evaluation network assigns to the requested class measurably more often
//! than the untrained model's.

mod common;
use common::tempdir::TempDir;

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::Solo;
use stylegan_wgpu::io::safetensors::load;
use stylegan_wgpu::nn::FusedScale;
use stylegan_wgpu::progress::Progress;
use stylegan_wgpu::train::run::{run, Observer, Start, TrainingOptions};
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::{Config, Model, NoiseMode, Truncation};

#[derive(Default)]
struct Notes {
    notes: Vec<String>,
    stop_after: Option<usize>,
    steps: usize,
}

impl Progress for Notes {
    fn note(&mut self, msg: &str) {
        self.notes.push(msg.to_string());
    }
}

impl Observer for Notes {
    fn should_stop(&mut self) -> bool {
        self.steps += 1;
        self.stop_after == Some(self.steps)
    }
}

/// 8x8 grayscale PNGs in `bag/` (dark, with a bright top row) and `shoe/` (bright).
fn class_folders(root: &Path) {
    for (class, base) in [("bag", 40u32), ("shoe", 200)] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..8u32 {
            let img = image::GrayImage::from_fn(8, 8, |x, y| {
                let top = if y == 0 { 120 } else { 0 };
                image::Luma([((base + top + (x * 5 + i * 3) % 20) % 256) as u8])
            });
            img.save(dir.join(format!("{i}.png"))).unwrap();
        }
    }
}

fn tiny8() -> Config {
    Config {
        fused_scale: FusedScale::Off,
        ..common::tiny8()
    }
}

fn options(out: &Path, start: Start, cond: Option<bool>) -> TrainingOptions {
    TrainingOptions {
        kimg: 0.016,
        snapshot_kimg: 0.008,
        cond,
        ..TrainingOptions::new(out, start)
    }
}

fn new_run() -> Start {
    Start::New {
        cfg: tiny8(),
        tc: TrainConfig {
            batch: 4,
            ..Default::default()
        },
    }
}

#[test]
fn subfolder_classes_train_conditionally_and_resume_exactly() {
    let gpu = common::gpu();
    let dir = TempDir::new("cond-run");
    class_folders(&dir.path("data"));
    let ds = Arc::new(Dataset::open(&dir.path("data"), &DataOptions::default()).unwrap());
    assert_eq!(ds.labels().unwrap(), [[0; 8], [1; 8]].concat());
    assert_eq!(ds.class_names().unwrap(), ["bag", "shoe"]);

    let mut seen = Notes::default();
    let out = run(
        &options(&dir.path("run"), new_run(), None),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut seen,
    )
    .unwrap();
    assert!(
        seen.notes
            .iter()
            .any(|n| n.starts_with("class-conditional training: 2 classes")
                && n.contains("0 bag, 1 shoe")),
        "{:?}",
        seen.notes
    );
    let snap = load(out.snapshot.as_ref().unwrap()).unwrap();
    let model = Model::from_file(snap.clone(), "run");
    assert_eq!(model.config().label_size, 2);
    assert_eq!(model.config().class_names, ["bag", "shoe"]);
    assert_eq!(model.config().class_index("Shoe").unwrap(), 1);
    // Gs makes an image per class; the same seed differs between classes.
    let g = model.generator(&gpu).unwrap();
    let imgs = g
        .generate_seeds_classes(&[3, 3], Some(&[0, 1]), &Truncation::NONE, NoiseMode::Const)
        .unwrap();
    assert_ne!(imgs[0], imgs[1]);
    // Without classes the class comes from the seed: seed 3 of 2 classes is class 1.
    let by_seed = g
        .generate_seeds(&[3], &Truncation::NONE, NoiseMode::Const)
        .unwrap();
    assert_eq!(by_seed[0], imgs[1]);

    // Stopped after the first step and resumed: the uninterrupted run, bit for bit.
    let mut stop = Notes {
        stop_after: Some(1),
        ..Notes::default()
    };
    let out = run(
        &options(&dir.path("stopped"), new_run(), None),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut stop,
    )
    .unwrap();
    let resume = Start::Resume {
        snapshot: load(out.snapshot.as_ref().unwrap()).unwrap(),
        name: "stopped".into(),
    };
    let out = run(
        &options(&dir.path("stopped"), resume, None),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut Notes::default(),
    )
    .unwrap();
    let again = load(out.snapshot.as_ref().unwrap()).unwrap();
    common::assert_same_weights(&snap, &again);

    // --no-cond ignores the labels; --cond on unlabelled data is refused.
    let mut seen = Notes::default();
    let out = run(
        &options(&dir.path("uncond"), new_run(), Some(false)),
        ds,
        &gpu,
        Rc::new(Solo),
        &mut seen,
    )
    .unwrap();
    let m = Model::from_file(load(out.snapshot.as_ref().unwrap()).unwrap(), "u");
    assert_eq!(m.config().label_size, 0);
    assert!(seen.notes.iter().any(|n| n.contains("--no-cond")));
    let flat = dir.path("flat");
    std::fs::create_dir_all(&flat).unwrap();
    std::fs::copy(dir.path("data/bag/0.png"), flat.join("0.png")).unwrap();
    std::fs::copy(dir.path("data/shoe/0.png"), flat.join("1.png")).unwrap();
    let unlabelled = Arc::new(Dataset::open(&flat, &DataOptions::default()).unwrap());
    let e = run(
        &options(&dir.path("refused"), new_run(), Some(true)),
        unlabelled,
        &gpu,
        Rc::new(Solo),
        &mut Notes::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--cond") && e.contains("no class labels"), "{e}");
}

#[test]
fn a_conditional_step_needs_labels_of_the_models_classes() {
    let gpu = common::gpu();
    let cfg = Config {
        label_size: 2,
        ..tiny8()
    };
    let tc = TrainConfig {
        batch: 4,
        ..Default::default()
    };
    let mut t = Trainer::new(&gpu, &cfg, &tc).unwrap();
    let reals = vec![0.0f32; 4 * 64];
    let e = t.step(&reals).err().unwrap().to_string();
    assert!(
        e.contains("class-conditional") && e.contains("give each image a class"),
        "{e}"
    );
    let e = t
        .step_labeled(&reals, Some(&[0, 1, 0, 1]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("set_training_labels"), "{e}");
    let e = t.set_training_labels(&[0, 2]).unwrap_err().to_string();
    assert!(e.contains("class 2") && e.contains("2 classes"), "{e}");
    t.set_training_labels(&[0, 1, 1]).unwrap();
    let e = t
        .step_labeled(&reals, Some(&[0, 1]))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("2 labels for 4 reals"), "{e}");
    let l = t
        .step_labeled(&reals, Some(&[0, 1, 0, 1]))
        .unwrap()
        .read()
        .unwrap();
    assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
}

const FMNIST: &str = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

/// Fashion-MNIST classes the tiny model learns: trouser, sneaker, bag (shapes far apart).
const CLASSES: [u32; 3] = [1, 7, 8];

/// The share of `per_class` fakes of each requested class that the evaluation network
/// assigns to that class, from Gs of `model`.
fn class_accuracy(gpu: &stylegan_wgpu::Gpu, model: &Model, per_class: u32) -> Vec<f64> {
    let g = model.generator(gpu).unwrap();
    let clf = stylegan_wgpu::io::tensors::fmnist_classifier(gpu).unwrap();
    (0..CLASSES.len() as u32)
        .map(|c| {
            let seeds: Vec<u32> = (0..per_class).collect();
            let classes = vec![c; seeds.len()];
            let imgs = g
                .generate_seeds_classes(&seeds, Some(&classes), &Truncation::NONE, NoiseMode::Const)
                .unwrap();
            let px: Vec<f32> = imgs.iter().flat_map(|i| i.data.iter().copied()).collect();
            let p = clf.probabilities(&px, imgs.len(), 1, 16, 16).unwrap();
            let hits = p
                .chunks(10)
                .filter(|row| {
                    let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                    best as u32 == CLASSES[c as usize]
                })
                .count();
            hits as f64 / per_class as f64
        })
        .collect()
}

#[test]
fn conditional_fakes_move_toward_the_requested_classes() {
    let path = Path::new(FMNIST);
    if !path.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "{FMNIST} is missing (Debian package dataset-fashion-mnist; .ci/run installs it)"
        );
        eprintln!("SKIPPED: {FMNIST} not present");
        return;
    }
    let gpu = common::gpu();
    let full = Dataset::open(path, &DataOptions::default()).unwrap();
    let labels = full.labels().unwrap();
    // 600 images of each class, 2x2-averaged to 16x16: a model that learns in a minute or
    // two on a CPU adapter (the evaluation network resizes its input back to 32x32).
    let (mut pixels, mut classes) = (Vec::new(), Vec::new());
    let mut count = [0usize; 3];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(c) = CLASSES.iter().position(|&k| k == l) {
            if count[c] < 600 {
                count[c] += 1;
                let img = full.images(i, 1).unwrap();
                for y in 0..16 {
                    for x in 0..16 {
                        let at = |dy: usize, dx: usize| img[(2 * y + dy) * 32 + 2 * x + dx] as u32;
                        pixels.push(((at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1) + 2) / 4) as u8);
                    }
                }
                classes.push(c as u32);
            }
        }
    }
    let ds = Dataset::from_memory(pixels, 1, 16, "fashion-mnist trouser/sneaker/bag")
        .unwrap()
        .with_labels(
            classes,
            Some(vec!["trouser".into(), "sneaker".into(), "bag".into()]),
        )
        .unwrap();
    let cfg = Config {
        resolution: 16,
        num_channels: 1,
        latent_size: 32,
        dlatent_size: 32,
        mapping_layers: 2,
        mapping_fmaps: 32,
        fmap_base: 256,
        fmap_max: 16,
        ..Config::default()
    };
    let kimg: f64 = std::env::var("STYLEGAN_COND_KIMG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    let dir = TempDir::new("cond-fmnist");
    let start = Start::New {
        cfg,
        tc: TrainConfig {
            batch: 16,
            lr: Some(0.002),
            // Gs follows G closely: at the default 10 kimg half-life it would still be mostly
            // the untrained network after a run this short.
            g_ema_kimg: 0.5,
            mirror: false,
            ..Default::default()
        },
    };
    let opts = TrainingOptions {
        kimg: 0.0,
        snapshot_kimg: kimg,
        ..TrainingOptions::new(dir.path("run"), start)
    };
    let ds = Arc::new(ds);
    let t0 = std::time::Instant::now();
    let before = run(
        &opts,
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut Notes::default(),
    )
    .unwrap();
    let untrained = Model::from_file(
        load(before.snapshot.as_ref().unwrap()).unwrap(),
        "untrained",
    );
    let opts = TrainingOptions { kimg, ..opts };
    let after = run(&opts, ds, &gpu, Rc::new(Solo), &mut Notes::default()).unwrap();
    let trained = Model::from_file(load(after.snapshot.as_ref().unwrap()).unwrap(), "trained");
    eprintln!("trained {kimg} kimg in {:.0} s", t0.elapsed().as_secs_f64());
    let a0 = class_accuracy(&gpu, &untrained, 64);
    let a1 = class_accuracy(&gpu, &trained, 64);
    let mean = |a: &[f64]| a.iter().sum::<f64>() / a.len() as f64;
    eprintln!(
        "fakes classified as requested (trouser, sneaker, bag): untrained {a0:.2?} mean {:.3}, \
         after {kimg} kimg {a1:.2?} mean {:.3}",
        mean(&a0),
        mean(&a1)
    );
    assert!(
        mean(&a1) >= mean(&a0) + 0.2,
        "fakes did not move toward their classes: {a0:?} -> {a1:?}"
    );
}

/// Metrics of a class-conditional model: the fakes are class-balanced (fake `i` of class
/// `i mod label_size`, so they equal `generate_latents_classes` of those classes), and
/// `fid_per_class` is the FID of each class's fakes against that class's reals.
#[test]
fn conditional_metrics_use_balanced_classes_and_fid_per_class() {
    use stylegan_wgpu::metrics::features::generator_features;
    use stylegan_wgpu::metrics::fid_from_features;
    use stylegan_wgpu::metrics::networks::NetChoice;
    use stylegan_wgpu::metrics::registry::parse_metrics;
    use stylegan_wgpu::metrics::runner::{FeatureNets, MetricRunner};
    use stylegan_wgpu::progress::Silent;

    let gpu = common::gpu();
    let cfg = Config {
        label_size: 2,
        class_names: vec!["Bag".into(), "Ankle boot".into()],
        ..tiny8()
    };
    let g = Model::init(&cfg, 5).unwrap().generator(&gpu).unwrap();
    // 12 reals, classes 0,1,0,1,...: dark and bright images.
    let pixels: Vec<u8> = (0..12u32)
        .flat_map(|i| (0..64u32).map(move |p| ((i % 2) * 150 + p * 3 + i * 7) as u8))
        .collect();
    let labels: Vec<u32> = (0..12).map(|i| i % 2).collect();
    let ds = Dataset::from_memory(pixels, 1, 8, "two classes")
        .unwrap()
        .with_labels(labels.clone(), None)
        .unwrap();
    let net = NetChoice::Fmnist.load(&gpu).unwrap();
    let runner = MetricRunner::new(
        FeatureNets::new(NetChoice::Fmnist.load(&gpu).unwrap()),
        parse_metrics("fid16,fid_per_class16").unwrap(),
        &ds,
        8,
        None,
        &mut Silent,
    )
    .unwrap();
    let mut got = Vec::new();
    runner
        .run(&g, 7, &mut Silent, &mut |r| {
            got.push(r.clone());
            Ok(())
        })
        .unwrap();
    let per_class = &got[1].values;
    let names: Vec<&str> = per_class.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "fid_per_class16_bag",
            "fid_per_class16_ankle_boot",
            "fid_per_class16_mean"
        ]
    );
    // The same fakes and reals, split by hand.
    let d = net.net.dim();
    let fake = generator_features(&*net.net, &g, 16, 8, 7, &mut |_| {}).unwrap();
    let real: Vec<f32> =
        stylegan_wgpu::metrics::runner::real_features(&net, &ds, 12, 8, None, &mut Silent).unwrap();
    let split = |f: &[f32], keep: &dyn Fn(usize) -> bool| -> Vec<f32> {
        f.chunks(d)
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .flat_map(|(_, r)| r.to_vec())
            .collect()
    };
    for (c, (_, have)) in per_class.iter().take(2).enumerate() {
        let want = fid_from_features(
            &split(&fake, &|i| i % 2 == c),
            &split(&real, &|i| labels[i] as usize == c),
            d,
        )
        .unwrap();
        let have = *have;
        eprintln!("class {c}: fid_per_class {have:.6} by hand {want:.6}");
        assert!(
            (have - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{have} vs {want}"
        );
    }
    assert_eq!(
        got[0].values[0].1,
        fid_from_features(&fake, &real, d).unwrap()
    );
    // Fake `i` is of class `i mod 2`: the features of images made from the stream's latents
    // with those classes (noise strengths are zero at init, so noise plays no part).
    let z = {
        let mut r = stylegan_wgpu::rng::seeded(7);
        stylegan_wgpu::rng::std_normal(&mut r, 8 * cfg.latent_size)
    };
    let features_of = |classes: &[u32]| -> Vec<f32> {
        let imgs = g
            .generate_latents_classes(&z, Some(classes), &Truncation::NONE, NoiseMode::Random)
            .unwrap();
        let bytes: Vec<u8> = imgs
            .iter()
            .flat_map(|im| {
                im.data
                    .iter()
                    .map(|&v| (v * 127.5 + 128.0).floor().clamp(0.0, 255.0) as u8)
            })
            .collect();
        net.net.features(&bytes, 8, 1, 8, 8).unwrap()
    };
    let balanced: Vec<u32> = (0..8).map(|i| i % 2).collect();
    assert_eq!(features_of(&balanced), fake[..8 * d].to_vec());
    assert_ne!(features_of(&[0; 8]), fake[..8 * d].to_vec());
    // An unconditional model has no per-class FID.
    let plain = Model::init(&tiny8(), 5).unwrap().generator(&gpu).unwrap();
    let e = runner
        .run(&plain, 7, &mut Silent, &mut |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unconditional"), "{e}");
}

/// `acc_per_class` is the share of each class's fakes (fake `i` of class `i mod label_size`)
/// that the classifier assigns to that class: checked against the same fakes made with
/// `generate_latents_classes` and classified by hand with the embedded classifier.
#[test]
fn acc_per_class_is_the_classifiers_hit_rate_on_each_class() {
    use stylegan_wgpu::metrics::networks::NetChoice;
    use stylegan_wgpu::metrics::registry::parse_metrics;
    use stylegan_wgpu::metrics::runner::{FeatureNets, MetricRunner};
    use stylegan_wgpu::nn::labels::class_names;
    use stylegan_wgpu::progress::Silent;

    let gpu = common::gpu();
    let cfg = Config {
        label_size: 10,
        class_names: class_names("fmnist").unwrap(),
        ..tiny8()
    };
    // Several seeds of an untrained model, so that the classifier's picks vary.
    let (n, seed) = (40usize, 3u64);
    let ds = Dataset::from_memory(vec![100; 4 * 64], 1, 8, "four grey images").unwrap();
    let runner = |cfg: &Config| {
        MetricRunner::new(
            FeatureNets::new(NetChoice::Fmnist.load(&gpu).unwrap()),
            parse_metrics(&format!("acc_per_class{n}")).unwrap(),
            &ds,
            n,
            None,
            &mut Silent,
        )
        .map(|r| (r, Model::init(cfg, 5).unwrap().generator(&gpu).unwrap()))
        .unwrap()
    };
    let (r, g) = runner(&cfg);
    let mut got = Vec::new();
    r.run(&g, seed, &mut Silent, &mut |m| {
        got.push(m.clone());
        Ok(())
    })
    .unwrap();
    let values = &got[0].values;
    eprintln!("{}", got[0].line());
    assert_eq!(values.len(), 11);
    assert_eq!(values[0].0, format!("acc_per_class{n}_t_shirt_top"));
    assert_eq!(values[10].0, format!("acc_per_class{n}_mean"));
    assert_eq!(got[0].num_real, 0);

    let z = stylegan_wgpu::rng::std_normal(&mut stylegan_wgpu::rng::seeded(seed), n * 8);
    let classes: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    let imgs = g
        .generate_latents_classes(&z, Some(&classes), &Truncation::NONE, NoiseMode::Random)
        .unwrap();
    let px: Vec<f32> = imgs.iter().flat_map(|i| i.data.iter().copied()).collect();
    let clf = stylegan_wgpu::io::tensors::fmnist_classifier(&gpu).unwrap();
    let p = clf.probabilities(&px, n, 1, 8, 8).unwrap();
    let mut hits = [0usize; 10];
    for (i, row) in p.chunks(10).enumerate() {
        let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
        hits[i % 10] += usize::from(best == i % 10);
    }
    let want: Vec<f64> = hits.iter().map(|&h| h as f64 / 4.0).collect();
    let have: Vec<f64> = values[..10].iter().map(|v| v.1).collect();
    assert_eq!(have, want);
    assert!((values[10].1 - want.iter().sum::<f64>() / 10.0).abs() < 1e-12);

    // An unconditional model, and a model with more classes than the classifier knows.
    for (cfg, says) in [
        (tiny8(), "unconditional"),
        (
            Config {
                label_size: 12,
                ..tiny8()
            },
            "knows 10 classes, the model 12",
        ),
    ] {
        let (r, g) = runner(&cfg);
        let e = r
            .run(&g, seed, &mut Silent, &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{e}");
    }
}
