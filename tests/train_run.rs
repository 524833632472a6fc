//! The training loop and the metric runner as library calls, no process spawned: a short run
//! through `train::run` equals the run recorded with the binary before the library owned the
//! loop (tests/common/golden.rs), the observer hears every tick, snapshot and metric, a run
//! stopped by its observer writes a snapshot that resumes to exactly the uninterrupted run,
//! and `MetricRunner` gives the recorded `stylegan metrics` line.

mod common;
use common::golden;
use common::tempdir::TempDir;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::Solo;
use stylegan_wgpu::io::safetensors::load;
use stylegan_wgpu::metrics::networks::NetChoice;
use stylegan_wgpu::metrics::registry::parse_metrics;
use stylegan_wgpu::metrics::runner::{FeatureNets, MetricResult, MetricRunner};
use stylegan_wgpu::progress::{Progress, Silent};
use stylegan_wgpu::train::run::{run, MetricsOptions, Observer, Start, Tick, TrainingOptions};
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::Model;

/// Everything an observer can hear, and a stop after `stop_after` steps.
#[derive(Default)]
struct Seen {
    notes: Vec<String>,
    ticks: Vec<Tick>,
    snapshots: Vec<PathBuf>,
    metrics: Vec<MetricResult>,
    tasks: usize,
    steps: usize,
    stop_after: Option<usize>,
    started_at: Option<u64>,
    interrupted: bool,
}

impl Progress for Seen {
    fn start(&mut self, _label: &str, _total: usize) {
        self.tasks += 1;
    }
    fn note(&mut self, msg: &str) {
        self.notes.push(msg.to_string());
    }
}

impl Observer for Seen {
    fn started(&mut self, t: &Trainer, _total: u64) {
        self.started_at = Some(t.state.cur_nimg);
    }
    fn tick(&mut self, t: &Tick) {
        self.ticks.push(t.clone());
    }
    fn snapshot(&mut self, p: &Path) {
        self.snapshots.push(p.to_path_buf());
    }
    fn metric(&mut self, r: &MetricResult) {
        self.metrics.push(r.clone());
    }
    fn should_stop(&mut self) -> bool {
        self.steps += 1;
        self.stop_after == Some(self.steps)
    }
    fn interrupted(&mut self) {
        self.interrupted = true;
    }
}

fn data(dir: &TempDir) -> Arc<Dataset> {
    let path = dir.path("data");
    golden::write_data(&path);
    Arc::new(Dataset::open(&path, &DataOptions::default()).unwrap())
}

/// The recorded run's network and settings.
fn golden_start() -> Start {
    let snap = load(&golden::dir().join("network-snapshot-000000_016.safetensors")).unwrap();
    Start::New {
        cfg: snap.config.clone(),
        tc: TrainConfig::of_snapshot(&snap).unwrap(),
    }
}

fn options(outdir: PathBuf, start: Start, metrics: bool) -> TrainingOptions {
    TrainingOptions {
        kimg: 0.016,
        snapshot_kimg: 0.008,
        metrics: metrics.then(|| MetricsOptions {
            specs: parse_metrics("fid16,kid16,ppl_wend16").unwrap(),
            net: Some(NetChoice::Fmnist),
            cache_dir: None,
        }),
        ..TrainingOptions::new(outdir, start)
    }
}

#[test]
fn the_library_loop_equals_the_recorded_run_and_resumes_exactly() {
    let gpu = common::gpu();
    let dir = TempDir::new("train-run");
    let ds = data(&dir);

    // The recorded run, through the library.
    let mut seen = Seen::default();
    let out = run(
        &options(dir.path("run"), golden_start(), true),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut seen,
    )
    .unwrap();
    assert_eq!((out.nimg, out.interrupted, out.ranks), (16, false, 1));
    assert_eq!(
        out.snapshot.as_deref(),
        Some(
            dir.path("run/network-snapshot-000000_016.safetensors")
                .as_path()
        )
    );
    golden::compare_run(&dir.path("run"), golden::exact(&gpu));
    // What the observer heard: one tick (every 20 steps, and the last), the snapshots at 8 and
    // 16 images, three metrics at each.
    assert_eq!(seen.started_at, Some(0));
    assert_eq!(seen.ticks.len(), 1);
    assert_eq!((seen.ticks[0].step, seen.ticks[0].kimg), (4, 0.016));
    assert!(seen.ticks[0].losses.iter().all(|l| l.is_finite()));
    assert_eq!(
        seen.snapshots,
        [
            dir.path("run/network-snapshot-000000_008.safetensors"),
            dir.path("run/network-snapshot-000000_016.safetensors")
        ]
    );
    let names: Vec<&str> = seen.metrics.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["fid16", "kid16", "ppl_wend16"].repeat(2));
    assert!(seen
        .notes
        .iter()
        .any(|n| n.starts_with("G 1945 / D 2287 trainable parameters")));
    assert!(seen.tasks >= 4, "the metrics reported {} tasks", seen.tasks);
    assert!(!seen.interrupted);

    // Stopped by its observer after the first step: a snapshot at 4 images...
    let mut stop = Seen {
        stop_after: Some(1),
        ..Seen::default()
    };
    let out = run(
        &options(dir.path("stopped"), golden_start(), false),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut stop,
    )
    .unwrap();
    assert!(out.interrupted && stop.interrupted);
    assert_eq!(out.nimg, 4);
    let snap = out.snapshot.unwrap();
    assert!(snap.ends_with("network-snapshot-000000_004.safetensors"));
    // ...that resumes to exactly the uninterrupted run, on any adapter.
    let resume = Start::Resume {
        snapshot: load(&snap).unwrap(),
        name: snap.display().to_string(),
    };
    let mut again = Seen::default();
    let out = run(
        &options(dir.path("stopped"), resume, false),
        ds,
        &gpu,
        Rc::new(Solo),
        &mut again,
    )
    .unwrap();
    assert_eq!((out.nimg, again.started_at), (16, Some(4)));
    assert!(again
        .notes
        .iter()
        .any(|n| n == "resumed at 0.0 kimg (step 1)"));
    let a = load(&dir.path("run/network-snapshot-000000_016.safetensors")).unwrap();
    let b = load(&out.snapshot.unwrap()).unwrap();
    common::assert_same_weights(&a, &b);
    assert_eq!(a.metadata, b.metadata);
    // The log: a line every 20 steps and at the end, so only the resumed run's last step.
    let steps: Vec<u64> = golden::lines(&dir.path("stopped/log.jsonl"))
        .iter()
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [4]);
}

/// `MetricRunner` on the recorded snapshot gives the recorded `stylegan metrics` values.
#[test]
fn the_metric_runner_equals_the_recorded_metrics_line() {
    let gpu = common::gpu();
    let dir = TempDir::new("metric-runner");
    let ds = data(&dir);
    let model = Model::load(golden::dir().join("network-snapshot-000000_016.safetensors")).unwrap();
    let mut g = model.generator(&gpu).unwrap();
    g.set_batch(16);
    let nets = FeatureNets::new(NetChoice::Fmnist.load(&gpu).unwrap());
    let specs = parse_metrics("fid16,kid16,ppl_wend16").unwrap();
    let runner = MetricRunner::new(nets, specs, &ds, 16, None, &mut Silent).unwrap();
    let mut got = Vec::new();
    runner
        .run(&g, 0, &mut Silent, &mut |r| {
            got.push(r.clone());
            Ok(())
        })
        .unwrap();
    let want = golden::lines(&golden::dir().join("metrics-command.jsonl"));
    assert_eq!(got.len(), want.len());
    let exact = golden::exact(&gpu);
    for (r, w) in got.iter().zip(&want) {
        let mut line = r.json(serde_json::json!({"data": "folder data"}));
        for k in ["timestamp", "total_time", "total_time_str"] {
            line.as_object_mut().unwrap().remove(k);
        }
        let line = golden::recorded_keys_only(line, w);
        // The command names the model file it measured; the library runner has no file.
        let mut w = w.clone();
        w.as_object_mut().unwrap().remove("snapshot_pkl");
        let w = &w;
        eprintln!("{}", r.line());
        assert!(r.values.iter().all(|(_, v)| v.is_finite()));
        if exact {
            assert_eq!(&line, w, "{} differs from the recorded line", r.name);
        } else {
            assert_eq!(line["metric"], w["metric"]);
        }
    }
}

/// Fine-tuning (`Start::FineTune`) is a fresh run from a model's networks: it equals resuming
/// a snapshot that holds the model's G, D and Gs with zero Adam moments at step 0, bit for bit.
/// A generator-only model fine-tunes with a fresh D. It refuses data of another size and
/// files without a generator, saying what would fit.
#[test]
fn fine_tuning_is_a_fresh_run_from_the_models_networks() {
    let gpu = common::gpu();
    let dir = TempDir::new("fine-tune");
    let ds = data(&dir);
    let model = load(&golden::dir().join("network-snapshot-000000_016.safetensors")).unwrap();
    let tc = TrainConfig::of_snapshot(&model).unwrap();
    let short = |outdir: PathBuf, start: Start| TrainingOptions {
        kimg: 0.008,
        snapshot_kimg: 0.008,
        ..TrainingOptions::new(outdir, start)
    };
    let fine = Start::FineTune {
        model: model.clone(),
        name: "the golden snapshot".into(),
        tc: tc.clone(),
    };
    let mut seen = Seen::default();
    let a = run(
        &short(dir.path("a"), fine),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut seen,
    )
    .unwrap();
    assert!(
        seen.notes
            .iter()
            .any(|n| n.contains("fine-tuning the golden snapshot")),
        "{:?}",
        seen.notes
    );

    // The same by hand: the model's weights, zero Adam moments, a fresh state.
    let mut fresh = model.clone();
    for (name, net) in fresh.nets.iter_mut() {
        if name.contains("adam") {
            for t in net.values_mut() {
                t.data.iter_mut().for_each(|v| *v = 0.0);
            }
        }
    }
    fresh.metadata.insert(
        "train_state".into(),
        serde_json::to_string(&stylegan_wgpu::train::TrainState::default()).unwrap(),
    );
    let b = run(
        &short(
            dir.path("b"),
            Start::Resume {
                snapshot: fresh,
                name: "by hand".into(),
            },
        ),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut Seen::default(),
    )
    .unwrap();
    assert_eq!((a.nimg, b.nimg), (8, 8));
    let (sa, sb) = (
        load(a.snapshot.as_deref().unwrap()).unwrap(),
        load(b.snapshot.as_deref().unwrap()).unwrap(),
    );
    assert_eq!(
        sa.nets.keys().collect::<Vec<_>>(),
        sb.nets.keys().collect::<Vec<_>>()
    );
    for (name, net) in &sa.nets {
        for (k, t) in net {
            assert_eq!(t.data, sb.nets[name][k].data, "{name}/{k} differs");
        }
    }
    assert_eq!(sa.metadata["train_state"], sb.metadata["train_state"]);
    // It trained: G moved away from the model's.
    let moved = sa.nets["G"]
        .iter()
        .any(|(k, t)| t.data != model.nets["G"][k].data);
    assert!(moved, "two steps left G unchanged");

    // Refusals say what would fit.
    let err = |start: Start, ds: Arc<Dataset>| match run(
        &short(dir.path("c"), start),
        ds,
        &gpu,
        Rc::new(Solo),
        &mut Seen::default(),
    ) {
        Ok(_) => panic!("fine-tuning should have been refused"),
        Err(e) => e.to_string(),
    };
    let mut other = model.clone();
    other.config.resolution *= 2;
    let e = err(
        Start::FineTune {
            model: other,
            name: "m".into(),
            tc: tc.clone(),
        },
        ds.clone(),
    );
    assert!(e.contains("--resize") && e.contains("m:"), "{e}");
    // A generator-only file (the embedded model, `convert --only Gs`): G starts as its Gs and
    // D from the official initialization of the run's seed, as a new run's D.
    let mut gs_only = model.clone();
    gs_only.nets.retain(|k, _| k == "Gs");
    let t = Trainer::fine_tune(&gpu, &gs_only, &tc).unwrap();
    let gs = &model.nets["Gs"];
    assert_eq!(&t.g.params.download().unwrap(), gs);
    assert_eq!(&t.gs.params.download().unwrap(), gs);
    let fresh_d = stylegan_wgpu::nn::params::init_host(
        &stylegan_wgpu::nn::params::discriminator_specs(&model.config),
        tc.seed.wrapping_add(2),
    );
    assert_eq!(t.d.params.download().unwrap(), fresh_d);
    let mut seen = Seen::default();
    run(
        &short(
            dir.path("gs-only"),
            Start::FineTune {
                model: gs_only,
                name: "gs-only.safetensors".into(),
                tc: tc.clone(),
            },
        ),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut seen,
    )
    .unwrap();
    assert!(
        seen.notes
            .iter()
            .any(|n| n.contains("(also as G: the file has no G)")
                && n.contains("D from the official initialization")),
        "{:?}",
        seen.notes
    );
    let mut nothing = model.clone();
    nothing.nets.clear();
    let e = err(
        Start::FineTune {
            model: nothing,
            name: "empty.safetensors".into(),
            tc,
        },
        ds,
    );
    assert!(e.contains("no network 'Gs'"), "{e}");
}
