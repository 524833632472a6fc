//! Autotuned kernel choice (`gpu::tune`): the table survives a round trip through its file; a
//! corrupt or foreign table is ignored with a warning naming the file; `Tune::Off` runs the
//! fixed order whatever the table says, `On` runs the table's choice and measures a shape the
//! table lacks (once, saying so), `Cached` runs the table's choice and measures nothing,
//! `Force` measures again; a pin wins; and results do not change with the
//! choice: the losses and every gradient of a training step (G and D, R1's double backward
//! included) agree with the fixed order's on every conv kernel, and one `Trainer` step's
//! losses too.

mod common;
use common::losses::{d_weights, g_weights};
use common::tempdir::TempDir;
use common::*;

use std::path::Path;
use std::sync::Mutex;

use stylegan_wgpu::gpu::tune::table::{self, CandidateTime, Identity, TuneEntry, TuneTable};
use stylegan_wgpu::gpu::{Policy, Tune};
use stylegan_wgpu::nn::{Config, FusedScale, NoiseMode};
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::{self, ConvGeometry, ConvKernel, Precision};
use stylegan_wgpu::train::inspect::evaluate_losses;
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::{Gpu, Tensor};

/// Every warning and note logged in this test binary (tests filter by their own folder's name).
static RECORDS: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            RECORDS
                .lock()
                .unwrap()
                .push((r.level(), r.args().to_string()));
        }
    }

    fn flush(&self) {}
}

fn capture_records() {
    static LOGGER: Capture = Capture;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The records of `level` that name `path`.
fn records_about(level: log::Level, path: &Path) -> Vec<String> {
    let p = path.display().to_string();
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(l, w)| *l == level && w.contains(&p))
        .map(|(_, w)| w.clone())
        .collect()
}

fn warnings_about(path: &Path) -> Vec<String> {
    records_about(log::Level::Warn, path)
}

fn tuned_gpu(tune: Tune, dir: &Path) -> Gpu {
    gpu_with(Policy {
        tune,
        tune_dir: Some(dir.to_path_buf()),
        ..Policy::default()
    })
}

fn identity() -> Identity {
    Identity {
        adapter: "Adapter".into(),
        backend: "Vulkan".into(),
        driver: "drv".into(),
        driver_info: "1.0".into(),
        version: "0.1.0".into(),
    }
}

/// A 3x3 conv every kernel takes on lavapipe (16 output channels, width a multiple of 4).
fn shape() -> ([usize; 4], [usize; 4]) {
    ([2, 16, 8, 8], [3, 3, 16, 16])
}

fn inputs(g: &Gpu) -> (Tensor, Tensor, ConvGeometry) {
    let (xs, ws) = shape();
    let mut r = rng(5);
    let x = upload(g, &randn(&mut r, &xs));
    let w = upload(g, &randn(&mut r, &ws));
    let geom = ConvGeometry::same(&xs, &ws).unwrap();
    (x, w, geom)
}

/// A table for `g`'s adapter in which `fastest` won the shape of `shape()` (the other
/// candidates ten times slower), written where a context under `dir` reads it.
fn fabricated_table(g: &Gpu, dir: &Path, fastest: &str, identity: Identity) -> std::path::PathBuf {
    let (_, _, geom) = inputs(g);
    let names: Vec<&str> = conv::candidates(&geom, &g.caps(), &Policy::default(), Precision::F32)
        .iter()
        .map(|k| k.name())
        .collect();
    assert!(names.len() > 1 && names.contains(&fastest), "{names:?}");
    let candidates = names
        .iter()
        .map(|&n| {
            let ms = if n == fastest { 1.0 } else { 10.0 };
            CandidateTime {
                name: n.to_string(),
                ms,
                ms_min: ms,
                ms_max: ms,
                runs: 5,
            }
        })
        .collect();
    let entry = TuneEntry {
        family: conv::FAMILY.into(),
        shape: conv::tune_key(&geom, Precision::F32),
        chosen: fastest.into(),
        candidates,
        failed: vec![],
        runs: 5,
        reps: 1,
        seconds: 0.1,
    };
    let path = table::path_in(dir, &Identity::of(g.info()));
    TuneTable::new(identity, vec![entry]).save(&path).unwrap();
    path
}

/// Runs `conv_t` on the test shape and returns which kernel ran (from the tallies) and the
/// output.
fn run_conv(g: &Gpu) -> (String, Vec<f32>) {
    let (x, w, geom) = inputs(g);
    let before = g.tallies();
    let y = conv::conv_t(&x, &w, &geom, 0.5, Precision::F32).unwrap();
    let after = g.tallies();
    let ran: Vec<&str> = after
        .iter()
        .filter(|(name, n)| before.iter().find(|(b, _)| b == name).map_or(0, |b| b.1) < *n)
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(ran.len(), 1, "{ran:?}");
    let kernel = ran[0].trim_start_matches("conv f32 on ").to_string();
    (kernel, y.to_vec().unwrap())
}

/// A kernel that takes the test shape and is not `fixed`: what a fabricated table chooses.
fn another_kernel(fixed: ConvKernel) -> &'static str {
    if fixed.name() == "direct" {
        "tiled"
    } else {
        "direct"
    }
}

fn fixed_order(g: &Gpu) -> ConvKernel {
    let (_, _, geom) = inputs(g);
    conv::plan(&geom, &g.caps(), &Policy::default(), Precision::F32).unwrap()
}

#[test]
fn table_round_trip() {
    let dir = TempDir::new("tune-round-trip");
    let id = identity();
    let entry = TuneEntry {
        family: "conv".into(),
        shape: "N1 C16->O16 3x3/s1/p1,1 8x8->8x8 f32".into(),
        chosen: "tiled".into(),
        candidates: vec![
            CandidateTime {
                name: "subgroup".into(),
                ms: 2.5,
                ms_min: 2.25,
                ms_max: 3.0,
                runs: 5,
            },
            CandidateTime {
                name: "tiled".into(),
                ms: 1.5,
                ms_min: 1.25,
                ms_max: 2.0,
                runs: 5,
            },
        ],
        failed: vec!["direct".into()],
        runs: 5,
        reps: 3,
        seconds: 0.2,
    };
    let path = table::path_in(&dir.0, &id);
    let t = TuneTable::new(id.clone(), vec![entry.clone()]);
    t.save(&path).unwrap();
    let loaded = table::load(&path, &id);
    assert!(loaded.warning.is_none(), "{:?}", loaded.warning);
    let back: Vec<&TuneEntry> = loaded.entries.values().collect();
    assert_eq!(back, [&entry]);
    assert_eq!(
        TuneTable::parse(&std::fs::read(&path).unwrap(), &id).unwrap(),
        t
    );
    // The choice among what is available now: the faster one, and the only one.
    assert_eq!(entry.choice(&["subgroup", "tiled"]), Some(1));
    assert_eq!(entry.choice(&["subgroup"]), Some(0));
    // No file: nothing, and nothing to warn about.
    let none = table::load(&dir.path("absent.json"), &id);
    assert!(none.entries.is_empty() && none.warning.is_none());
}

#[test]
fn corrupt_and_foreign_tables_are_ignored_with_a_warning() {
    let dir = TempDir::new("tune-ignored");
    let id = identity();
    let path = table::path_in(&dir.0, &id);
    let good = TuneTable::new(id.clone(), vec![]);
    for (what, bytes) in [
        (
            "truncated",
            good.to_json().unwrap().as_bytes()[..40].to_vec(),
        ),
        ("not json", b"\x00\x01garbage".to_vec()),
        (
            "another schema",
            br#"{"schema":"x","schema_version":1}"#.to_vec(),
        ),
    ] {
        std::fs::write(&path, bytes).unwrap();
        let l = table::load(&path, &id);
        let w = l.warning.unwrap_or_default();
        eprintln!("{what}: {w}");
        assert!(l.entries.is_empty(), "{what}");
        assert!(w.contains(&path.display().to_string()), "{what}: {w}");
    }
    for (field, other) in [
        (
            "adapter",
            Identity {
                adapter: "Other GPU".into(),
                ..id.clone()
            },
        ),
        (
            "driver",
            Identity {
                driver_info: "2.0".into(),
                ..id.clone()
            },
        ),
        (
            "crate version",
            Identity {
                version: "9.9.9".into(),
                ..id.clone()
            },
        ),
    ] {
        TuneTable::new(other, vec![]).save(&path).unwrap();
        let l = table::load(&path, &id);
        let w = l.warning.unwrap_or_default();
        eprintln!("foreign {field}: {w}");
        assert!(
            w.contains(&path.display().to_string()) && w.contains(field),
            "{w}"
        );
    }
}

#[test]
fn a_context_warns_about_a_foreign_table_and_replaces_it() {
    capture_records();
    let dir = TempDir::new("tune-foreign");
    let probe = gpu_with(Policy::default());
    let fixed = fixed_order(&probe);
    let foreign = Identity {
        adapter: "Some Other GPU".into(),
        ..Identity::of(probe.info())
    };
    // The foreign table says "direct"; it must not be used.
    let path = fabricated_table(&probe, &dir.0, "direct", foreign);
    let g = tuned_gpu(Tune::On, &dir.0);
    let (kernel, _) = run_conv(&g);
    let warned = warnings_about(&path);
    eprintln!("ran {kernel}; warnings: {warned:?}");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(g.tune_measured(), 1, "the shape is measured, not read");
    let now = TuneTable::parse(&std::fs::read(&path).unwrap(), &Identity::of(g.info())).unwrap();
    assert_eq!(now.entries.len(), 1);
    eprintln!(
        "measured: {:?} (fixed order {})",
        now.entries[0].candidates,
        fixed.name()
    );
    assert_eq!(now.entries[0].chosen, kernel);

    // Corrupt: the same.
    std::fs::write(&path, b"{\"schema\": \"stylegan-wgpu-tune\", \"entr").unwrap();
    let g = tuned_gpu(Tune::On, &dir.0);
    run_conv(&g);
    assert_eq!(warnings_about(&path).len(), 2);
    assert_eq!(g.tune_measured(), 1);
}

#[test]
fn off_runs_the_fixed_order_whatever_the_table_says() {
    let dir = TempDir::new("tune-off");
    let probe = gpu_with(Policy::default());
    let fixed = fixed_order(&probe);
    let other = another_kernel(fixed);
    fabricated_table(&probe, &dir.0, other, Identity::of(probe.info()));
    let off = tuned_gpu(Tune::Off, &dir.0);
    let (kernel, y) = run_conv(&off);
    assert_eq!(kernel, fixed.name());
    assert!(off.tune_entries().is_empty());
    // Bit for bit what the fixed order's kernel gives, as before tuning existed.
    let (x, w, geom) = inputs(&off);
    let want = conv::conv_on(fixed, &x, &w, &geom, 0.5).unwrap();
    assert_eq!(y, want.to_vec().unwrap());
    // The default test context is untuned too.
    assert_eq!(gpu().policy().tune, Tune::Off);
    assert_eq!(Policy::default().tune, Tune::Off);
}

#[test]
fn on_uses_the_table_and_force_measures_again() {
    let dir = TempDir::new("tune-on");
    let probe = gpu_with(Policy::default());
    let fixed = fixed_order(&probe);
    let other = another_kernel(fixed);
    fabricated_table(&probe, &dir.0, other, Identity::of(probe.info()));
    let on = tuned_gpu(Tune::On, &dir.0);
    let (kernel, y) = run_conv(&on);
    assert_eq!(kernel, other, "the table's choice");
    assert_eq!(on.tune_measured(), 0, "read, not measured");
    assert_eq!(on.tune_entries().len(), 1);
    let (_, y_fixed) = run_conv(&probe);
    let (abs, rel) = errors_f32(&y, &y_fixed);
    eprintln!(
        "{other} vs {}: max abs err {abs:.3e} rel {rel:.3e}",
        fixed.name()
    );
    assert!(rel < 1e-5);

    let force = tuned_gpu(Tune::Force, &dir.0);
    let (kernel, _) = run_conv(&force);
    assert_eq!(force.tune_measured(), 1, "measured again");
    run_conv(&force);
    assert_eq!(force.tune_measured(), 1, "once per process");
    let e = &force.tune_entries()[0];
    eprintln!("force: ran {kernel}; {:?}", e.candidates);
    assert_eq!(e.chosen, kernel);
    assert!(e.candidates.iter().all(|c| c.ms > 0.0 && c.ms.is_finite()));
    // What Force measured replaced the fabricated entry in the file.
    let on = tuned_gpu(Tune::On, &dir.0);
    assert_eq!(run_conv(&on).0, kernel);
    assert_eq!(on.tune_measured(), 0);
}

#[test]
fn cached_uses_the_table_and_measures_nothing() {
    capture_records();
    let dir = TempDir::new("tune-cached");
    let probe = gpu_with(Policy::default());
    let fixed = fixed_order(&probe);
    let path = table::path_in(&dir.0, &Identity::of(probe.info()));

    // No table: the fixed order, nothing measured, no file written, nothing announced.
    let cached = tuned_gpu(Tune::Cached, &dir.0);
    let (kernel, y) = run_conv(&cached);
    assert_eq!(kernel, fixed.name());
    assert_eq!(cached.tune_measured(), 0);
    assert!(!path.exists(), "{} was written", path.display());
    assert!(records_about(log::Level::Info, &path).is_empty());
    let (_, y_fixed) = run_conv(&probe);
    assert_eq!(y, y_fixed, "the fixed order's kernel, bit for bit");

    // A table: its choice, still unmeasured.
    let other = another_kernel(fixed);
    fabricated_table(&probe, &dir.0, other, Identity::of(probe.info()));
    let cached = tuned_gpu(Tune::Cached, &dir.0);
    assert_eq!(run_conv(&cached).0, other, "the table's choice");
    assert_eq!(cached.tune_measured(), 0);

    // On measures what the table lacks, and says so once per context, naming the file.
    std::fs::remove_file(&path).unwrap();
    let on = tuned_gpu(Tune::On, &dir.0);
    run_conv(&on);
    let (x, _, _) = inputs(&on);
    let (xs, _) = shape();
    let w2 = upload(&on, &randn(&mut rng(6), &[3, 3, 16, 32]));
    let g2 = ConvGeometry::same(&xs, &[3, 3, 16, 32]).unwrap();
    conv::conv_t(&x, &w2, &g2, 0.5, Precision::F32).unwrap();
    assert_eq!(on.tune_measured(), 2, "two shapes measured");
    let notes = records_about(log::Level::Info, &path);
    eprintln!("notes: {notes:?}");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("STYLEGAN_TUNE=cached"), "{}", notes[0]);
}

#[test]
fn a_pin_wins_where_it_takes_the_shape() {
    let dir = TempDir::new("tune-pin");
    let probe = gpu_with(Policy::default());
    fabricated_table(&probe, &dir.0, "direct", Identity::of(probe.info()));
    let (_, _, geom) = inputs(&probe);
    for k in conv::candidates(&geom, &probe.caps(), &Policy::default(), Precision::F32) {
        for tune in [Tune::Off, Tune::On] {
            let g = gpu_with(Policy {
                tune,
                tune_dir: Some(dir.0.clone()),
                ..Policy::default().pinned(conv::FAMILY, k.name())
            });
            assert_eq!(run_conv(&g).0, k.name(), "{tune:?}");
            assert_eq!(g.tune_measured(), 0);
        }
    }
    // A pin on a kernel that does not take the shape falls back to the usual choice.
    let g = gpu_with(Policy::default().pinned(conv::FAMILY, "coop-f16"));
    assert_eq!(run_conv(&g).0, fixed_order(&probe).name());
}

/// 16 channels at every stage (the subgroup kernels take multiples of 16) and the fused
/// resampling convs, so every conv kernel has shapes to run: 3x3 same, the stride-2 down-conv
/// and the transposed up-conv, with their adjoints and R1's double backward.
fn tiny16() -> Config {
    Config {
        resolution: 8,
        num_channels: 1,
        latent_size: 8,
        dlatent_size: 8,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 128,
        fmap_max: 16,
        fused_scale: FusedScale::On,
        ..Config::default()
    }
}

/// Named outputs of a step: losses, scores, gradients.
type Outputs = Vec<(String, Vec<f32>)>;

/// Losses and every gradient of a training step (`evaluate_losses`: G's loss through D, D's
/// logistic loss with R1), and one `Trainer` step's losses, on a context pinned to `kernel`
/// (or the fixed order); with the kernels that ran.
fn step(pin: Option<(&str, &str)>) -> (Outputs, Vec<(&'static str, u64)>) {
    let policy = match pin {
        Some((family, k)) => Policy::default().pinned(family, k),
        None => Policy::default(),
    };
    let g = gpu_with(policy);
    let cfg = tiny16();
    let n = 4;
    let z: Vec<f32> = randn(&mut rng(11), &[n, cfg.latent_size]).to_f32();
    let reals: Vec<f32> = uniform(&mut rng(12), &[n, 1, 8, 8], -1.0, 1.0).to_f32();
    let r = evaluate_losses(
        &g,
        &cfg,
        &g_weights(&cfg, 1),
        &d_weights(&cfg, 2),
        &z,
        None,
        &reals,
        NoiseMode::None,
        10.0,
    )
    .unwrap();
    let mut out = vec![
        ("g_loss".to_string(), vec![r.g_loss]),
        ("d_loss_r1".to_string(), vec![r.d_loss_r1]),
        ("r1".to_string(), r.r1_penalty.clone()),
        ("d_real".to_string(), r.d_real.clone()),
        ("d_fake".to_string(), r.d_fake.clone()),
    ];
    for (net, grads) in [("G", &r.g_grads), ("D", &r.d_grads)] {
        for (name, t) in grads {
            out.push((format!("grad {net} {name}"), t.data.clone()));
        }
    }
    let tc = TrainConfig {
        batch: n,
        seed: 3,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(&g, &cfg, &tc).unwrap();
    let losses = t.step(&reals).unwrap().read().unwrap();
    out.push(("trainer step losses".into(), losses.to_vec()));
    let convs = g
        .tallies()
        .into_iter()
        .filter(|(k, _)| {
            ["conv f32 on ", "conv wgrad on ", "matmul on "]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .collect();
    (out, convs)
}

/// Runs the step pinned to each of `kernels` (`(name, enabled)`) of `family`, whose calls are
/// tallied as `tally_prefix + name`, and compares every output with the fixed order's.
fn compare_pinned(family: &str, kernels: &[(&str, bool)], tally_prefix: &str) {
    let (want, fixed_convs) = step(None);
    eprintln!("fixed order: {fixed_convs:?}");
    for &(name, enabled) in kernels {
        if !enabled || name == "coop-f16" {
            // coop-f16 is an f16 inference kernel: never a candidate for training's f32.
            continue;
        }
        let (got, convs) = step(Some((family, name)));
        let tally = format!("{tally_prefix}{name}");
        let ran = convs.iter().find(|(n, _)| *n == tally).map_or(0, |c| c.1);
        eprintln!("pinned {family}={name}: {convs:?}");
        if name.starts_with("subgroup") && !gpu().has_subgroup8() {
            assert_eq!(ran, 0);
            continue;
        }
        assert!(ran > 0, "{family}={name} never ran: {convs:?}");
        let mut worst = (0.0f64, String::new());
        for ((out, a), (_, b)) in got.iter().zip(&want) {
            let (abs, rel) = errors_f32(a, b);
            if rel > worst.0 {
                worst = (rel, out.clone());
            }
            assert!(
                rel < 2e-4 || abs < 1e-6,
                "{family}={name}: {out}: max abs err {abs:.3e} rel {rel:.3e}"
            );
        }
        eprintln!(
            "{family}={name:<17} vs fixed order: worst rel err {:.3e} ({}) over {} outputs",
            worst.0,
            worst.1,
            got.len()
        );
    }
}

#[test]
fn results_do_not_change_with_the_kernel_choice() {
    let p = Policy::default();
    let kernels: Vec<_> = ConvKernel::ALL
        .iter()
        .map(|k| (k.name(), k.enabled(&p)))
        .collect();
    compare_pinned(conv::FAMILY, &kernels, "conv f32 on ");
}

#[test]
fn results_do_not_change_with_the_weight_gradient_kernel() {
    let p = Policy::default();
    let kernels: Vec<_> = conv::WgradKernel::ALL
        .iter()
        .map(|k| (k.name(), k.enabled(&p)))
        .collect();
    compare_pinned(conv::WGRAD_FAMILY, &kernels, "conv wgrad on ");
}

#[test]
fn results_do_not_change_with_the_matmul_kernel() {
    let p = Policy::default();
    let kernels: Vec<_> = ops::dense::MatmulKernel::ALL
        .iter()
        .map(|k| (k.name(), k.enabled(&p)))
        .collect();
    compare_pinned(ops::dense::MATMUL_FAMILY, &kernels, "matmul on ");
}
