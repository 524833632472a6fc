//! The metrics of the StyleGAN papers, computed from Inception-v3 pool features
//! ([`crate::eval::inception`]): FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018).
//!
//! - [`stats`]: mean and covariance of a feature set, accumulated in f64 block by block;
//! - [`mod@fid`]: the Fréchet distance of two such Gaussians;
//! - [`mod@kid`]: the unbiased MMD² with the cubic polynomial kernel over random subsets, as
//!   stylegan2-ada's `kid50k_full`;
//! - [`ppl`]: perceptual path length in Z or W, full or end, with a distance of the
//!   caller's choosing (LPIPS officially);
//! - [`pr`]: improved precision and recall (Kynkäänniemi et al. 2019), as stylegan2-ada's
//!   `pr50k3`;
//! - [`separability`]: linear separability of Z and W (StyleGAN section 4.2), labels from a
//!   classifier, a linear SVM per class;
//! - [`features`]: the features of a dataset, or of images a generator makes the way the
//!   official metrics make them;
//! - [`registry`]: the metrics by name (`fid50k_full`, `pr10k3`, `ppl_wend2k`, `ls`...);
//! - [`networks`]: the feature networks (Inception, a classifier, the embedded `fmnist`
//!   network, VGG16 fc7) and their loading;
//! - [`runner`]: named metrics of generators against a dataset, real features cached
//!   ([`cache`]), results as the official JSON lines.
//!
//! The numbers match pytorch-fid's (FID) and stylegan2-ada's (KID) on the same features:
//! `tests/inception.rs` compares them in CI.

pub mod cache;
pub mod features;
pub mod fid;
pub mod kid;
pub mod networks;
pub mod ppl;
pub mod pr;
pub mod registry;
pub mod runner;
pub mod separability;
pub mod stats;
pub mod svm;

pub use fid::{fid, fid_from_features, fid_moments};
pub use kid::{kid, KidOptions};
pub use pr::{precision_recall, PrecisionRecall};
pub use stats::{FeatureStats, Moments};

use crate::error::{Error, Result};

/// Checks that `features` is `[n, dim]` row-major with `n >= min_rows` and finite values;
/// returns `n`. `what` names the set in errors.
pub(crate) fn check_features(
    what: &str,
    features: &[f32],
    dim: usize,
    min_rows: usize,
) -> Result<usize> {
    if dim == 0 || !features.len().is_multiple_of(dim) {
        return Err(Error::Invalid(format!(
            "{what}: {} values are not rows of {dim} features",
            features.len()
        )));
    }
    let n = features.len() / dim;
    if n < min_rows {
        return Err(Error::Invalid(format!(
            "{what}: {n} images; at least {min_rows} are needed"
        )));
    }
    if let Some(i) = features.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!(
            "{what}: feature {} of image {} is {} (not finite)",
            i % dim,
            i / dim,
            features[i]
        )));
    }
    Ok(n)
}
