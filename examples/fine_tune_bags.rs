//! Fine-tuning where it is meant to help: a small dataset. 1,000 Fashion-MNIST training bags
//! (class 8, selected through the IDX label file), trained (a) from the embedded model (its Gs
//! as G and Gs, a fresh D: the file holds no D) and (b) from scratch, with the same network,
//! settings and budget. Every snapshot of both runs is measured with FID on the evaluation
//! network's features (`--features fmnist`) against the 1,000 bags of the official test set.
//!
//! `cargo run --release --example fine_tune_bags -- OUTDIR [KIMG] [SNAPSHOT_KIMG]`
//!
//! Writes OUTDIR/{fine-tune,scratch}/ (the training runs) and OUTDIR/fid-bags.jsonl (one line
//! per snapshot: run, kimg, FID); `benches/study/fine_tune_plot.py` plots it.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::Solo;
use stylegan_wgpu::io::safetensors::load;
use stylegan_wgpu::metrics::networks::NetChoice;
use stylegan_wgpu::metrics::registry::parse_metrics;
use stylegan_wgpu::metrics::runner::{FeatureNets, MetricRunner};
use stylegan_wgpu::progress::{Progress, Silent};
use stylegan_wgpu::train::run::{run, Observer, Start, Tick, TrainingOptions};
use stylegan_wgpu::train::TrainConfig;
use stylegan_wgpu::{Config, Gpu, Model};

const FMNIST: &str = "/usr/share/datasets/fashion-mnist";
const BAG: u32 = 8;

struct Print(&'static str);

impl Progress for Print {
    fn note(&mut self, msg: &str) {
        println!("[{}] {msg}", self.0);
    }
}

impl Observer for Print {
    fn tick(&mut self, t: &Tick) {
        println!(
            "[{}] {:.2} kimg, {:.1} s/kimg, G {:.3} D {:.3}",
            self.0, t.kimg, t.sec_per_kimg, t.losses[0], t.losses[1]
        );
    }
}

fn bags(file: &str, max: Option<usize>) -> stylegan_wgpu::Result<Dataset> {
    Dataset::open(
        &Path::new(FMNIST).join(file),
        &DataOptions {
            classes: Some(vec![BAG]),
            max_images: max,
            ..DataOptions::default()
        },
    )
}

fn main() -> stylegan_wgpu::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().map_or("runs/fine-tune-bags", |s| s.as_str()));
    let kimg: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let every: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let gpu = Gpu::new()?;
    let train = Arc::new(bags("train-images-idx3-ubyte.gz", Some(1000))?);
    let test = bags("t10k-images-idx3-ubyte.gz", None)?;
    println!(
        "{} training bags, {} test bags, {kimg} kimg per run, a snapshot every {every} kimg",
        train.len(),
        test.len()
    );
    let embedded = Model::embedded()?;
    // The embedded model's recipe (assets/README.md), unconditional (the data's labels are all
    // one class), except Gs's half-life: 1 kimg instead of 10, or after a budget of a few kimg
    // Gs would still be mostly the network training started from (stylegan2-ada ramps its
    // half-life up over the first images for the same reason).
    let tc = TrainConfig {
        batch: 16,
        lr: Some(0.002),
        g_ema_kimg: 1.0,
        seed: 1,
        ..Default::default()
    };
    let cfg: Config = embedded.config().clone();
    let runs = [
        (
            "fine-tune",
            Start::FineTune {
                model: embedded.file().clone(),
                name: "the embedded model".into(),
                tc: tc.clone(),
            },
        ),
        ("scratch", Start::New { cfg, tc }),
    ];
    let runner = MetricRunner::new(
        FeatureNets::new(NetChoice::Fmnist.load(&gpu)?),
        parse_metrics("fid1k")?,
        &test,
        64,
        None,
        &mut Silent,
    )?;
    std::fs::create_dir_all(&out).map_err(|e| stylegan_wgpu::Error::Invalid(e.to_string()))?;
    let mut log = std::fs::File::create(out.join("fid-bags.jsonl"))
        .map_err(|e| stylegan_wgpu::Error::Invalid(e.to_string()))?;
    for (name, start) in runs {
        let dir = out.join(name);
        let label: &'static str = name;
        let opts = TrainingOptions {
            kimg,
            snapshot_kimg: every,
            cond: Some(false),
            ..TrainingOptions::new(&dir, start)
        };
        // The starting point: a run of 0 kimg writes the snapshot training begins from.
        let t0 = std::time::Instant::now();
        run(
            &TrainingOptions {
                kimg: 0.0,
                cond: Some(false),
                ..TrainingOptions::new(&dir, clone_start(&opts.start))
            },
            train.clone(),
            &gpu,
            Rc::new(Solo),
            &mut Print(label),
        )?;
        run(&opts, train.clone(), &gpu, Rc::new(Solo), &mut Print(label))?;
        println!("[{name}] trained in {:.0} s", t0.elapsed().as_secs_f64());
        let mut snaps: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| stylegan_wgpu::Error::Invalid(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("network-snapshot-"))
            })
            .collect();
        snaps.sort();
        for snap in snaps {
            let file = load(&snap)?;
            let kimg = file.metadata.get("train_state").map_or(0.0, |s| {
                serde_json::from_str::<serde_json::Value>(s)
                    .ok()
                    .and_then(|v| v["cur_nimg"].as_f64())
                    .unwrap_or(0.0)
                    / 1000.0
            });
            let g = Model::from_file(file, &snap.display().to_string()).generator(&gpu)?;
            let mut fid = f64::NAN;
            runner.run(&g, 1, &mut Silent, &mut |r| {
                fid = r.values[0].1;
                Ok(())
            })?;
            println!("[{name}] {kimg:>6.2} kimg: FID (bags, fmnist features, 1k vs 1k) {fid:.2}");
            writeln!(
                log,
                "{}",
                serde_json::json!({"run": name, "kimg": kimg, "fid1k_bags": fid})
            )
            .map_err(|e| stylegan_wgpu::Error::Invalid(e.to_string()))?;
        }
    }
    Ok(())
}

fn clone_start(s: &Start) -> Start {
    match s {
        Start::New { cfg, tc } => Start::New {
            cfg: cfg.clone(),
            tc: tc.clone(),
        },
        Start::FineTune { model, name, tc } => Start::FineTune {
            model: model.clone(),
            name: name.clone(),
            tc: tc.clone(),
        },
        Start::Resume { snapshot, name } => Start::Resume {
            snapshot: snapshot.clone(),
            name: name.clone(),
        },
    }
}
