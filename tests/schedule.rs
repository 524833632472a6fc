//! The release's per-resolution minibatch (`TrainConfig::batch_per_res`, its `minibatch_dict`)
//! on a tiny progressive config: each step takes the minibatch of the resolution being trained
//! (reals, images counted, optimizer resets, the Gs moving average), through the GPU-pass split
//! and over ranks as a fixed minibatch does, and a run stopped anywhere resumes to exactly the
//! uninterrupted run.

mod common;
use common::snapshots::{assert_states_close, structured_constant};
use common::tempdir::TempDir;
use common::*;

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::{Collective, LocalGroup, Solo};
use stylegan_wgpu::gpu::Policy;
use stylegan_wgpu::io::safetensors::{load, Checkpoint};
use stylegan_wgpu::nn::memory::activation_bytes_per_image;
use stylegan_wgpu::nn::Config;
use stylegan_wgpu::progress::Progress;
use stylegan_wgpu::train::run::{run, Observer, Start, Tick, TrainingOptions};
use stylegan_wgpu::train::{TrainConfig, Trainer};

/// 8x8 grayscale, a few hundred parameters; progressive (4x4, then 8x8).
fn tiny() -> Config {
    Config {
        progressive: true,
        ..common::tiny8()
    }
}

/// 4 images a step at 4x4 and 2 at 8x8 (never `batch`), 8 images per stage and per fade:
/// steps start at 0, 4, 8 (lod 1), 12 (lod 0.5: 8x8 fades in), 14 (0.25), 16, 18 (lod 0).
fn tc() -> TrainConfig {
    TrainConfig {
        batch: 16,
        batch_per_res: [(4, 4), (8, 2)].into(),
        g_ema_kimg: 0.01,
        seed: 9,
        progressive: true,
        lod_training_kimg: 0.008,
        lod_transition_kimg: 0.008,
        ..TrainConfig::default()
    }
}

/// Reals of step `step`: `[n, 1, 8, 8]`.
fn reals(step: u64, n: usize) -> Vec<f32> {
    (0..n * 64)
        .map(|i| (((i as u64 * 29 + step * 5) % 13) as f32 / 6.0) - 1.0)
        .collect()
}

fn weights(t: &Trainer, gs: bool, name: &str) -> Vec<f32> {
    let p = if gs { &t.gs.params } else { &t.g.params };
    p.get(name).unwrap().to_vec().unwrap()
}

#[test]
fn each_step_takes_the_minibatch_of_its_resolution() {
    let g = gpu();
    let tc = tc();
    let mut t = Trainer::new(&g, &tiny(), &tc).unwrap();
    let w = "G_synthesis/4x4/Conv/weight";
    let (mut batches, mut nimg, mut resets, mut lods) = (vec![], vec![], vec![], vec![]);
    for s in 0..7 {
        let n = t.batch();
        assert_eq!(
            t.rows().len(),
            n,
            "one process computes the whole minibatch"
        );
        if s == 3 {
            // The first step at 8x8: a minibatch of the old size is refused, not trained.
            let e = t.step(&reals(s, 4)).err().expect("4 reals where 2 are due");
            assert!(e.to_string().contains("expected [2, 1, 8, 8]"), "{e}");
            assert_eq!(t.state.step, 3, "a refused step changes nothing");
        }
        lods.push(t.lod());
        nimg.push(t.state.cur_nimg);
        batches.push(n);
        let gs_before = weights(&t, true, w);
        let l = t.step(&reals(s, n)).unwrap().read().unwrap();
        assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
        resets.push(t.state.opt_reset_step);
        // Gs <- lerp(G, Gs, beta) with the beta of this step's minibatch.
        let (g1, gs1) = (weights(&t, false, w), weights(&t, true, w));
        let err = |beta: f32| {
            gs1.iter()
                .zip(g1.iter().zip(&gs_before))
                .map(|(gs, (g, old))| (gs - (g + (old - g) * beta)).abs())
                .fold(0.0f32, f32::max)
        };
        let (own, other) = (tc.ema_beta(n), tc.ema_beta(6 - n));
        eprintln!(
            "step {s}: minibatch {n}, Gs error with beta({n}) {:.2e}, with beta({}) {:.2e}",
            err(own),
            6 - n,
            err(other)
        );
        assert!(err(own) < 1e-6 && err(other) > 1e-5, "step {s}");
    }
    eprintln!("lods {lods:?}\nnimg {nimg:?}\nminibatches {batches:?}\nresets {resets:?}");
    assert_eq!(batches, [4, 4, 4, 2, 2, 2, 2]);
    assert_eq!(nimg, [0, 4, 8, 12, 14, 16, 18]);
    assert_eq!(t.state.cur_nimg, 20);
    // In f64 from kimg, as the release computes it: lod at 16 images is 0 or a hair above.
    for (got, want) in lods.iter().zip([1.0, 1.0, 1.0, 0.5, 0.25, 0.0, 0.0]) {
        assert!((got - want).abs() < 1e-4, "{lods:?}");
    }
    assert_eq!(lods[6], 0.0);
    // The optimizer resets where floor(lod) changes (the step at 12, whose predecessor started
    // at 8 with 4 images, not at 12 - 2) and where ceil(lod) does (16, or 18 when lod at 16
    // is a hair above 0).
    let ceil_step: u64 = if lods[5] > 0.0 { 6 } else { 5 };
    let want: Vec<u64> = (0..7)
        .map(|i| match i {
            i if i >= ceil_step => ceil_step,
            3.. => 3,
            _ => 0,
        })
        .collect();
    assert_eq!(resets, want);
}

/// `passes` follows the step's minibatch: the 8 images of a 4x4 step run in two passes where a
/// pass holds 4, the 4 of an 8x8 step in one, and the run equals the unsplit one.
#[test]
fn a_per_resolution_minibatch_splits_into_passes() {
    let cfg = Config {
        progressive: true,
        ..tiny()
    };
    let tc = TrainConfig {
        batch: 4,
        batch_per_res: [(4, 8)].into(),
        lod_training_kimg: 0.004,
        lod_transition_kimg: 0.008,
        ..tc()
    };
    let whole_gpu = gpu();
    let split_gpu = gpu_with(Policy {
        max_binding: Some(4 * activation_bytes_per_image(&cfg)),
        ..Policy::default()
    });
    let mut start = Trainer::new(&whole_gpu, &cfg, &tc)
        .unwrap()
        .snapshot()
        .unwrap();
    structured_constant(&mut start);
    let mut whole = Trainer::resume(&whole_gpu, &start).unwrap();
    let mut split = Trainer::resume(&split_gpu, &start).unwrap();
    let mut passes = vec![];
    for s in 0..3 {
        let n = split.batch();
        assert_eq!(n, whole.batch());
        passes.push((
            n,
            whole.passes_per_step().unwrap(),
            split.passes_per_step().unwrap(),
        ));
        let a = whole.step(&reals(s, n)).unwrap().read().unwrap();
        let b = split.step(&reals(s, n)).unwrap().read().unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-5 * x.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }
    eprintln!("(minibatch, passes whole, passes split) per step: {passes:?}");
    assert_eq!(passes, [(8, 1, 2), (4, 1, 1), (4, 1, 1)]);
    assert_states_close(
        &whole.snapshot().unwrap(),
        &split.snapshot().unwrap(),
        "3 steps whole vs split into passes",
    );
}

/// Trains `steps` steps from `start` on `n` thread ranks, each rank taking its rows of the
/// step's minibatch; returns rank 0's state and the (global, local) minibatch of each step.
fn train_ranks(n: usize, start: &Checkpoint, steps: u64) -> (Checkpoint, Vec<(usize, usize)>) {
    std::thread::scope(|s| {
        let handles: Vec<_> = LocalGroup::new(n)
            .into_iter()
            .map(|rank| {
                s.spawn(move || {
                    let gpu = gpu();
                    let comm: Rc<dyn Collective> = Rc::new(rank);
                    let (mut t, exact) =
                        Trainer::shared(&gpu, comm, || Trainer::resume(&gpu, start)).unwrap();
                    assert!(
                        exact,
                        "16 and 8 images over {n} ranks are whole groups of 4"
                    );
                    let mut sizes = vec![];
                    for _ in 0..steps {
                        let b = t.batch();
                        let all = reals(t.state.step, b);
                        let mine: Vec<f32> = t
                            .rows()
                            .iter()
                            .flat_map(|&r| all[r * 64..(r + 1) * 64].iter().copied())
                            .collect();
                        sizes.push((b, t.rows().len()));
                        t.step(&mine).unwrap();
                    }
                    (t.snapshot().unwrap(), sizes)
                })
            })
            .collect();
        let mut out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        for (snap, _) in &out[1..] {
            assert_eq!(snap.nets, out[0].0.nets, "the ranks' states differ");
        }
        out.swap_remove(0)
    })
}

/// Two ranks re-split the minibatch when it changes and train as one process.
#[test]
fn ranks_split_each_resolutions_minibatch() {
    // 16 images a step at 4x4, 8 at 8x8: steps at 0, 16 (lod 1), 32 (0.5), 40 (0.25).
    let tc = TrainConfig {
        batch: 8,
        batch_per_res: [(4, 16)].into(),
        lod_training_kimg: 0.016,
        lod_transition_kimg: 0.032,
        ..tc()
    };
    let mut start = Trainer::new(&gpu(), &tiny(), &tc)
        .unwrap()
        .snapshot()
        .unwrap();
    structured_constant(&mut start);
    let (one, one_sizes) = train_ranks(1, &start, 4);
    let (two, two_sizes) = train_ranks(2, &start, 4);
    eprintln!("(global, this rank's) minibatch: 1 rank {one_sizes:?}, 2 ranks {two_sizes:?}");
    assert_eq!(one_sizes, [(16, 16), (16, 16), (8, 8), (8, 8)]);
    assert_eq!(two_sizes, [(16, 8), (16, 8), (8, 4), (8, 4)]);
    assert_states_close(
        &one,
        &two,
        "4 steps through a minibatch change, 1 rank vs 2",
    );
}

#[test]
fn bad_minibatch_entries_are_refused_by_name() {
    let g = gpu();
    let with = |per_res: &[(usize, usize)]| TrainConfig {
        batch_per_res: per_res.iter().copied().collect(),
        ..tc()
    };
    // The minibatch-stddev rule, for every entry.
    let e = Trainer::new(&g, &tiny(), &with(&[(4, 4), (8, 6)]))
        .err()
        .expect("6 images are not whole groups of 4")
        .to_string();
    assert!(
        e.contains("--batch-per-res 8:6: must be 1 to 4 or a multiple of 4"),
        "{e}"
    );
    let e = with(&[(4, 4), (12, 4)]).validate().unwrap_err().to_string();
    assert!(e.contains("--batch-per-res 12:4"), "{e}");
    // Over ranks: an entry with fewer images than ranks is refused when the run is shared,
    // before any step.
    let mut t = Trainer::new(&g, &tiny(), &with(&[(4, 1), (8, 2)])).unwrap();
    let rank: Rc<dyn Collective> = Rc::new(LocalGroup::new(2).swap_remove(0));
    let e = t.distribute(rank).unwrap_err().to_string();
    assert!(
        e.contains("--batch-per-res 4:1") && e.contains("2 ranks"),
        "{e}"
    );
}

/// Everything an observer hears of ticks and notes, and a stop after `stop_after` steps.
#[derive(Default)]
struct Seen {
    notes: Vec<String>,
    ticks: Vec<Tick>,
    steps: usize,
    stop_after: Option<usize>,
}

impl Progress for Seen {
    fn note(&mut self, msg: &str) {
        self.notes.push(msg.to_string());
    }
}

impl Observer for Seen {
    fn tick(&mut self, t: &Tick) {
        self.ticks.push(t.clone());
    }
    fn should_stop(&mut self) -> bool {
        self.steps += 1;
        self.stop_after == Some(self.steps)
    }
}

/// 16 distinct 8x8 grayscale PNGs.
fn write_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..16u32 {
        let img = image::GrayImage::from_fn(8, 8, |x, y| {
            image::Luma([((x * 31 + y * 17 + i * 53) % 256) as u8])
        });
        img.save(dir.join(format!("{i:02}.png"))).unwrap();
    }
}

fn options(outdir: &Path, start: Start) -> TrainingOptions {
    TrainingOptions {
        kimg: 0.018,
        snapshot_kimg: 1.0,
        log_every: 1,
        ..TrainingOptions::new(outdir, start)
    }
}

/// The library loop restarts its loader at each minibatch change, at the position in the
/// data stream the run has reached, so a run stopped before or at a change and resumed takes
/// the same reals as the uninterrupted one: the same weights, bit for bit.
#[test]
fn a_run_resumed_across_a_minibatch_change_equals_the_uninterrupted_run() {
    let gpu = gpu();
    let dir = TempDir::new("schedule-run");
    write_data(&dir.path("data"));
    let ds = Arc::new(Dataset::open(&dir.path("data"), &DataOptions::default()).unwrap());
    let new = || Start::New {
        cfg: tiny(),
        tc: tc(),
    };
    let mut seen = Seen::default();
    let straight = run(
        &options(&dir.path("straight"), new()),
        ds.clone(),
        &gpu,
        Rc::new(Solo),
        &mut seen,
    )
    .unwrap();
    assert_eq!(straight.nimg, 18);
    let ticks: Vec<(u64, usize)> = seen
        .ticks
        .iter()
        .map(|t| ((t.kimg * 1000.0).round() as u64, t.batch))
        .collect();
    assert_eq!(
        ticks,
        [(4, 4), (8, 4), (12, 4), (14, 2), (16, 2), (18, 2)],
        "(images after the step, its minibatch)"
    );
    assert!(
        seen.notes
            .iter()
            .any(|n| n == "minibatch per resolution: 4:4,8:2 (--batch-per-res over --batch 16)"),
        "{:?}",
        seen.notes
    );
    let log = std::fs::read_to_string(dir.path("straight/log.jsonl")).unwrap();
    let logged: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["batch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(logged, [4, 4, 4, 2, 2, 2]);
    let want = load(&straight.snapshot.unwrap()).unwrap();

    // Stopped before the change (8 images, the next step still 4x4) and at it (12: the next
    // step is the first at 8x8, with its own minibatch and an optimizer reset).
    for stop_after in [2, 3] {
        let out = dir.path(&format!("stopped-{stop_after}"));
        let mut stop = Seen {
            stop_after: Some(stop_after),
            ..Seen::default()
        };
        let first = run(
            &options(&out, new()),
            ds.clone(),
            &gpu,
            Rc::new(Solo),
            &mut stop,
        )
        .unwrap();
        assert!(first.interrupted);
        let snap = first.snapshot.unwrap();
        let resume = Start::Resume {
            snapshot: load(&snap).unwrap(),
            name: snap.display().to_string(),
        };
        let mut again = Seen::default();
        let out = run(
            &options(&out, resume),
            ds.clone(),
            &gpu,
            Rc::new(Solo),
            &mut again,
        )
        .unwrap();
        assert_eq!(out.nimg, 18);
        let got = load(&out.snapshot.unwrap()).unwrap();
        for (net, w) in &want.nets {
            for (name, t) in w {
                assert!(
                    t.data == got.nets[net][name].data,
                    "stopped after {stop_after} steps and resumed: {net}/{name} differs"
                );
            }
        }
        assert_eq!(want.metadata, got.metadata);
        eprintln!(
            "stopped after {stop_after} steps ({} images) and resumed: the same state",
            first.nimg
        );
    }
}
