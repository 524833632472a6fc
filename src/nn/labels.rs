//! Class labels of conditional networks (`docs/network.md`, "Class labels"): one-hot rows
//! `[N, label_size]`, as the official dataset turns its integer classes into.

use crate::error::{shape_err, Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::config::Config;
use crate::tape::Var;

/// One-hot rows `[classes.len(), label_size]`, row-major; an error names a class that is out
/// of range.
pub fn one_hot(classes: &[u32], label_size: usize) -> Result<Vec<f32>> {
    let mut rows = vec![0f32; classes.len() * label_size];
    for (i, &c) in classes.iter().enumerate() {
        if c as usize >= label_size {
            return Err(Error::Invalid(format!(
                "class {c} is out of range: the model has {label_size} classes (0-{})",
                label_size.saturating_sub(1)
            )));
        }
        rows[i * label_size + c as usize] = 1.0;
    }
    Ok(rows)
}

/// The labels of `classes` on the GPU for a network of `cfg`: `None` for an unconditional
/// network given no classes; an error where one side has classes and the other does not.
pub fn class_labels(gpu: &Gpu, cfg: &Config, classes: Option<&[u32]>) -> Result<Option<Var>> {
    match (cfg.label_size, classes) {
        (0, None) => Ok(None),
        (0, Some(_)) => Err(Error::Invalid(
            "classes given to an unconditional model (label_size 0), which takes none".into(),
        )),
        (_, None) => Err(unlabelled(cfg)),
        (l, Some(c)) => Ok(Some(Var::constant(Tensor::from_slice(
            gpu,
            &[c.len(), l],
            &one_hot(c, l)?,
        )?))),
    }
}

/// The error of a conditional network called without labels.
pub fn unlabelled(cfg: &Config) -> Error {
    Error::Invalid(format!(
        "this model is class-conditional ({} classes: {}): give each image a class",
        cfg.label_size,
        cfg.class_list()
    ))
}

/// Checks `labels` against `cfg` and a batch of `n`: `[n, label_size]` for conditional
/// networks, none for unconditional ones.
pub fn check_labels(op: &'static str, cfg: &Config, labels: Option<&Var>, n: usize) -> Result<()> {
    match (cfg.label_size, labels) {
        (0, None) => Ok(()),
        (0, Some(l)) => shape_err(
            op,
            format!(
                "labels {:?} given to an unconditional network (label_size 0)",
                l.shape()
            ),
        ),
        (_, None) => Err(unlabelled(cfg)),
        (k, Some(l)) if l.shape() != [n, k] => shape_err(
            op,
            format!(
                "labels must be [N = {n}, label_size = {k}], got {:?}",
                l.shape()
            ),
        ),
        _ => Ok(()),
    }
}

/// The class of the image of seed `seed` when a conditional model is asked for images
/// without classes: `seed mod label_size`, so seeds 0..label_size show every class once.
pub fn class_of_seed(cfg: &Config, seed: u32) -> u32 {
    (seed as u64 % cfg.label_size.max(1) as u64) as u32
}

/// Classes of the generated images `start..start + n` of a metric on a class-conditional
/// model: image `i` is of class `i mod label_size`, so every class has the same share (the G
/// loss draws them from the training set, which for a balanced set such as Fashion-MNIST is
/// the same distribution). `None` for an unconditional model.
pub fn balanced_classes(cfg: &Config, start: usize, n: usize) -> Option<Vec<u32>> {
    cfg.is_conditional().then(|| {
        (start..start + n)
            .map(|i| (i % cfg.label_size) as u32)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_rows_and_range() {
        assert_eq!(one_hot(&[2, 0], 3).unwrap(), [0., 0., 1., 1., 0., 0.]);
        let e = one_hot(&[3], 3).unwrap_err().to_string();
        assert!(e.contains("class 3") && e.contains("0-2"), "{e}");
    }
}
