//! The whole generator on the GPU vs the f64 reference generator: mapping, synthesis in every
//! noise mode, truncation, style mixing, full generation, and parameter gradients against
//! central finite differences of the reference (what training relies on). Tiny configs cover
//! both up-conv paths (fused and nearest + conv) and 3- and 1-channel outputs.

mod common;
use common::*;
use stylegan_wgpu::autodiff::grad_scalar;
use stylegan_wgpu::nn::params::layer_side;
use stylegan_wgpu::nn::{Config, FusedScale, Generator, HostWeights, NoiseMode};
use stylegan_wgpu::ops;
use stylegan_wgpu::reference::generator::{RefGenerator, RefNoise};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::tape::Var;

const TOL: f64 = 1e-4;

fn tiny(resolution: usize, fused: FusedScale, channels: usize) -> Config {
    Config {
        resolution,
        num_channels: channels,
        latent_size: 16,
        dlatent_size: 16,
        mapping_layers: 2,
        mapping_fmaps: 16,
        fmap_base: 64,
        fmap_max: 16,
        fused_scale: fused,
        ..Config::default()
    }
}

fn weights(cfg: &Config, seed: u64) -> HostWeights {
    lively_generator_weights(cfg, seed, 0.5)
}

fn noise_maps(cfg: &Config, n: usize, seed: u64) -> Vec<Arr> {
    let mut r = rng(seed);
    (0..cfg.num_layers())
        .map(|i| {
            let s = layer_side(i);
            randn(&mut r, &[n, 1, s, s])
        })
        .collect()
}

fn constant(g: &stylegan_wgpu::Gpu, a: &Arr) -> Var {
    Var::constant(upload(g, a))
}

fn configs() -> Vec<(&'static str, Config)> {
    vec![
        ("16px fused rgb", tiny(16, FusedScale::On, 3)),
        ("16px unfused gray", tiny(16, FusedScale::Off, 1)),
        ("32px auto (unfused) rgb", tiny(32, FusedScale::Auto, 3)),
    ]
}

#[test]
fn generator_matches_reference() {
    let g = gpu();
    let n = 2;
    for (k, (label, cfg)) in configs().into_iter().enumerate() {
        let hw = weights(&cfg, 100 + k as u64);
        let gen = Generator::new(&g, &cfg, &hw).expect("generator");
        let rf = RefGenerator::new(&cfg, &hw);
        let mut r = rng(7 + k as u64);
        let z1 = randn(&mut r, &[n, cfg.latent_size]);
        let z2 = randn(&mut r, &[n, cfg.latent_size]);
        let (z1v, z2v) = (constant(&g, &z1), constant(&g, &z2));

        // Mapping.
        let w1_ref = rf.mapping(&z1);
        let w1 = gen.mapping(&z1v).unwrap();
        assert_close(&format!("{label}: mapping"), &download(&w1), &w1_ref, TOL);
        let w2_ref = rf.mapping(&z2);
        let w2 = gen.mapping(&z2v).unwrap();

        // Synthesis from the same (reference) w, in each noise mode.
        let wv = constant(&g, &w1_ref);
        let img = gen.synthesis(&wv, NoiseMode::Const).unwrap();
        assert_eq!(
            img.shape(),
            [n, cfg.num_channels, cfg.resolution, cfg.resolution]
        );
        assert_close(
            &format!("{label}: synthesis const noise"),
            &download(&img),
            &rf.synthesis(&w1_ref, RefNoise::Const),
            TOL,
        );
        let img = gen.synthesis(&wv, NoiseMode::None).unwrap();
        assert_close(
            &format!("{label}: synthesis no noise"),
            &download(&img),
            &rf.synthesis(&w1_ref, RefNoise::None),
            TOL,
        );
        let maps = noise_maps(&cfg, n, 11);
        let mv: Vec<Var> = maps.iter().map(|m| constant(&g, m)).collect();
        let img = gen.synthesis(&wv, NoiseMode::Explicit(mv)).unwrap();
        assert_close(
            &format!("{label}: synthesis explicit noise"),
            &download(&img),
            &rf.synthesis(&w1_ref, RefNoise::Explicit(&maps)),
            TOL,
        );

        // Truncation and mixing.
        let t = gen.truncate(&w1, 0.7, 2).unwrap();
        assert_close(
            &format!("{label}: truncate psi 0.7 cutoff 2"),
            &download(&t),
            &rf.truncate(&w1_ref, 0.7, 2),
            TOL,
        );
        let l = cfg.num_layers();
        for kx in [0, 2, l] {
            let m = Generator::mix(&w1, &w2, kx).unwrap();
            assert_close(
                &format!("{label}: mix k={kx}"),
                &download(&m),
                &RefGenerator::mix(&w1_ref, &w2_ref, kx),
                TOL,
            );
        }

        // End to end, truncated, const noise.
        let img = gen.generate(&z1v, 0.7, 2, NoiseMode::Const).unwrap();
        assert_close(
            &format!("{label}: generate psi 0.7 cutoff 2"),
            &download(&img),
            &rf.generate(&z1, 0.7, 2, RefNoise::Const),
            TOL,
        );
    }
}

#[test]
fn random_noise_is_fresh_and_seeded() {
    let g = gpu();
    let cfg = tiny(16, FusedScale::Off, 3);
    let gen = Generator::new(&g, &cfg, &weights(&cfg, 5)).unwrap();
    let z = constant(&g, &randn(&mut rng(1), &[2, cfg.latent_size]));
    gen.seed_noise(42);
    let a = download(&gen.generate(&z, 1.0, 0, NoiseMode::Random).unwrap());
    let b = download(&gen.generate(&z, 1.0, 0, NoiseMode::Random).unwrap());
    gen.seed_noise(42);
    let c = download(&gen.generate(&z, 1.0, 0, NoiseMode::Random).unwrap());
    let (diff, _) = errors(&a.data, &b.data);
    eprintln!("random noise: consecutive calls differ by {diff:.3e}");
    assert!(diff > 1e-3, "two random-noise calls gave the same image");
    assert_eq!(a.data, c.data, "reseeding must reproduce the noise");
    // The noise reaches the image.
    let none = download(&gen.generate(&z, 1.0, 0, NoiseMode::None).unwrap());
    assert!(errors(&a.data, &none.data).0 > 1e-3);
}

#[test]
fn shape_errors_are_clear() {
    let g = gpu();
    let cfg = tiny(16, FusedScale::Off, 3);
    let gen = Generator::new(&g, &cfg, &weights(&cfg, 5)).unwrap();
    let z = constant(&g, &Arr::zeros(&[2, 7]));
    let e = gen.mapping(&z).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(
        e.contains("latent_size = 16") && e.contains("[2, 7]"),
        "{e}"
    );
    let w = constant(&g, &Arr::zeros(&[2, 5, 16]));
    let e = gen.synthesis(&w, NoiseMode::Const).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(
        e.contains("num_layers = 6") && e.contains("[2, 5, 16]"),
        "{e}"
    );
    let w = constant(&g, &Arr::zeros(&[2, 6, 16]));
    let bad: Vec<Var> = (0..6)
        .map(|_| constant(&g, &Arr::zeros(&[2, 1, 4, 4])))
        .collect();
    let e = gen
        .synthesis(&w, NoiseMode::Explicit(bad))
        .unwrap_err()
        .to_string();
    eprintln!("{e}");
    assert!(e.contains("noise map 2"), "{e}");
    let e = Generator::mix(&w, &w, 7).unwrap_err().to_string();
    assert!(e.contains("crossover 7"), "{e}");
    let mut hw = weights(&cfg, 5);
    hw.remove("G_synthesis/8x8/Conv1/StyleMod/bias");
    let e = Generator::new(&g, &cfg, &hw)
        .err()
        .expect("missing variable")
        .to_string();
    eprintln!("{e}");
    assert!(e.contains("G_synthesis/8x8/Conv1/StyleMod/bias"), "{e}");
}

/// d(sum(G(z) * R)) / d(parameters) on the GPU, projected on random directions, vs central
/// finite differences of the f64 reference along the same directions.
#[test]
fn parameter_gradients_match_finite_differences() {
    let g = gpu();
    let n = 2;
    let names = [
        "G_synthesis/4x4/Const/const",
        "G_synthesis/8x8/Conv0_up/weight",
        "G_synthesis/16x16/Conv1/StyleMod/weight",
        "G_synthesis/8x8/Conv1/Noise/weight",
        "G_synthesis/ToRGB_lod0/bias",
        "G_mapping/Dense0/weight",
        "G_mapping/Dense1/bias",
    ];
    for (k, (label, cfg)) in configs().into_iter().take(2).enumerate() {
        let hw = weights(&cfg, 200 + k as u64);
        let gen = Generator::new(&g, &cfg, &hw).unwrap();
        let rf = RefGenerator::new(&cfg, &hw);
        let mut r = rng(300 + k as u64);
        let z = randn(&mut r, &[n, cfg.latent_size]);
        let img_shape = [n, cfg.num_channels, cfg.resolution, cfg.resolution];
        let proj = randn(&mut r, &img_shape);
        let (psi, cutoff) = (0.7, 2);

        let img = gen
            .generate(&constant(&g, &z), psi, cutoff, NoiseMode::Const)
            .unwrap();
        let loss = ops::sum(&ops::mul(&img, &constant(&g, &proj)).unwrap()).unwrap();
        let vars: Vec<Var> = names
            .iter()
            .map(|nm| gen.params.get(nm).unwrap().clone())
            .collect();
        let grads = grad_scalar(&loss, &vars, false).unwrap();

        let f = |rg: &RefGenerator| {
            rg.generate(&z, psi as f64, cutoff, RefNoise::Const)
                .dot(&proj)
        };
        for (nm, gv) in names.iter().zip(&grads) {
            let gv = download(gv.as_ref().unwrap_or_else(|| panic!("{nm}: no gradient")));
            let dir = randn(&mut r, &gv.shape);
            let got = gv.dot(&dir);
            // Steps relative to the variable's scale (mapping weights have std 1/lrmul), small
            // because instance norm makes the loss strongly curved (the truncation error of a
            // 1e-3 step is ~1e-2); f64 keeps the rounding error of a 1e-6 step negligible.
            let scale = rf.get(nm).data.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let eps = 1e-6 * scale;
            let mut rp = rf.clone();
            let mut rm = rf.clone();
            for ((p, m), d) in rp
                .weights
                .get_mut(*nm)
                .unwrap()
                .data
                .iter_mut()
                .zip(rm.weights.get_mut(*nm).unwrap().data.iter_mut())
                .zip(&dir.data)
            {
                *p += eps * d;
                *m -= eps * d;
            }
            let want = (f(&rp) - f(&rm)) / (2.0 * eps);
            let rel = (got - want).abs() / want.abs().max(1e-6);
            eprintln!("{label}: d/d {nm:<42} gpu {got:+.6e}  fd {want:+.6e}  rel {rel:.2e}");
            assert!(
                rel <= 1e-3,
                "{label}: gradient wrt {nm}: rel error {rel:.2e}"
            );
        }
    }
}

/// Truncation without a cutoff reaches the model's `truncation_cutoff` layers (8 in official
/// networks), as the release's `Gs.run(z, None, truncation_psi=0.7)`: not every layer. A 64²
/// network has 10 layers, so the two differ.
#[test]
fn truncation_defaults_to_the_models_cutoff() {
    use stylegan_wgpu::nn::generator::{Cutoff, Truncation};
    let g = gpu();
    let mut cfg = tiny(64, FusedScale::Auto, 1);
    cfg.fmap_max = 4;
    assert_eq!((cfg.num_layers(), cfg.truncation_cutoff), (10, 8));
    let hw = weights(&cfg, 77);
    let z = randn(&mut rng(78), &[2, cfg.latent_size]);
    let zf: Vec<f32> = z.data.iter().map(|&v| v as f32).collect();
    let w_ref = RefGenerator::new(&cfg, &hw).mapping(&z);
    let dl = |gen: &Generator, t: Truncation| {
        let w = gen.map_latents(&zf, &t).unwrap();
        Arr::new(&w_ref.shape, w.iter().map(|&v| v as f64).collect())
    };
    let rf = RefGenerator::new(&cfg, &hw);
    let gen = Generator::new(&g, &cfg, &hw).unwrap();
    let default = dl(&gen, Truncation::psi(0.7));
    assert_close(
        "psi 0.7, no cutoff",
        &default,
        &rf.truncate(&w_ref, 0.7, 8),
        TOL,
    );
    assert_close(
        "psi 0.7, cutoff all",
        &dl(&gen, Truncation::all_layers(0.7)),
        &rf.truncate(&w_ref, 0.7, 10),
        TOL,
    );
    let (gap, _) = errors(&default.data, &rf.truncate(&w_ref, 0.7, 10).data);
    eprintln!("default vs every layer: max |dw| {gap:.3}");
    assert!(gap > 1e-2, "the default cutoff truncated every layer");
    // Cutoff 0 truncates nothing (the release's cutoff <= 0), and a model's own cutoff rules.
    assert_close("cutoff 0", &dl(&gen, Truncation::new(0.7, 0)), &w_ref, TOL);
    cfg.truncation_cutoff = 3;
    let gen = Generator::new(&g, &cfg, &hw).unwrap();
    assert_close(
        "model cutoff 3",
        &dl(&gen, Truncation::psi(0.7)),
        &rf.truncate(&w_ref, 0.7, 3),
        TOL,
    );
    assert_eq!(Cutoff::Layers(99).layers(&cfg), 10);
    assert!("eight".parse::<Cutoff>().unwrap_err().contains("all"));
}

/// A call that fails halfway (out of memory at a layer of a huge batch) leaves nothing
/// recorded: the next call neither runs the failed call's work nor changes its result.
#[test]
fn a_failed_call_leaves_nothing_recorded() {
    let g = gpu();
    let cfg = tiny(32, FusedScale::Auto, 3);
    let gen = Generator::new(&g, &cfg, &weights(&cfg, 7)).unwrap();
    let (l, d) = (cfg.num_layers(), cfg.dlatent_size);
    let w_small = randn(&mut rng(3), &[2, l, d]);
    let images = |w: &Arr| -> (Vec<f32>, usize) {
        let wv = constant(&g, w);
        let before = g.pending_commands();
        let y = gen.synthesis(&wv, NoiseMode::Const).unwrap();
        let recorded = g.pending_commands() - before;
        (y.to_vec().unwrap(), recorded)
    };
    let (first, recorded_first) = images(&w_small);

    // A batch whose 32x32 feature maps outgrow the adapter's largest buffer: the first
    // layers are recorded, then one allocation is refused.
    let per_image = 32 * 32 * 4;
    let n = (g.max_tensor_bytes() / per_image + 1) as usize;
    let big = Var::constant(stylegan_wgpu::Tensor::zeros(&g, &[n, l, d]).unwrap());
    let before = g.pending_commands();
    let err = gen.synthesis(&big, NoiseMode::Const).unwrap_err();
    eprintln!("batch {n}: {err}");
    assert!(
        err.to_string().contains("memory") || err.to_string().contains("MiB"),
        "expected an out-of-memory error, got: {err}"
    );
    assert_eq!(
        g.pending_commands(),
        before,
        "the failed synthesis left {} commands recorded",
        g.pending_commands() - before
    );
    drop(big);

    let (again, recorded_again) = images(&w_small);
    assert_eq!(recorded_again, recorded_first);
    assert_eq!(
        first, again,
        "the call after the failure changed its result"
    );
}

/// `synthesize_stream` hands each batch on as it is made, equal to the one-call result, and
/// ends after the batch on which the sink says stop.
#[test]
fn synthesis_streams_batches_and_stops_when_told() {
    use stylegan_wgpu::nn::generator::Flow;
    let g = gpu();
    let cfg = tiny(16, FusedScale::On, 3);
    let gen = Generator::new(&g, &cfg, &weights(&cfg, 11)).unwrap();
    let row = cfg.num_layers() * cfg.dlatent_size;
    let w: Vec<f32> = randn(&mut rng(5), &[7, cfg.num_layers(), cfg.dlatent_size])
        .data
        .iter()
        .map(|&v| v as f32)
        .collect();
    let whole = gen.synthesize_dlatents(&w, NoiseMode::Const).unwrap();
    let mut firsts = Vec::new();
    let mut streamed = Vec::new();
    let done = gen
        .synthesize_stream(&w, 3, NoiseMode::Const, &mut |first, images| {
            firsts.push((first, images.len()));
            streamed.extend(images);
            Ok(Flow::Continue)
        })
        .unwrap();
    assert_eq!(firsts, vec![(0, 3), (3, 3), (6, 1)]);
    assert_eq!((done.made, done.of, done.stopped), (7, 7, false));
    assert!(done.non_finite.is_empty());
    for (a, b) in streamed.iter().zip(&whole) {
        assert_eq!(
            a.data, b.data,
            "a streamed image differs from the one-call result"
        );
    }
    let mut calls = 0;
    let done = gen
        .synthesize_stream(&w, 3, NoiseMode::Const, &mut |_, _| {
            calls += 1;
            Ok(Flow::Stop)
        })
        .unwrap();
    assert_eq!((calls, done.made, done.stopped), (1, 3, true));
    assert_eq!(w.len(), 7 * row);
}
