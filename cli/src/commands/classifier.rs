//! `stylegan train-classifier`: the Fashion-MNIST evaluation network, trained by this crate.

use crate::commands::flags;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::GpuArgs;
use super::progress::Bars;
use stylegan_wgpu::data::{read_idx_labels, DataOptions, Dataset};
use stylegan_wgpu::eval::classifier::{init_classifier, Classifier, ClassifierConfig};
use stylegan_wgpu::train::classifier::Dropout;
use stylegan_wgpu::train::classifier_run::{fit_classifier, recorded_epoch, ClassifierRun, Split};

/// Train the Fashion-MNIST evaluation classifier (the features of FID/KID in that domain).
///
/// Reads train-images/-labels and t10k-images/-labels (IDX, gzip or not) from --data, trains
/// with Adam on the mean softmax cross-entropy with dropout, and after every epoch measures the
/// test accuracy and writes --out atomically (safetensors, with the config, epoch, learning
/// rate, dropout and accuracy in its metadata). --resume continues from --out's epoch (the Adam
/// moments restart). The defaults are the recipe of the embedded network (assets/README.md).
///
/// Examples:
///   stylegan train-classifier --data /usr/share/datasets/fashion-mnist --out fmnist-cls.safetensors
///   stylegan train-classifier --data /usr/share/datasets/fashion-mnist --out c.safetensors --epochs 1 --max-images 2000
///   stylegan train-classifier --data D --out c.safetensors --lr-plan 0.01,0.01,0.001 --augment
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct TrainClassifierArgs {
    /// Folder with train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz) and the t10k pair.
    #[arg(long)]
    pub data: PathBuf,
    /// Where the weights go (.safetensors), rewritten after every epoch.
    #[arg(long, value_parser = flags::out_safetensors)]
    pub out: PathBuf,
    /// Adam learning rate of every epoch, comma-separated; its length is the number of epochs.
    /// Higher than usual because the weights are stored N(0, 1) and scaled at run time: 0.01
    /// reached 72 % test accuracy after 64 steps of 64 where 0.001 reached 53 %.
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 1..,
        default_value = "0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.01,0.005,0.0025,0.001,0.0005"
    )]
    pub lr_plan: Vec<f32>,
    /// Stop after this epoch of the plan (default: all of it); --resume goes on from there.
    #[arg(long, value_parser = flags::positive_count)]
    pub epochs: Option<usize>,
    /// Images per training step.
    #[arg(long, value_parser = flags::batch, default_value_t = 64)]
    pub batch: usize,
    /// Dropout rate on the flattened last pooling output (0 = off).
    #[arg(long, value_parser = flags::dropout, default_value_t = 0.25)]
    pub dropout_flat: f32,
    /// Dropout rate on the 128 features before the logits (0 = off).
    #[arg(long, value_parser = flags::dropout, default_value_t = 0.5)]
    pub dropout_features: f32,
    /// Seed of the initial weights, the image order, augmentation and dropout.
    #[arg(long, value_parser = flags::seed, default_value_t = 0)]
    pub seed: u64,
    /// Use only the first N training images (quick checks).
    #[arg(long, value_parser = flags::positive_count)]
    pub max_images: Option<usize>,
    /// Continue from the epoch recorded in --out.
    #[arg(long)]
    pub resume: bool,
    /// Random shifts of up to 2 pixels and mirroring of the training images (slower to
    /// converge: an augmented run reached 91.6 % after 9 epochs; the default recipe without
    /// it 91.9 % after 9 and 92.5 % after its 12).
    #[arg(long)]
    pub augment: bool,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// `<dir>/<stem>` or `<dir>/<stem>.gz`, whichever exists.
fn idx_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(&name);
        if p.exists() {
            return Ok(p);
        }
    }
    bail!(
        "--data {}: no {stem}(.gz) there (Debian: apt-get install dataset-fashion-mnist)",
        dir.display()
    )
}

/// Images (8-bit, padded to 32x32) and labels of one split.
fn split(dir: &Path, prefix: &str, max: Option<usize>) -> Result<(Vec<u8>, Vec<usize>)> {
    let ip = idx_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let lp = idx_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let ds = Dataset::open(
        &ip,
        &DataOptions {
            max_images: max,
            ..DataOptions::default()
        },
    )
    .with_context(|| format!("--data {}", ip.display()))?;
    let labels = read_idx_labels(&lp).with_context(|| format!("--data {}", lp.display()))?;
    let n = ds.len();
    if labels.len() < n {
        bail!("{}: {} labels for {n} images", lp.display(), labels.len());
    }
    let mut images = Vec::with_capacity(n * ds.image_bytes());
    for i in 0..n {
        images.extend_from_slice(&ds.image(i)?);
    }
    Ok((images, labels[..n].iter().map(|&l| l as usize).collect()))
}

pub fn run(a: &TrainClassifierArgs) -> Result<()> {
    // A stop ends the epoch in flight after its step; the file keeps the last whole epoch.
    super::stop::install_for_library();
    let cfg = ClassifierConfig::fmnist();
    let (train_x, train_y) = split(&a.data, "train", a.max_images)?;
    let (test_x, test_y) = split(&a.data, "t10k", None)?;
    let side = cfg.side;
    if train_x.len() != train_y.len() * side * side {
        bail!("--data: the training images are not {side}x{side} grayscale (Fashion-MNIST pads 28 to 32)");
    }
    let gpu = a.gpu.open()?;
    let (weights, first_epoch) = if a.resume && a.out.exists() {
        let epoch = recorded_epoch(&a.out).with_context(|| format!("--out {}", a.out.display()))?;
        (stylegan_wgpu::io::tensors::read_tensors(&a.out)?, epoch)
    } else {
        (init_classifier(&cfg, a.seed), 0)
    };
    let net = Classifier::from_tensors(&gpu, &cfg, &weights, &a.out.display().to_string())?;
    let plan = &a.lr_plan;
    if plan.is_empty() || plan.iter().any(|&lr| !(lr.is_finite() && lr > 0.0)) {
        bail!("--lr-plan {plan:?}: every learning rate must be positive and finite");
    }
    let epochs = a.epochs.unwrap_or(plan.len());
    if epochs == 0 || epochs > plan.len() {
        bail!(
            "--epochs {epochs}: must be between 1 and the {} epochs of --lr-plan",
            plan.len()
        );
    }
    let dropout = Dropout {
        flat: a.dropout_flat,
        features: a.dropout_features,
    };
    dropout
        .validate()
        .map_err(|e| anyhow::anyhow!("--dropout-flat/--dropout-features: {e}"))?;
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let run = ClassifierRun {
        lr_plan: plan.clone(),
        epochs,
        batch: a.batch,
        dropout,
        seed: a.seed,
        augment: a.augment,
        out: a.out.clone(),
    };
    eprintln!(
        "classifier {cfg:?}: {} training, {} test images on {}",
        train_y.len(),
        test_y.len(),
        gpu.describe()
    );
    let train = Split {
        images: train_x,
        labels: train_y,
    };
    let test = Split {
        images: test_x,
        labels: test_y,
    };
    let mut bars = Bars::without_rates();
    fit_classifier(net, first_epoch, &run, &train, &test, &mut bars, &mut |r| {
        println!(
            "epoch {}: train loss {:.4}, test accuracy {:.2} %, {:.0} s",
            r.epoch,
            r.train_loss,
            r.test_accuracy * 100.0,
            r.secs
        );
        if r.epoch == r.epochs {
            println!("confusion matrix (rows: true class, columns: predicted):");
            for row in &r.confusion {
                println!(
                    "  {}",
                    row.iter()
                        .map(|v| format!("{v:5}"))
                        .collect::<Vec<_>>()
                        .join("")
                );
            }
        }
    })?;
    println!("wrote {}", a.out.display());
    if let Some(r) = gpu.profile_report() {
        // STYLEGAN_PROFILE=1: time per kernel.
        eprintln!("{r}");
    }
    Ok(())
}
