//! Progressive growing (official `structure = 'linear'`): G and D at fractional levels of
//! detail against the f64 references (values, and gradients along random directions against
//! central finite differences), lod 0 equal to the fixed-structure networks, lod checks, the
//! official lod schedule, the reals fade, and progressive training with exact resume.

mod common;
use common::*;
use stylegan_wgpu::autodiff::grad;
use stylegan_wgpu::io::safetensors::{from_bytes, to_bytes};
use stylegan_wgpu::nn::discriminator::Discriminator;
use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs, init_host};
use stylegan_wgpu::nn::{Config, FusedScale, Generator, HostWeights, NoiseMode};
use stylegan_wgpu::reference::discriminator::{discriminator_lod as d_ref, RefWeights};
use stylegan_wgpu::reference::generator::{RefGenerator, RefNoise};
use stylegan_wgpu::reference::{resample, Arr};
use stylegan_wgpu::tape::Var;
use stylegan_wgpu::train::schedule::{lod_schedule, process_reals_lod};
use stylegan_wgpu::train::{TrainConfig, Trainer};

const LODS: [f32; 5] = [0.0, 0.3, 1.0, 1.5, 2.0];

fn tiny(progressive: bool) -> Config {
    Config {
        resolution: 16,
        num_channels: 3,
        latent_size: 8,
        dlatent_size: 8,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 32,
        fmap_max: 8,
        fused_scale: FusedScale::Off,
        progressive,
        ..Config::default()
    }
}

/// Official init plus random biases, noise strengths and const (zero / ones at init), so every
/// path matters.
fn randomized(mut w: HostWeights, seed: u64) -> HostWeights {
    let mut r = rng(seed);
    for (name, t) in w.iter_mut() {
        if name.ends_with("bias") || name.ends_with("Noise/weight") || name.ends_with("Const/const")
        {
            let std = if name.ends_with("Const/const") {
                1.0
            } else {
                0.3
            };
            t.data = randn(&mut r, &[t.data.len()])
                .data
                .iter()
                .map(|v| (v * std) as f32)
                .collect();
        }
    }
    w
}

/// Directional derivatives of `gpu_out · proj` (GPU gradients) and of the reference (central
/// differences) for each variable; returns the worst error relative to the largest derivative.
fn check_grads(
    label: &str,
    names: &[&str],
    gpu_grads: &[Option<Var>],
    refw: &std::collections::BTreeMap<String, Arr>,
    f: &dyn Fn(&std::collections::BTreeMap<String, Arr>) -> f64,
    seed: u64,
) -> f64 {
    let mut r = rng(seed);
    let eps = 1e-6;
    let mut rows = vec![];
    for (name, gk) in names.iter().zip(gpu_grads) {
        let u = randn(&mut r, &refw[*name].shape);
        let got = gk.as_ref().map(|v| download(v).dot(&u)).unwrap_or(0.0);
        let at = |t: f64| {
            let mut w = refw.clone();
            let p = w.get_mut(*name).unwrap();
            *p = p.zip(&u, |a, b| a + t * b);
            f(&w)
        };
        rows.push((
            name.to_string(),
            got,
            (at(eps) - at(-eps)) / (2.0 * eps),
            gk.is_some(),
        ));
    }
    let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.2.abs()));
    let mut worst = 0.0f64;
    for (name, got, want, built) in rows {
        let err = (got - want).abs() / scale;
        worst = worst.max(err);
        eprintln!(
            "{label} d/d{name:<36} gpu {got:+.6e} fd {want:+.6e} err/max {err:.1e}{}",
            if built { "" } else { " (not built)" }
        );
        assert!(err < 1e-4, "{label}: gradient for {name}: {got} vs {want}");
    }
    worst
}

#[test]
fn generator_at_each_lod_matches_reference() {
    let g = gpu();
    let cfg = tiny(true);
    let hw = randomized(init_host(&generator_specs(&cfg), 3), 4);
    let gen = Generator::new(&g, &cfg, &hw).unwrap();
    let rf = RefGenerator::new(&cfg, &hw);
    let mut r = rng(5);
    let n = 2;
    let w = randn(&mut r, &[n, cfg.num_layers(), cfg.dlatent_size]);
    let names = [
        "G_synthesis/ToRGB_lod0/weight",
        "G_synthesis/ToRGB_lod1/weight",
        "G_synthesis/ToRGB_lod1/bias",
        "G_synthesis/ToRGB_lod2/weight",
        "G_synthesis/4x4/Conv/weight",
        "G_synthesis/8x8/Conv1/weight",
        "G_synthesis/8x8/Conv1/StyleMod/weight",
        "G_synthesis/16x16/Conv0_up/weight",
        "G_synthesis/16x16/Conv1/bias",
    ];
    let (mut worst_fwd, mut worst_grad) = (0.0f64, 0.0f64);
    for (k, &lod) in LODS.iter().enumerate() {
        let img = gen
            .synthesis_lod(&Var::constant(upload(&g, &w)), NoiseMode::Const, lod)
            .unwrap();
        assert_eq!(img.shape(), [n, 3, 16, 16]);
        let want = rf.synthesis_lod(&w, RefNoise::Const, lod as f64);
        let got = download(&img);
        worst_fwd = worst_fwd.max(errors(&got.data, &want.data).1);
        assert_close(&format!("G lod {lod}"), &got, &want, 1e-4);

        let proj = randn(&mut r, &[n, 3, 16, 16]);
        let vars: Vec<Var> = names
            .iter()
            .map(|nm| gen.params.get(nm).unwrap().clone())
            .collect();
        let grads = grad(&[img], &[Var::constant(upload(&g, &proj))], &vars, false).unwrap();
        let f = |wts: &std::collections::BTreeMap<String, Arr>| {
            let rg = RefGenerator {
                cfg: cfg.clone(),
                weights: wts.clone(),
            };
            rg.synthesis_lod(&w, RefNoise::Const, lod as f64).dot(&proj)
        };
        worst_grad = worst_grad.max(check_grads(
            &format!("G lod {lod}"),
            &names,
            &grads,
            &rf.weights,
            &f,
            50 + k as u64,
        ));
    }
    eprintln!("G progressive: worst forward rel err {worst_fwd:.2e}, worst gradient err/max {worst_grad:.2e}");
}

#[test]
fn discriminator_at_each_lod_matches_reference() {
    let g = gpu();
    let cfg = tiny(true);
    let hw = randomized(init_host(&discriminator_specs(&cfg), 6), 7);
    let refw: RefWeights = hw
        .iter()
        .map(|(k, t)| (k.clone(), Arr::from_f32(&t.shape, &t.data)))
        .collect();
    let d = Discriminator::new(&g, &cfg, &hw).unwrap();
    let mut r = rng(8);
    let images = randn(&mut r, &[4, 3, 16, 16]);
    let names = [
        "FromRGB_lod0/weight",
        "FromRGB_lod1/weight",
        "FromRGB_lod1/bias",
        "FromRGB_lod2/weight",
        "16x16/Conv0/weight",
        "16x16/Conv1_down/weight",
        "8x8/Conv0/weight",
        "8x8/Conv1_down/bias",
        "4x4/Conv/weight",
        "4x4/Dense1/weight",
    ];
    let (mut worst_fwd, mut worst_grad, mut worst_x) = (0.0f64, 0.0f64, 0.0f64);
    for (k, &lod) in LODS.iter().enumerate() {
        let x = Var::param(upload(&g, &images));
        let scores = d.forward_lod(&x, lod).unwrap();
        let want = d_ref(&cfg, &refw, &images, lod as f64);
        let got = download(&scores);
        worst_fwd = worst_fwd.max(errors(&got.data, &want.data).1);
        assert_close(&format!("D lod {lod}"), &got, &want, 1e-4);

        let proj = randn(&mut r, &[4, 1]);
        let mut vars: Vec<Var> = names
            .iter()
            .map(|nm| d.params.get(nm).unwrap().clone())
            .collect();
        vars.push(x.clone());
        let grads = grad(&[scores], &[Var::constant(upload(&g, &proj))], &vars, false).unwrap();
        let f = |wts: &RefWeights| d_ref(&cfg, wts, &images, lod as f64).dot(&proj);
        worst_grad = worst_grad.max(check_grads(
            &format!("D lod {lod}"),
            &names,
            &grads[..names.len()],
            &refw,
            &f,
            60 + k as u64,
        ));

        // With respect to the images (what R1 differentiates), along a random direction.
        let u = randn(&mut r, &images.shape);
        let gx = download(grads[names.len()].as_ref().expect("D depends on its input")).dot(&u);
        let eps = 1e-6;
        let at =
            |t: f64| d_ref(&cfg, &refw, &images.zip(&u, |a, b| a + t * b), lod as f64).dot(&proj);
        let fd = (at(eps) - at(-eps)) / (2.0 * eps);
        let err = (gx - fd).abs() / fd.abs().max(1e-12);
        worst_x = worst_x.max(err);
        eprintln!("D lod {lod} d/dimages gpu {gx:+.6e} fd {fd:+.6e} rel {err:.1e}");
        assert!(err < 1e-4, "D lod {lod}: image gradient {gx} vs {fd}");
    }
    eprintln!(
        "D progressive: worst forward rel err {worst_fwd:.2e}, worst gradient err/max {worst_grad:.2e}, image gradient {worst_x:.2e}"
    );
}

#[test]
fn lod_zero_equals_the_fixed_networks() {
    let g = gpu();
    let (pc, fc) = (tiny(true), tiny(false));
    let gw = randomized(init_host(&generator_specs(&pc), 9), 10);
    let dw = randomized(init_host(&discriminator_specs(&pc), 11), 12);
    let mut r = rng(13);
    let w = Var::constant(upload(
        &g,
        &randn(&mut r, &[2, pc.num_layers(), pc.dlatent_size]),
    ));
    let a = Generator::new(&g, &pc, &gw)
        .unwrap()
        .synthesis_lod(&w, NoiseMode::Const, 0.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let b = Generator::new(&g, &fc, &gw)
        .unwrap()
        .synthesis(&w, NoiseMode::Const)
        .unwrap()
        .to_vec()
        .unwrap();
    let dg = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    let x = Var::constant(upload(&g, &randn(&mut r, &[4, 3, 16, 16])));
    let a = Discriminator::new(&g, &pc, &dw)
        .unwrap()
        .forward_lod(&x, 0.0)
        .unwrap()
        .to_vec()
        .unwrap();
    let b = Discriminator::new(&g, &fc, &dw)
        .unwrap()
        .forward(&x)
        .unwrap()
        .to_vec()
        .unwrap();
    let dd = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    eprintln!("lod 0 progressive vs fixed: G max diff {dg:e}, D max diff {dd:e}");
    assert_eq!(dg, 0.0);
    assert_eq!(dd, 0.0);
    // The fixed configs have no lower-lod layers; the progressive ones have R - 2 of each.
    let names = |s: Vec<stylegan_wgpu::nn::params::ParamSpec>| {
        s.into_iter().map(|s| s.name).collect::<Vec<_>>()
    };
    let (gp, gf) = (names(generator_specs(&pc)), names(generator_specs(&fc)));
    assert_eq!(gp.len(), gf.len() + 4);
    assert!(
        gp.contains(&"G_synthesis/ToRGB_lod2/weight".to_string())
            && !gf.iter().any(|n| n.contains("ToRGB_lod1"))
    );
    let (dp, df) = (
        names(discriminator_specs(&pc)),
        names(discriminator_specs(&fc)),
    );
    assert_eq!(dp.len(), df.len() + 4);
    assert!(
        dp.contains(&"FromRGB_lod2/bias".to_string())
            && !df.iter().any(|n| n.contains("FromRGB_lod1"))
    );
    assert_eq!(
        generator_specs(&pc)
            .iter()
            .find(|s| s.name == "G_synthesis/ToRGB_lod2/weight")
            .unwrap()
            .shape,
        [1, 1, 8, 3]
    );
    assert_eq!(
        discriminator_specs(&pc)
            .iter()
            .find(|s| s.name == "FromRGB_lod1/weight")
            .unwrap()
            .shape,
        [1, 1, 3, 8]
    );
    // Configs serialize as before when not progressive.
    assert!(!serde_json::to_string(&fc).unwrap().contains("progressive"));
    let back: Config = serde_json::from_str(&serde_json::to_string(&pc).unwrap()).unwrap();
    assert!(back.progressive);
}

#[test]
fn lod_is_checked() {
    let g = gpu();
    let (pc, fc) = (tiny(true), tiny(false));
    let gen = Generator::new(&g, &fc, &init_host(&generator_specs(&fc), 1)).unwrap();
    let w = Var::constant(upload(
        &g,
        &Arr::zeros(&[1, fc.num_layers(), fc.dlatent_size]),
    ));
    let e = gen
        .synthesis_lod(&w, NoiseMode::None, 0.5)
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(e.contains("progressive") && e.contains("0.5"), "{e}");
    let d = Discriminator::new(&g, &fc, &init_host(&discriminator_specs(&fc), 1)).unwrap();
    let x = Var::constant(upload(&g, &Arr::zeros(&[4, 3, 16, 16])));
    let e = d.forward_lod(&x, 1.0).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(e.contains("progressive"), "{e}");
    let gen = Generator::new(&g, &pc, &init_host(&generator_specs(&pc), 1)).unwrap();
    let d = Discriminator::new(&g, &pc, &init_host(&discriminator_specs(&pc), 1)).unwrap();
    for bad in [2.5f32, -0.1, f32::NAN] {
        let e = gen
            .synthesis_lod(&w, NoiseMode::None, bad)
            .unwrap_err()
            .to_string();
        eprintln!("{e}");
        assert!(e.contains("[0, 2]"), "{e}");
        let e = d.forward_lod(&x, bad).unwrap_err().to_string();
        assert!(e.contains("[0, 2]"), "{e}");
    }
    // A progressive network still needs its lower-lod layers.
    let mut gw = init_host(&generator_specs(&pc), 1);
    gw.remove("G_synthesis/ToRGB_lod1/bias");
    let e = Generator::new(&g, &pc, &gw).err().unwrap().to_string();
    assert!(e.contains("ToRGB_lod1/bias"), "{e}");
}

#[test]
fn schedule_matches_hand_computed_values() {
    // R = 10 (1024), official 600 + 600 kimg.
    let cases: [(u64, f64, usize); 10] = [
        (0, 8.0, 4),
        (300_000, 8.0, 4),
        (600_000, 8.0, 4),
        (900_000, 7.5, 8),
        (1_050_000, 7.25, 8),
        (1_200_000, 7.0, 8),
        (2_100_000, 6.5, 16),
        (8_400_000, 1.0, 512),
        (9_300_000, 0.5, 1024),
        (25_000_000, 0.0, 1024),
    ];
    for (nimg, lod, res) in cases {
        let s = lod_schedule(10, nimg, 600.0, 600.0);
        eprintln!(
            "R=10 at {nimg} images: lod {} resolution {}",
            s.lod, s.resolution
        );
        assert!(
            (s.lod - lod).abs() < 1e-12 && s.resolution == res,
            "{nimg}: {s:?}, want lod {lod} res {res}"
        );
    }
    // No transition: lod drops by whole steps; no training stage: a continuous fade.
    assert_eq!(lod_schedule(5, 150_000, 100.0, 0.0).lod, 2.0);
    assert_eq!(lod_schedule(5, 250_000, 0.0, 100.0).lod, 0.5);
    assert_eq!(lod_schedule(5, 250_000, 0.0, 100.0).resolution, 32);
    // 4x4 networks have nothing to grow.
    assert_eq!(lod_schedule(2, 0, 600.0, 600.0).lod, 0.0);
    assert_eq!(lod_schedule(2, 0, 600.0, 600.0).resolution, 4);
    // Non-progressive training: always lod 0 at full resolution.
    let c = tiny(false);
    let s = TrainConfig::default().schedule(&c, 0);
    assert_eq!((s.lod, s.resolution), (0.0, 16));
    let s = TrainConfig {
        progressive: true,
        ..TrainConfig::default()
    }
    .schedule(&c, 0);
    assert_eq!((s.lod, s.resolution), (2.0, 4));
}

#[test]
fn reals_fade_matches_reference() {
    let g = gpu();
    let mut r = rng(14);
    let x = randn(&mut r, &[2, 3, 16, 16]);
    for lod in [0.0f32, 0.25, 1.0, 1.5, 2.0, 2.75] {
        let got = download(&process_reals_lod(&Var::constant(upload(&g, &x)), lod).unwrap());
        // The official process_reals on the per-lod dataset image (2x2 boxes from full size).
        let levels = lod.floor() as usize;
        let mut y = x.clone();
        for _ in 0..levels {
            y = resample::downsample2(&y, 0.25);
        }
        let low = resample::upsample2(&resample::downsample2(&y, 0.25), 1.0);
        let f = lod as f64 - levels as f64;
        y = y.zip(&low, |a, b| a + (b - a) * f);
        for _ in 0..levels {
            y = resample::upsample2(&y, 1.0);
        }
        assert_close(&format!("process_reals lod {lod}"), &got, &y, 1e-5);
    }
    let e = process_reals_lod(&Var::constant(upload(&g, &x)), 4.5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("too large"), "{e}");
}

fn train_cfg() -> Config {
    common::tiny8()
}

fn train_tc() -> TrainConfig {
    // 8 images per stage and per fade at batch 4: lod 1, 1, 1, ~0.5, ~0, 0 over six steps.
    TrainConfig {
        batch: 4,
        g_ema_kimg: 0.01,
        seed: 3,
        progressive: true,
        lod_training_kimg: 0.008,
        lod_transition_kimg: 0.008,
        ..TrainConfig::default()
    }
}

fn reals(step: u64) -> Vec<f32> {
    (0..4 * 64)
        .map(|i| (((i as u64 * 29 + step * 5) % 13) as f32 / 6.0) - 1.0)
        .collect()
}

#[test]
fn progressive_training_grows_and_resumes_exactly() {
    let g = gpu();
    let mut straight = Trainer::new(&g, &train_cfg(), &train_tc()).unwrap();
    assert!(
        straight.cfg.progressive,
        "progressive training makes the config progressive"
    );
    let get = |t: &Trainer, net: &str, name: &str| {
        let p = if net == "G" { &t.g.params } else { &t.d.params };
        p.get(name).unwrap().to_vec().unwrap()
    };
    let watched = [
        ("G", "G_synthesis/8x8/Conv1/weight"),
        ("G", "G_synthesis/ToRGB_lod1/weight"),
        ("G", "G_synthesis/ToRGB_lod0/weight"),
        ("D", "8x8/Conv0/weight"),
        ("D", "FromRGB_lod1/weight"),
        ("D", "FromRGB_lod0/weight"),
    ];
    let before: Vec<Vec<f32>> = watched.iter().map(|(n, v)| get(&straight, n, v)).collect();
    let mut lods = vec![];
    let mut resets = vec![];
    for s in 0..6 {
        lods.push(straight.lod());
        let l = straight.step(&reals(s)).unwrap().read().unwrap();
        assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
        resets.push(straight.state.opt_reset_step);
        if s == 1 {
            // At lod 1 (8x8 faded out entirely): the 8x8 blocks and lod-0 layers do not move.
            for ((net, name), b) in watched.iter().zip(&before) {
                let moved = get(&straight, net, name)
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                eprintln!("after 2 steps at lod 1: {net}/{name} moved {moved:.2e}");
                assert_eq!(
                    moved == 0.0,
                    name.contains("8x8") || name.ends_with("lod0/weight"),
                    "{name}"
                );
            }
        }
    }
    eprintln!("lods {lods:?}; optimizer reset steps {resets:?}");
    assert_eq!(&lods[..3], &[1.0, 1.0, 1.0]);
    assert!(
        (lods[3] - 0.5).abs() < 1e-4 && lods[4] < 1e-4 && lods[5] == 0.0,
        "{lods:?}"
    );
    // Resets where floor(lod) changes (1 -> 0.5) and where ceil(lod) changes (-> 0).
    assert_eq!(
        resets,
        [
            0,
            0,
            0,
            3,
            if lods[4] > 0.0 { 3 } else { 4 },
            if lods[4] > 0.0 { 5 } else { 4 }
        ]
    );
    let snap = straight.snapshot().unwrap();
    assert_eq!(snap.nets["G"]["G_synthesis/lod"].data, [lods[5]]);
    assert_eq!(snap.nets["Gs"]["G_synthesis/lod"].data, [lods[5]]);
    assert_eq!(snap.nets["D"]["lod"].data, [lods[5]]);
    assert!(snap.config.progressive);

    let mut first = Trainer::new(&g, &train_cfg(), &train_tc()).unwrap();
    for s in 0..4 {
        first.step(&reals(s)).unwrap();
    }
    let bytes = to_bytes(&first.snapshot().unwrap()).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&g, &from_bytes(&bytes, "snapshot").unwrap()).unwrap();
    assert!(resumed.tc.progressive && resumed.cfg.progressive);
    for s in 4..6 {
        resumed.step(&reals(s)).unwrap();
    }
    let b = resumed.snapshot().unwrap();
    let mut worst = 0.0f32;
    for (net, w) in &snap.nets {
        for (name, t) in w {
            let u = &b.nets[net][name];
            assert_eq!(t.shape, u.shape);
            let d = t
                .data
                .iter()
                .zip(&u.data)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            worst = worst.max(d);
            assert!(d <= 1e-6, "{net}/{name} differs by {d}");
        }
    }
    eprintln!("6 progressive steps straight vs 4 + resume + 2: max difference {worst:.2e}");
    assert_eq!(snap.metadata, b.metadata);
}
