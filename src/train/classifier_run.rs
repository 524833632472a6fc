//! The evaluation classifier's training run (`stylegan train-classifier`): epochs of Adam over
//! a learning-rate plan, optional shifts and mirroring, the test accuracy and confusion matrix
//! after every epoch, and the weights rewritten after each one with the recipe in their
//! metadata (`--resume` goes on from the recorded epoch).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::data::epoch_order;
use crate::error::{Error, Result};
use crate::eval::classifier::{Classifier, ClassifierConfig};
use crate::io::safetensors::save_tensors;
use crate::progress::Progress;
use crate::train::classifier::{
    classifier_adam, confusion, predict, shift_flip, to_input, ClassifierTrainer, Dropout,
};

/// 8-bit `side`² grayscale images and their classes.
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<usize>,
}

/// How to train.
#[derive(Clone, Debug)]
pub struct ClassifierRun {
    /// Adam's learning rate of every epoch.
    pub lr_plan: Vec<f32>,
    /// Stop after this epoch of the plan.
    pub epochs: usize,
    pub batch: usize,
    pub dropout: Dropout,
    pub seed: u64,
    /// Random shifts of up to 2 pixels and mirroring.
    pub augment: bool,
    /// Rewritten after every epoch.
    pub out: PathBuf,
}

impl ClassifierRun {
    /// Checks the plan, the epoch count, the batch and the dropout rates.
    pub fn validate(&self) -> Result<()> {
        let plan = &self.lr_plan;
        if plan.is_empty() || plan.iter().any(|&lr| !(lr.is_finite() && lr > 0.0)) {
            return Err(Error::Invalid(format!(
                "learning-rate plan {plan:?}: every learning rate must be positive and finite"
            )));
        }
        if self.epochs == 0 || self.epochs > plan.len() {
            return Err(Error::Invalid(format!(
                "{} epochs: must be between 1 and the {} epochs of the learning-rate plan",
                self.epochs,
                plan.len()
            )));
        }
        if self.batch == 0 {
            return Err(Error::Invalid("the batch must be at least 1".into()));
        }
        self.dropout.validate()
    }
}

/// What one epoch gave.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    pub epochs: usize,
    pub train_loss: f64,
    pub test_accuracy: f64,
    /// `[true class][predicted class]` counts.
    pub confusion: Vec<Vec<usize>>,
    pub secs: f64,
}

/// The epoch recorded in a classifier file's metadata (for `--resume`).
pub fn recorded_epoch(path: &Path) -> Result<usize> {
    let bytes = crate::io::read_file(path)?;
    let fail = |msg: &str| Error::Format {
        path: path.display().to_string(),
        msg: msg.into(),
    };
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| fail(&e.to_string()))?;
    meta.metadata()
        .as_ref()
        .and_then(|m| m.get("epoch"))
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| fail("no epoch in its metadata"))
}

/// Trains `net` from epoch `first_epoch` (0-based) to `run.epochs` on `train`, measuring on
/// `test` after each epoch (`on_epoch` hears each) and writing `run.out`. Each epoch is a
/// progress task of images, whose status is the running loss.
pub fn fit_classifier(
    net: Classifier,
    first_epoch: usize,
    run: &ClassifierRun,
    train: &Split,
    test: &Split,
    progress: &mut dyn Progress,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Classifier> {
    run.validate()?;
    let cfg: ClassifierConfig = *net.config();
    let (side, per) = (cfg.side, cfg.side * cfg.side);
    if train.images.len() != train.labels.len() * per {
        return Err(Error::Invalid(format!(
            "the training images are not {side}x{side} grayscale (Fashion-MNIST pads 28 to 32)"
        )));
    }
    let plan = &run.lr_plan;
    let mut tr = ClassifierTrainer::new(
        net,
        classifier_adam(plan[0]),
        run.dropout,
        run.seed ^ 0xd20b,
    )?;
    let mut rng = crate::rng::seeded(run.seed ^ 0x5eed);
    for (epoch, &lr) in plan.iter().enumerate().take(run.epochs).skip(first_epoch) {
        tr.adam.lr = lr;
        let order = epoch_order(train.labels.len(), run.seed, epoch as u64);
        progress.start(&format!("epoch {}/{}", epoch + 1, run.epochs), order.len());
        let t0 = std::time::Instant::now();
        let (mut loss_sum, mut loss_n) = (0.0f64, 0usize);
        let mut pending = Vec::new();
        for idx in order.chunks(run.batch) {
            let mut x = Vec::with_capacity(idx.len() * per);
            for &i in idx {
                let img = &train.images[i * per..(i + 1) * per];
                if !run.augment {
                    x.extend_from_slice(img);
                    continue;
                }
                let (dy, dx): (i32, i32) = (rng.random_range(-2..=2), rng.random_range(-2..=2));
                x.extend(shift_flip(
                    img,
                    side,
                    dy as isize,
                    dx as isize,
                    rng.random(),
                ));
            }
            let labels: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
            pending.push(tr.step(&to_input(&x), &labels)?);
            // Read the losses every 50 steps: each read waits for the GPU.
            if pending.len() == 50 {
                for l in pending.drain(..) {
                    loss_sum += l.to_vec()?[0] as f64;
                    loss_n += 1;
                }
                progress.status(&format!(
                    "epoch {}/{} loss {:.4}",
                    epoch + 1,
                    run.epochs,
                    loss_sum / loss_n as f64
                ));
            }
            progress.advance(idx.len());
            crate::progress::check_stop(|| {
                format!(
                    "in epoch {} of {}: {} holds the weights of epoch {epoch}, the last \
                     complete one{}",
                    epoch + 1,
                    run.epochs,
                    run.out.display(),
                    if epoch > 0 {
                        " (--resume continues from it)"
                    } else {
                        " (none yet)"
                    }
                )
            })?;
        }
        for l in pending.drain(..) {
            loss_sum += l.to_vec()?[0] as f64;
            loss_n += 1;
        }
        progress.finish();
        let pred = predict(&tr.net, &test.images, 256)?;
        let (acc, m) = confusion(&pred, &test.labels, cfg.classes);
        let meta = BTreeMap::from([
            ("format".to_string(), "stylegan-wgpu classifier".to_string()),
            ("config".to_string(), json(&cfg)),
            ("epoch".to_string(), (epoch + 1).to_string()),
            ("augment".to_string(), run.augment.to_string()),
            ("lr".to_string(), lr.to_string()),
            ("dropout".to_string(), json(&run.dropout)),
            ("test_accuracy".to_string(), format!("{acc:.4}")),
            ("confusion".to_string(), json(&m)),
        ]);
        on_epoch(&EpochReport {
            epoch: epoch + 1,
            epochs: run.epochs,
            train_loss: loss_sum / loss_n.max(1) as f64,
            test_accuracy: acc,
            confusion: m,
            secs: t0.elapsed().as_secs_f64(),
        });
        let host: Vec<_> = tr.net.to_host()?.into_iter().collect();
        save_tensors(&run.out, &host, &meta)?;
    }
    Ok(tr.net)
}

/// A metadata value as JSON.
fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("metadata serializes")
}
