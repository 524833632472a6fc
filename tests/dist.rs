//! Data-parallel training does not depend on the number of ranks: ranks that are threads of
//! this process (`LocalGroup`, the same collectives as MPI) train a tiny config, and after a
//! few steps their weights equal one process's with the whole minibatch; snapshots move
//! between rank counts; a metric's generated images split over ranks are the single-process
//! ones. The same training over real MPI processes: tests/mpi.rs (`--features mpi`).

mod common;
use common::snapshots::{assert_states_close, structured_constant};
use common::*;

use std::rc::Rc;

use stylegan_wgpu::dist::{Collective, LocalGroup};
use stylegan_wgpu::io::safetensors::Checkpoint;
use stylegan_wgpu::metrics::features::{
    generator_features, generator_features_sharded, FeatureNet,
};
use stylegan_wgpu::nn::Config;
use stylegan_wgpu::train::{TrainConfig, Trainer};
use stylegan_wgpu::Model;

fn small() -> Config {
    Config {
        resolution: 16,
        num_channels: 1,
        latent_size: 16,
        dlatent_size: 16,
        mapping_layers: 2,
        mapping_fmaps: 16,
        fmap_base: 64,
        fmap_max: 16,
        ..Config::default()
    }
}

fn tc() -> TrainConfig {
    TrainConfig {
        batch: 8,
        seed: 5,
        g_ema_kimg: 0.01,
        ..TrainConfig::default()
    }
}

/// Reals of step `step`: `[8, 1, 16, 16]`.
fn reals(step: u64) -> Vec<f32> {
    (0..8 * 256)
        .map(|i| (((i as u64 * 37 + step * 11) % 29) as f32 / 14.0) - 1.0)
        .collect()
}

/// This rank's rows of `all`.
fn mine(all: &[f32], rows: &[usize]) -> Vec<f32> {
    let per = all.len() / 8;
    rows.iter()
        .flat_map(|&r| all[r * per..(r + 1) * per].iter().copied())
        .collect()
}

/// Trains `steps` steps on `n` thread ranks, starting from `start` (a snapshot) or a fresh
/// run; returns every rank's snapshot and losses.
fn train(n: usize, start: Option<&Checkpoint>, steps: u64) -> Vec<(Checkpoint, Vec<[f32; 5]>)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = LocalGroup::new(n)
            .into_iter()
            .map(|rank| {
                s.spawn(move || {
                    let gpu = gpu();
                    let comm: Rc<dyn Collective> = Rc::new(rank);
                    let (mut t, exact) = Trainer::shared(&gpu, comm, || match start {
                        Some(m) => Trainer::resume(&gpu, m),
                        None => Trainer::new(&gpu, &small(), &tc()),
                    })
                    .unwrap();
                    assert!(exact, "8 images over {n} ranks are whole groups of 4");
                    let mut losses = Vec::new();
                    for _ in 0..steps {
                        let r = mine(&reals(t.state.step), t.rows());
                        losses.push(t.step(&r).unwrap().read().unwrap());
                    }
                    (t.snapshot().unwrap(), losses)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The starting point of the comparisons: a fresh run whose 4x4 constant has structure (see
/// `structured_constant` for why not the initialization itself).
fn start() -> Checkpoint {
    let gpu = gpu();
    let mut m = Trainer::new(&gpu, &small(), &tc())
        .unwrap()
        .snapshot()
        .unwrap();
    structured_constant(&mut m);
    m
}

#[test]
fn two_ranks_of_four_train_as_one_process_of_eight() {
    let start = start();
    let one = train(1, Some(&start), 3);
    let two = train(2, Some(&start), 3);
    // The ranks apply the same summed gradients: bit for bit the same state.
    assert_eq!(
        two[0].0.nets, two[1].0.nets,
        "the two ranks' weights and optimizer states differ"
    );
    for (step, (a, b)) in one[0].1.iter().zip(&two[0].1).enumerate() {
        eprintln!("step {step}: losses 1 rank {a:?}\n        2 ranks {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 * x.abs().max(1.0),
                "step {step}: {a:?} vs {b:?}"
            );
        }
    }
    assert_states_close(&one[0].0, &two[0].0, "3 steps, 1 rank vs 2");
}

#[test]
fn snapshots_resume_with_any_number_of_ranks() {
    let start = start();
    let straight = train(1, Some(&start), 3);
    let two = train(2, Some(&start), 2);
    let then_one = train(1, Some(&two[0].0), 1);
    assert_states_close(
        &straight[0].0,
        &then_one[0].0,
        "2 steps on 2 ranks, then 1 on 1",
    );
    let one = train(1, Some(&start), 2);
    let then_two = train(2, Some(&one[0].0), 1);
    assert_states_close(
        &straight[0].0,
        &then_two[0].0,
        "2 steps on 1 rank, then 1 on 2",
    );
}

/// Features that are plain functions of the pixels: each image's mean and mean square.
struct Moments;

impl FeatureNet for Moments {
    fn dim(&self) -> usize {
        2
    }
    fn features(
        &self,
        images: &[u8],
        n: usize,
        _: usize,
        _: usize,
        _: usize,
    ) -> stylegan_wgpu::Result<Vec<f32>> {
        Ok(images
            .chunks(images.len() / n)
            .flat_map(|im| {
                let m = im.iter().map(|&v| v as f32).sum::<f32>() / im.len() as f32;
                let q = im.iter().map(|&v| (v as f32).powi(2)).sum::<f32>() / im.len() as f32;
                [m, q]
            })
            .collect())
    }
}

/// The generated images of a sharded metric are the single-process ones, whatever the number
/// of ranks: 11 images in batches of 2 (the last short) over 1, 2 and 3 ranks.
#[test]
fn sharded_metric_features_equal_one_process() {
    let model = Model::init(&small(), 4).unwrap();
    let one = {
        let g = model.generator(&gpu()).unwrap();
        generator_features(&Moments, &g, 11, 2, 9, &mut |_| {}).unwrap()
    };
    for n in [2, 3] {
        let got: Vec<Vec<f32>> = std::thread::scope(|s| {
            let hs: Vec<_> = LocalGroup::new(n)
                .into_iter()
                .map(|rank| {
                    let model = &model;
                    s.spawn(move || {
                        let g = model.generator(&gpu()).unwrap();
                        generator_features_sharded(&Moments, &g, 11, 2, 9, &rank, &mut |_| {})
                            .unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (r, f) in got.iter().enumerate() {
            assert_eq!(
                f, &one,
                "{n} ranks, rank {r}: features differ from one process"
            );
        }
        eprintln!("{n} ranks: the same {} features as one process", one.len());
    }
}
