//! A few training steps on a tiny config: finite losses, weights move, Gs follows G with the
//! right beta, and resuming from a snapshot continues exactly.

mod common;
use common::*;
use stylegan_wgpu::io::safetensors::{from_bytes, to_bytes};
use stylegan_wgpu::nn::Config;
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::Var;

fn tiny() -> Config {
    common::tiny8()
}

fn reals(step: u64) -> Vec<f32> {
    (0..4 * 64)
        .map(|i| (((i as u64 * 31 + step * 7) % 17) as f32 / 8.0) - 1.0)
        .collect()
}

fn tc() -> TrainConfig {
    TrainConfig {
        batch: 4,
        g_ema_kimg: 0.01,
        seed: 7,
        ..TrainConfig::default()
    }
}

#[test]
fn steps_change_weights_and_gs_follows_g() {
    let g = gpu();
    let mut t = Trainer::new(&g, &tiny(), &tc()).unwrap();
    let w = "G_synthesis/4x4/Conv/weight";
    let dw = "4x4/Dense0/weight";
    let g0 = t.g.params.get(w).unwrap().to_vec().unwrap();
    let d0 = t.d.params.get(dw).unwrap().to_vec().unwrap();
    let gs0 = t.gs.params.get(w).unwrap().to_vec().unwrap();
    assert_eq!(g0, gs0, "Gs starts as a copy of G");
    let l = t.step(&reals(0)).unwrap().read().unwrap();
    eprintln!(
        "step 1: g_loss {:.4} d_loss {:.4} r1 {:.4} d_real {:.4} d_fake {:.4}",
        l[0], l[1], l[2], l[3], l[4]
    );
    assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
    let g1 = t.g.params.get(w).unwrap().to_vec().unwrap();
    let d1 = t.d.params.get(dw).unwrap().to_vec().unwrap();
    let gs1 = t.gs.params.get(w).unwrap().to_vec().unwrap();
    let moved = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    eprintln!(
        "max change: G {:.3e}, D {:.3e}",
        moved(&g0, &g1),
        moved(&d0, &d1)
    );
    assert!(
        moved(&g0, &g1) > 1e-5 && moved(&d0, &d1) > 1e-5,
        "weights must move"
    );
    let beta = tc().ema_beta(4);
    assert!(beta > 0.0 && beta < 1.0);
    let err = gs1
        .iter()
        .zip(g1.iter().zip(&g0))
        .map(|(gs, (g1, g0))| (gs - (g1 + (g0 - g1) * beta)).abs())
        .fold(0.0f32, f32::max);
    eprintln!("Gs = lerp(G, Gs, beta={beta:.5}): max err {err:.2e}");
    assert!(err < 1e-6);
    for s in 1..3 {
        let l = t.step(&reals(s)).unwrap().read().unwrap();
        assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
    }
    assert_eq!(t.state.step, 3);
    assert_eq!(t.state.cur_nimg, 12);
}

#[test]
fn resume_continues_exactly() {
    let g = gpu();
    let mut straight = Trainer::new(&g, &tiny(), &tc()).unwrap();
    for s in 0..4 {
        straight.step(&reals(s)).unwrap();
    }
    let mut first = Trainer::new(&g, &tiny(), &tc()).unwrap();
    for s in 0..2 {
        first.step(&reals(s)).unwrap();
    }
    let bytes = to_bytes(&first.snapshot().unwrap()).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(&g, &from_bytes(&bytes, "snapshot").unwrap()).unwrap();
    for s in 2..4 {
        resumed.step(&reals(s)).unwrap();
    }
    let a = straight.snapshot().unwrap();
    let b = resumed.snapshot().unwrap();
    let mut worst = 0.0f32;
    for (net, w) in &a.nets {
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
    eprintln!("4 steps straight vs 2 + resume + 2: max difference {worst:.2e}");
    assert_eq!(a.metadata, b.metadata);
}

/// D's gradients arrive in three parts (fakes, reals, R1) that Adam adds in its own dispatch,
/// from one buffer holding a copy of the variables per part. Where the adapter's largest
/// buffer cannot hold three copies, the first parts are added beforehand, in the same order:
/// the step is the same bit for bit.
#[test]
fn a_step_is_the_same_when_the_gradient_parts_do_not_fit_one_buffer() {
    let cfg = tiny();
    let specs = stylegan_wgpu::nn::params::discriminator_specs(&cfg);
    let d_values: usize = specs
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    // Room for D's variables twice (with alignment padding of up to 256 bytes each), not
    // three times.
    let small = (((2 * (d_values + 64 * specs.len())) * 4) as u64).next_multiple_of(256);
    assert!(
        3 * d_values * 4 > small as usize,
        "D too small for the test"
    );
    let run = |gpu: &stylegan_wgpu::Gpu| {
        let mut t = Trainer::new(gpu, &cfg, &tc()).unwrap();
        for s in 0..2 {
            t.step(&reals(s)).unwrap();
        }
        (
            t.d.params.download().unwrap(),
            t.g.params.download().unwrap(),
        )
    };
    let whole = run(&gpu());
    let limited = run(&gpu_with(stylegan_wgpu::gpu::Policy {
        max_binding: Some(small),
        ..stylegan_wgpu::gpu::Policy::from_env().untuned()
    }));
    eprintln!("D: {d_values} values; largest buffer {small} bytes");
    assert!(whole == limited, "the step changed with the buffer limit");
}

/// `freeze_d`: the frozen blocks of D (from the input: FromRGB and the highest resolutions)
/// keep their weights through steps while the rest of D and G train; too many is refused.
#[test]
fn freeze_d_keeps_the_first_blocks_of_d() {
    let g = gpu();
    let mut cfg = tiny();
    cfg.resolution = 16; // blocks 16x16 and 8x8 above 4x4
    let frozen_tc = TrainConfig {
        freeze_d: 1,
        ..tc()
    };
    let mut t = Trainer::new(&g, &cfg, &frozen_tc).unwrap();
    let before: Vec<(String, Vec<f32>)> =
        t.d.params
            .trainable()
            .into_iter()
            .map(|(n, v)| (n, v.value().to_vec().unwrap()))
            .collect();
    let reals16: Vec<f32> = (0..4 * 256)
        .map(|i| ((i * 13 % 29) as f32 / 14.0) - 1.0)
        .collect();
    for _ in 0..2 {
        let l = t.step(&reals16).unwrap().read().unwrap();
        assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
    }
    let (mut kept, mut trained) = (Vec::new(), Vec::new());
    for (name, b) in &before {
        let a = t.d.params.get(name).unwrap().to_vec().unwrap();
        let moved = a != *b;
        let frozen = frozen_tc.d_frozen(&cfg, name);
        assert_eq!(moved, !frozen, "{name}: frozen {frozen}, moved {moved}");
        if frozen {
            kept.push(name.clone())
        } else {
            trained.push(name.clone())
        }
    }
    eprintln!("frozen: {kept:?}\ntrained: {trained:?}");
    assert!(
        kept.iter().any(|n| n.starts_with("FromRGB_lod0/"))
            && kept.iter().any(|n| n.starts_with("16x16/"))
    );
    assert!(
        trained.iter().any(|n| n.starts_with("8x8/"))
            && trained.iter().any(|n| n.starts_with("4x4/"))
    );

    let too_many = TrainConfig {
        freeze_d: 3,
        ..tc()
    };
    let e = Trainer::new(&g, &cfg, &too_many)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("--freeze-d 3") && e.contains("2 block(s)"),
        "{e}"
    );
}

/// The release's ramp-up scales the step's rate by `cur_nimg / (lr_rampup_kimg * 1000)`: the
/// first step (0 images shown) leaves every weight as it is, the next moves them.
#[test]
fn lr_rampup_starts_from_zero() {
    let g = gpu();
    let ramp = TrainConfig {
        lr_rampup_kimg: 1.0,
        ..tc()
    };
    let mut t = Trainer::new(&g, &tiny(), &ramp).unwrap();
    let snap = |t: &Trainer| -> Vec<Vec<f32>> {
        t.g.params
            .trainable()
            .into_iter()
            .chain(t.d.params.trainable())
            .map(|(_, v)| v.value().to_vec().unwrap())
            .collect()
    };
    let w0 = snap(&t);
    t.step(&reals(0)).unwrap();
    assert_eq!(
        snap(&t),
        w0,
        "a rate ramped from 0 must leave the first step's weights"
    );
    t.step(&reals(1)).unwrap();
    assert_ne!(
        snap(&t),
        w0,
        "the second step (4 images shown) must move them"
    );
}

/// Each trainable variable of G: name, value before one step on `reals(0)`, value after.
fn g_around_a_step(t: &mut Trainer) -> Vec<(String, Vec<f32>, Vec<f32>)> {
    let before: Vec<(String, Vec<f32>)> =
        t.g.params
            .trainable()
            .into_iter()
            .map(|(n, v)| (n, v.value().to_vec().unwrap()))
            .collect();
    t.step(&reals(0)).unwrap().read().unwrap();
    before
        .into_iter()
        .map(|(n, b)| {
            let a = t.g.params.get(&n).unwrap().to_vec().unwrap();
            (n, b, a)
        })
        .collect()
}

/// `noise_lrmul`: G's noise strengths move by that fraction of the update they get at 1 (an
/// Adam step is proportional to the rate) and not at all at 0, while every other variable
/// moves exactly as at 1; out of range is refused naming the flag.
#[test]
fn noise_lrmul_scales_only_the_noise_strengths_updates() {
    let g = gpu();
    let cfg = tiny();
    // Name, value before, value after one step.
    let step = |mul: f32| -> Vec<(String, Vec<f32>, Vec<f32>)> {
        let tc = TrainConfig {
            noise_lrmul: mul,
            ..tc()
        };
        g_around_a_step(&mut Trainer::new(&g, &cfg, &tc).unwrap())
    };
    let (one, half, zero) = (step(1.0), step(0.5), step(0.0));
    let mut noise = 0;
    for ((name, b, a1), ((_, _, ah), (_, _, a0))) in one.iter().zip(half.iter().zip(&zero)) {
        if !name.ends_with("/Noise/weight") {
            assert_eq!(a1, ah, "{name} moved differently at 0.5");
            assert_eq!(a1, a0, "{name} moved differently at 0");
            continue;
        }
        noise += 1;
        assert_eq!(a0, b, "{name} moved at 0");
        let d1: Vec<f32> = a1.iter().zip(b).map(|(a, b)| a - b).collect();
        let dh: Vec<f32> = ah.iter().zip(b).map(|(a, b)| a - b).collect();
        let scale = d1.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name} did not move at 1");
        let err = d1
            .iter()
            .zip(&dh)
            .fold(0f32, |m, (x, y)| m.max((0.5 * x - y).abs()));
        eprintln!("{name}: max |update| {scale:.3e}, |0.5 * update(1) - update(0.5)| {err:.3e}");
        assert!(err <= 1e-5 * scale + 1e-9, "{name}: {err} of {scale}");
    }
    assert_eq!(
        noise,
        cfg.num_layers(),
        "one noise strength per synthesis layer"
    );
    let bad = TrainConfig {
        noise_lrmul: 1.5,
        ..tc()
    };
    let e = Trainer::new(&g, &cfg, &bad).err().unwrap().to_string();
    assert!(e.contains("--noise-lrmul"), "{e}");
}

/// `noise_decay` (AdamW's decoupled decay): one step takes each noise strength to
/// `(1 - lr * noise_lrmul * decay) * before` plus the update it gets without decay, and leaves
/// every other variable as without it; out of range is refused naming the flag.
#[test]
fn noise_decay_shrinks_only_the_noise_strengths() {
    let g = gpu();
    let cfg = tiny();
    let (lr, mul, decay) = (0.002f32, 0.5f32, 40.0f32);
    // Name, value before, value after one step; the strengths start away from their zero init.
    let step = |decay: f32| -> Vec<(String, Vec<f32>, Vec<f32>)> {
        let tc = TrainConfig {
            lr: Some(lr),
            noise_lrmul: mul,
            noise_decay: decay,
            ..tc()
        };
        let mut t = Trainer::new(&g, &cfg, &tc).unwrap();
        let mut r = rng(5);
        for (n, v) in t.g.params.trainable() {
            if n.ends_with("/Noise/weight") {
                let x = randn(&mut r, v.shape());
                t.g.params.set(&n, Var::constant(upload(&g, &x))).unwrap();
            }
        }
        g_around_a_step(&mut t)
    };
    let (plain, decayed) = (step(0.0), step(decay));
    let keep = 1.0 - (lr * mul * decay) as f64;
    let mut noise = 0;
    for ((name, b, a0), (_, _, ad)) in plain.iter().zip(&decayed) {
        if !name.ends_with("/Noise/weight") {
            assert_eq!(a0, ad, "{name} moved differently with the decay");
            continue;
        }
        noise += 1;
        let want: Vec<f64> = a0
            .iter()
            .zip(b)
            .map(|(&a, &b)| (a as f64 - b as f64) + keep * b as f64)
            .collect();
        let got: Vec<f64> = ad.iter().map(|&x| x as f64).collect();
        let (abs, rel) = errors(&got, &want);
        eprintln!("{name}: decayed step vs formula: abs {abs:.2e} rel {rel:.2e}");
        assert!(abs < 1e-6, "{name}: {abs}");
    }
    assert_eq!(noise, cfg.num_layers());
    let bad = TrainConfig {
        noise_decay: -1.0,
        ..tc()
    };
    let e = Trainer::new(&g, &cfg, &bad).err().unwrap().to_string();
    assert!(e.contains("--noise-decay"), "{e}");
}
