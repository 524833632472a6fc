//! `evaluate_losses` (what `stylegan losses` writes) on a tiny network vs the f64 references:
//! scores, the summed losses, the per-sample R1 penalty (central differences of the reference
//! D with respect to its input), G gradients along random directions (finite differences of
//! the reference g_loss) and D gradients of d_loss_r1 along random directions (nested finite
//! differences: the reference R1 is itself a finite difference). Then the `losses` and
//! `discriminate` commands end to end.

mod common;
use std::process::Command;

use common::tempdir::TempDir;
use common::*;
use safetensors::SafeTensors;
use stylegan_wgpu::io::images::{load_image_chw, save_png};
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::io::safetensors::{save, Checkpoint};
use stylegan_wgpu::nn::discriminator::Discriminator;
use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs, init_host};
use stylegan_wgpu::nn::{Config, FusedScale, HostWeights, NoiseMode};
use stylegan_wgpu::reference::discriminator::{discriminator as d_ref, RefWeights};
use stylegan_wgpu::reference::generator::{RefGenerator, RefNoise};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::train::inspect::{
    discriminate_batched, evaluate_losses, mbstd_batches, LossReport,
};

const N: usize = 4;
const GAMMA: f64 = 10.0;

fn tiny() -> Config {
    Config {
        resolution: 8,
        num_channels: 1,
        latent_size: 8,
        dlatent_size: 8,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 16,
        fmap_max: 4,
        fused_scale: FusedScale::Off,
        ..Config::default()
    }
}

/// Official init plus random biases, noise strengths and const (zeros / ones at init), so
/// every path matters (see tests/generator.rs: a flat const makes instance norm
/// ill-conditioned).
fn g_weights(cfg: &Config, seed: u64) -> HostWeights {
    let mut w = init_host(&generator_specs(cfg), seed);
    let mut r = rng(seed ^ 0xB1A5);
    for (name, t) in w.iter_mut() {
        let std = if name.starts_with("G_mapping/") && name.ends_with("/bias") {
            0.5 / cfg.mapping_lrmul as f64
        } else if name.ends_with("/bias") || name.ends_with("Noise/weight") {
            0.5
        } else if name.ends_with("Const/const") {
            1.0
        } else {
            continue;
        };
        t.data = randn(&mut r, &[t.data.len()])
            .data
            .iter()
            .map(|v| (v * std) as f32)
            .collect();
    }
    w
}

fn d_weights(cfg: &Config, seed: u64) -> HostWeights {
    let mut w = init_host(&discriminator_specs(cfg), seed);
    let mut r = rng(seed ^ 0xD15C);
    for (name, t) in w.iter_mut() {
        if name.ends_with("bias") {
            t.data = randn(&mut r, &t.shape)
                .data
                .iter()
                .map(|v| (0.2 * v) as f32)
                .collect();
        }
    }
    w
}

fn ref_weights(w: &HostWeights) -> RefWeights {
    w.iter()
        .map(|(k, t)| {
            let shape = if t.shape.is_empty() {
                vec![1]
            } else {
                t.shape.clone()
            };
            (k.clone(), Arr::from_f32(&shape, &t.data))
        })
        .collect()
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `||∂(Σ D(x))/∂x_i||²` per sample by central differences.
fn r1_ref(cfg: &Config, w: &RefWeights, x: &Arr, eps: f64) -> Vec<f64> {
    let mut xx = x.clone();
    let per = x.numel() / N;
    let mut out = vec![0.0; N];
    for j in 0..x.numel() {
        let v = x.data[j];
        xx.data[j] = v + eps;
        let fp: f64 = d_ref(cfg, w, &xx).data.iter().sum();
        xx.data[j] = v - eps;
        let fm: f64 = d_ref(cfg, w, &xx).data.iter().sum();
        xx.data[j] = v;
        out[j / per] += ((fp - fm) / (2.0 * eps)).powi(2);
    }
    out
}

fn d_loss_ref(cfg: &Config, w: &RefWeights, fakes: &Arr, x: &Arr) -> f64 {
    d_ref(cfg, w, fakes)
        .data
        .iter()
        .map(|&v| softplus(v))
        .sum::<f64>()
        + d_ref(cfg, w, x)
            .data
            .iter()
            .map(|&v| softplus(-v))
            .sum::<f64>()
}

fn d_loss_r1_ref(cfg: &Config, w: &RefWeights, fakes: &Arr, x: &Arr, gamma: f64) -> f64 {
    d_loss_ref(cfg, w, fakes, x) + gamma / 2.0 * r1_ref(cfg, w, x, 1e-6).iter().sum::<f64>()
}

fn g_loss_ref(cfg: &Config, rg: &RefGenerator, dw: &RefWeights, z: &Arr) -> f64 {
    let fakes = rg.generate(z, 1.0, 0, RefNoise::Const);
    d_ref(cfg, dw, &fakes)
        .data
        .iter()
        .map(|&v| softplus(-v))
        .sum()
}

fn scalar_check(what: &str, got: f32, want: f64, tol: f64) {
    let rel = (got as f64 - want).abs() / want.abs().max(1e-6);
    eprintln!("{what:<40} gpu {got:+.7e} ref {want:+.7e} rel {rel:.2e}");
    assert!(rel <= tol, "{what}: {got} vs {want}");
}

/// Directional derivatives `(name, gpu, fd)`; asserts each error relative to the largest.
fn check_rows(what: &str, rows: &[(String, f64, f64)], tol: f64) {
    let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.2.abs()));
    assert!(scale > 1e-6, "{what}: degenerate test, all derivatives ~0");
    let mut worst = 0.0f64;
    for (name, got, want) in rows {
        let err = (got - want).abs() / scale;
        worst = worst.max(err);
        eprintln!("{what} d/d{name:<40} gpu {got:+.6e} fd {want:+.6e} err/max {err:.2e}");
        assert!(
            err < tol,
            "{what}: gradient wrt {name}: gpu {got} vs finite differences {want}"
        );
    }
    eprintln!("{what}: max err/max {worst:.2e} (tol {tol:.0e})");
}

fn grad_of<'a>(
    grads: &'a [(String, stylegan_wgpu::nn::HostTensor)],
    name: &str,
) -> &'a stylegan_wgpu::nn::HostTensor {
    &grads
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no gradient for {name}"))
        .1
}

struct Setup {
    cfg: Config,
    gw: HostWeights,
    dw: HostWeights,
    z: Arr,
    x: Arr,
}

fn setup() -> Setup {
    let cfg = tiny();
    let mut r = rng(42);
    let z = randn(&mut r, &[N, cfg.latent_size]);
    let x = uniform(&mut r, &[N, 1, 8, 8], -1.0, 1.0);
    Setup {
        gw: g_weights(&cfg, 3),
        dw: d_weights(&cfg, 4),
        cfg,
        z,
        x,
    }
}

fn gpu_report(g: &stylegan_wgpu::Gpu, s: &Setup, gamma: f64) -> LossReport {
    evaluate_losses(
        g,
        &s.cfg,
        &s.gw,
        &s.dw,
        &s.z.to_f32(),
        &s.x.to_f32(),
        NoiseMode::Const,
        gamma as f32,
    )
    .expect("losses")
}

#[test]
fn losses_match_reference() {
    let g = gpu();
    let s = setup();
    let cfg = &s.cfg;
    let rep = gpu_report(&g, &s, GAMMA);
    let rg = RefGenerator::new(cfg, &s.gw);
    let dw = ref_weights(&s.dw);
    let fakes = rg.generate(&s.z, 1.0, 0, RefNoise::Const);

    let d_real = d_ref(cfg, &dw, &s.x);
    let d_fake = d_ref(cfg, &dw, &fakes);
    assert_close(
        "d_real",
        &Arr::from_f32(&[N, 1], &rep.d_real),
        &d_real,
        1e-4,
    );
    assert_close(
        "d_fake",
        &Arr::from_f32(&[N, 1], &rep.d_fake),
        &d_fake,
        1e-4,
    );
    scalar_check("g_loss", rep.g_loss, g_loss_ref(cfg, &rg, &dw, &s.z), 1e-4);
    let dl = d_loss_ref(cfg, &dw, &fakes, &s.x);
    scalar_check("d_loss", rep.d_loss, dl, 1e-4);
    let r1 = r1_ref(cfg, &dw, &s.x, 1e-6);
    assert_close(
        "r1_penalty",
        &Arr::from_f32(&[N], &rep.r1_penalty),
        &Arr::new(&[N], r1.clone()),
        1e-4,
    );
    scalar_check(
        "d_loss_r1",
        rep.d_loss_r1,
        dl + GAMMA / 2.0 * r1.iter().sum::<f64>(),
        1e-4,
    );

    // Every trainable variable has a gradient of its own shape.
    for (specs, grads, net) in [
        (generator_specs(cfg), &rep.g_grads, "G"),
        (discriminator_specs(cfg), &rep.d_grads, "D"),
    ] {
        let want: Vec<_> = specs
            .iter()
            .filter(|s| s.trainable)
            .map(|s| (s.name.clone(), s.shape.clone()))
            .collect();
        let got: Vec<_> = grads
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone()))
            .collect();
        assert_eq!(got, want, "{net} gradient names/shapes");
    }

    // g_loss wrt a few G variables along random directions.
    let mut r = rng(77);
    let names = [
        "G_mapping/Dense0/weight",
        "G_mapping/Dense1/bias",
        "G_synthesis/4x4/Const/const",
        "G_synthesis/4x4/Conv/StyleMod/weight",
        "G_synthesis/8x8/Conv0_up/weight",
        "G_synthesis/8x8/Conv1/Noise/weight",
        "G_synthesis/ToRGB_lod0/bias",
    ];
    let mut rows = vec![];
    for name in names {
        let gt = grad_of(&rep.g_grads, name);
        let u = randn(&mut r, &gt.shape);
        let got = Arr::from_f32(&gt.shape, &gt.data).dot(&u);
        // Steps relative to the variable's scale (mapping variables are O(1/lrmul)).
        let eps = 1e-6 * rg.get(name).data.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let f = |t: f64| {
            let mut p = rg.clone();
            let w = p.weights.get_mut(name).unwrap();
            *w = w.zip(&u, |a, b| a + t * b);
            g_loss_ref(cfg, &p, &dw, &s.z)
        };
        rows.push((name.to_string(), got, (f(eps) - f(-eps)) / (2.0 * eps)));
    }
    check_rows("g_loss", &rows, 1e-3);

    // d_loss_r1 wrt every D variable along random directions, fakes fixed; nested differences
    // (outer 1e-5, inner 1e-6) because lrelu's kinks spoil larger steps. With gamma = 10 the
    // R1 term of this network is ~0.5% of the loss, so a large gamma makes the gradient of the
    // gradient dominate what is checked.
    let big = 1000.0;
    let rep_big = gpu_report(&g, &s, big);
    scalar_check(
        "d_loss_r1 (gamma 1000)",
        rep_big.d_loss_r1,
        d_loss_r1_ref(cfg, &dw, &fakes, &s.x, big),
        1e-4,
    );
    let eps = 1e-5;
    let mut rows = vec![];
    for (name, gt) in &rep_big.d_grads {
        let u = randn(&mut r, &gt.shape);
        let got = Arr::from_f32(&gt.shape, &gt.data).dot(&u);
        let f = |t: f64| {
            let mut w = dw.clone();
            let p = w.get_mut(name).unwrap();
            *p = p.zip(&u, |a, b| a + t * b);
            d_loss_r1_ref(cfg, &w, &fakes, &s.x, big)
        };
        rows.push((name.clone(), got, (f(eps) - f(-eps)) / (2.0 * eps)));
    }
    check_rows("d_loss_r1 (gamma 1000)", &rows, 1e-3);
}

#[test]
fn batching_respects_minibatch_stddev() {
    let cfg = tiny();
    assert_eq!(mbstd_batches(&cfg, 11, 8).unwrap(), vec![8, 3]);
    assert_eq!(mbstd_batches(&cfg, 14, 4).unwrap(), vec![4, 4, 4, 2]);
    assert_eq!(mbstd_batches(&cfg, 7, 16).unwrap(), vec![4, 3]);
    assert_eq!(mbstd_batches(&cfg, 2, 3).unwrap(), vec![2]);
    let e = mbstd_batches(&cfg, 12, 6).unwrap_err().to_string();
    assert!(
        e.contains("batch size 6") && e.contains("groups of 4"),
        "{e}"
    );
    let g = gpu();
    let s = setup();
    let e = evaluate_losses(
        &g,
        &s.cfg,
        &s.gw,
        &s.dw,
        &[0.5; 6 * 8],
        &[0.0; 6 * 64],
        NoiseMode::Const,
        10.0,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("6 samples") && e.contains("groups of 4"), "{e}");
}

fn stylegan(dir: &TempDir, args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_stylegan"))
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("cannot start the stylegan binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !text.contains("panicked"),
        "stylegan {args:?} panicked:\n{text}"
    );
    (o.status.success(), text)
}

#[test]
fn losses_and_discriminate_commands() {
    let dir = TempDir::new("commands");
    std::fs::create_dir_all(dir.path("pngs")).unwrap();
    let p = |rel: &str| dir.0.join(rel).display().to_string();
    let s = setup();
    let mut m = Checkpoint {
        config: s.cfg.clone(),
        ..Default::default()
    };
    m.nets.insert("G".into(), s.gw.clone());
    m.nets.insert("Gs".into(), s.gw.clone());
    m.nets.insert("D".into(), s.dw.clone());
    save(&dir.0.join("m.safetensors"), &m).unwrap();
    write_npy(p("z.npy"), &[N, 8], &s.z.to_f32()).unwrap();
    write_npy(p("reals.npy"), &[N, 1, 8, 8], &s.x.to_f32()).unwrap();

    let (ok, out) = stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "m.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "reals.npy",
            "--noise-mode",
            "const",
            "--out",
            "l.safetensors",
        ],
    );
    assert!(ok, "losses failed:\n{out}");
    let bytes = std::fs::read(p("l.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let g = gpu();
    let want = gpu_report(&g, &s, GAMMA);
    let tensors = want.tensors();
    assert_eq!(st.len(), tensors.len(), "tensor count");
    for name in [
        "grad/G/G_mapping/Dense0/weight",
        "grad/G/G_synthesis/4x4/Const/const",
        "grad/D/4x4/Dense1/bias",
    ] {
        assert!(tensors.iter().any(|t| t.0 == name), "{name} missing");
    }
    let mut worst = 0.0f64;
    for (name, shape, data) in &tensors {
        let v = st
            .tensor(name)
            .unwrap_or_else(|_| panic!("{name} missing from the file"));
        assert_eq!(v.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(v.shape(), &shape[..], "{name} shape");
        let got: Vec<f32> = bytemuck::pod_collect_to_vec(v.data());
        let (_, rel) = errors(
            &got.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        );
        worst = worst.max(rel);
    }
    eprintln!("losses command vs library: max rel err {worst:.2e}");
    assert!(worst < 1e-5);

    // discriminate on the .npy: one batch of 4, the same minibatch as losses' d_real.
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "reals.npy",
            "--out-npy",
            "s.npy",
        ],
    );
    assert!(ok, "discriminate failed:\n{out}");
    let scores = read_npy(p("s.npy")).unwrap();
    assert_eq!(scores.shape, [N, 1]);
    let (abs, _) = errors(
        &scores.data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        &want.d_real.iter().map(|&v| v as f64).collect::<Vec<_>>(),
    );
    eprintln!("discriminate vs losses d_real: max abs err {abs:.2e}");
    assert!(abs < 1e-5);

    // A folder of PNGs, read sorted by name.
    for i in 0..N {
        save_png(
            dir.0.join(format!("pngs/img{:02}.png", i)),
            &s.x.to_f32()[i * 64..(i + 1) * 64],
            1,
            8,
            8,
        )
        .unwrap();
    }
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "pngs",
            "--out-npy",
            "p.npy",
        ],
    );
    assert!(ok, "discriminate (pngs) failed:\n{out}");
    let mut imgs = vec![];
    for i in 0..N {
        imgs.extend(
            load_image_chw(dir.0.join(format!("pngs/img{i:02}.png")))
                .unwrap()
                .0,
        );
    }
    let d = Discriminator::new(&g, &s.cfg, &s.dw).unwrap();
    let lib = discriminate_batched(&g, &d, &imgs, 8).unwrap();
    let got = read_npy(p("p.npy")).unwrap();
    let diff = got
        .data
        .iter()
        .zip(&lib)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff < 1e-5,
        "png scores differ from the library's by {diff}"
    );

    // Clear errors.
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "reals.npy",
            "--out-npy",
            "x.npy",
            "--batch",
            "6",
        ],
    );
    assert!(
        !ok && out.contains("--batch") && out.contains("groups of 4"),
        "{out}"
    );
    save_png(dir.0.join("pngs/zz.png"), &[0.0; 3 * 64], 3, 8, 8).unwrap();
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "pngs",
            "--out-npy",
            "x.npy",
        ],
    );
    assert!(
        !ok && out.contains("zz.png") && out.contains("3 channel"),
        "{out}"
    );
    m.nets.remove("D");
    save(&dir.0.join("nod.safetensors"), &m).unwrap();
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "nod.safetensors",
            "--images",
            "reals.npy",
            "--out-npy",
            "x.npy",
        ],
    );
    assert!(!ok && out.contains("no discriminator"), "{out}");
    let (ok, out) = stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "nod.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "reals.npy",
            "--out",
            "x.safetensors",
        ],
    );
    assert!(!ok && out.contains("no D network"), "{out}");
    let (ok, out) = stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "m.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "pngs/zz.png",
            "--out",
            "x.safetensors",
        ],
    );
    assert!(!ok && out.contains("zz.png"), "{out}");
}
