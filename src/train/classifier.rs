//! Training and evaluating the classifier (`eval::classifier`) with this crate's executor: mean
//! softmax cross-entropy, Adam, dropout, random shifts and mirroring of the 8-bit training images.

use crate::autodiff::grad_scalar;
use crate::error::{Error, Result};
use crate::eval::classifier::{Classifier, DropoutMasks};
use crate::gpu::Tensor;
use crate::ops;
use crate::tape::{no_grad, Var};
use crate::train::optim::{adam_step, AdamConfig, AdamSlot};

/// Adam of the classifier: the usual (0.9, 0.999) moments, not StyleGAN's.
pub fn classifier_adam(lr: f32) -> AdamConfig {
    AdamConfig {
        lr,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        decay: 0.0,
    }
}

/// Dropout rates of training (0 = off): on the flattened last pooling output and on the
/// feature layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dropout {
    pub flat: f32,
    pub features: f32,
}

impl Dropout {
    pub fn validate(&self) -> Result<()> {
        for (name, p) in [("flat", self.flat), ("features", self.features)] {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::Invalid(format!(
                    "dropout rate ({name}) {p} must be in [0, 1)"
                )));
            }
        }
        Ok(())
    }
}

/// `n` dropout multipliers: 0 with probability `p`, else `1 / (1 - p)` (inverted dropout, so
/// evaluation needs no rescaling).
pub fn dropout_mask(rng: &mut impl rand::Rng, n: usize, p: f32) -> Vec<f32> {
    let keep = 1.0 / (1.0 - p);
    (0..n)
        .map(|_| if rng.random::<f32>() < p { 0.0 } else { keep })
        .collect()
}

/// The classifier and its optimizer state.
pub struct ClassifierTrainer {
    pub net: Classifier,
    pub adam: AdamConfig,
    pub dropout: Dropout,
    /// Draws the dropout masks.
    rng: crate::rng::Seeded,
    slots: Vec<AdamSlot>,
    /// Updates done (Adam's 1-based step count is `steps + 1`).
    pub steps: u64,
}

impl ClassifierTrainer {
    /// `seed` seeds the dropout masks.
    pub fn new(
        net: Classifier,
        adam: AdamConfig,
        dropout: Dropout,
        seed: u64,
    ) -> Result<ClassifierTrainer> {
        dropout.validate()?;
        let slots = net
            .params()
            .iter()
            .map(|(_, v)| AdamSlot::zeros(v.value()))
            .collect::<Result<Vec<_>>>()?;
        Ok(ClassifierTrainer {
            net,
            adam,
            dropout,
            rng: crate::rng::seeded(seed),
            slots,
            steps: 0,
        })
    }

    /// One Adam step on a batch `x: [N, 1, S, S]` (host f32 in [-1, 1]) with class `labels`;
    /// returns the batch's mean loss as a GPU scalar (read it only when needed: reading waits
    /// for the GPU).
    pub fn step(&mut self, x: &[f32], labels: &[usize]) -> Result<Var> {
        let cfg = *self.net.config();
        let n = labels.len();
        let gpu = self.net.params()[0].1.value().gpu().clone();
        let xv = Var::constant(Tensor::from_slice(&gpu, &[n, 1, cfg.side, cfg.side], x)?);
        let t = ops::one_hot(&gpu, labels, cfg.classes)?;
        let [c3, q] = [cfg.channels[2], cfg.side / 8];
        let mut mask = |shape: &[usize], p: f32| -> Result<Option<Var>> {
            if p == 0.0 {
                return Ok(None);
            }
            let m = dropout_mask(&mut self.rng, shape.iter().product(), p);
            Ok(Some(Var::constant(Tensor::from_slice(&gpu, shape, &m)?)))
        };
        let masks = DropoutMasks {
            flat: mask(&[n, c3, q, q], self.dropout.flat)?,
            features: mask(&[n, cfg.features], self.dropout.features)?,
        };
        let out = self.net.forward_dropout(&xv, &masks)?;
        let loss = ops::mean(&ops::softmax_cross_entropy(&out.logits, &t)?)?;
        let vars: Vec<Var> = self.net.params().iter().map(|(_, v)| v.clone()).collect();
        let grads = grad_scalar(&loss, &vars, false)?;
        self.steps += 1;
        for ((v, g), slot) in vars.iter().zip(&grads).zip(&self.slots) {
            let g = g
                .as_ref()
                .ok_or_else(|| Error::Invalid("classifier: a parameter got no gradient".into()))?;
            adam_step(v.value(), g.value(), slot, &self.adam, self.steps)?;
        }
        Ok(loss.detach())
    }
}

/// 8-bit images `[N, 1, S, S]` to network input in [-1, 1].
pub fn to_input(images: &[u8]) -> Vec<f32> {
    images.iter().map(|&v| v as f32 / 127.5 - 1.0).collect()
}

/// An 8-bit `side x side` image shifted by `(dy, dx)` (zero fill) and mirrored when `flip`.
pub fn shift_flip(img: &[u8], side: usize, dy: isize, dx: isize, flip: bool) -> Vec<u8> {
    let mut out = vec![0u8; side * side];
    for y in 0..side {
        let sy = y as isize - dy;
        if sy < 0 || sy >= side as isize {
            continue;
        }
        for x in 0..side {
            let xx = if flip { side - 1 - x } else { x };
            let sx = xx as isize - dx;
            if sx >= 0 && sx < side as isize {
                out[y * side + x] = img[sy as usize * side + sx as usize];
            }
        }
    }
    out
}

/// Predicted classes of 8-bit images `[N, 1, S, S]`, `batch` at a time.
pub fn predict(net: &Classifier, images: &[u8], batch: usize) -> Result<Vec<usize>> {
    let cfg = net.config();
    let per = cfg.side * cfg.side;
    let gpu = net.params()[0].1.value().gpu().clone();
    let mut out = Vec::with_capacity(images.len() / per);
    for chunk in images.chunks(batch.max(1) * per) {
        let n = chunk.len() / per;
        let x = Var::constant(Tensor::from_slice(
            &gpu,
            &[n, 1, cfg.side, cfg.side],
            &to_input(chunk),
        )?);
        let logits = no_grad(|| net.forward(&x)?.logits.to_vec())?;
        out.extend(logits.chunks(cfg.classes).map(|row| {
            row.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                )
                .0
        }));
    }
    Ok(out)
}

/// Accuracy and the confusion matrix (`m[true][predicted]`) of predictions against labels.
pub fn confusion(pred: &[usize], labels: &[usize], classes: usize) -> (f64, Vec<Vec<usize>>) {
    let mut m = vec![vec![0usize; classes]; classes];
    for (&p, &l) in pred.iter().zip(labels) {
        m[l][p] += 1;
    }
    let right: usize = (0..classes).map(|c| m[c][c]).sum();
    (right as f64 / labels.len().max(1) as f64, m)
}
