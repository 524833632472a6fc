//! Which network the metrics measure with: Inception (the standard; users supply
//! pytorch-fid's weights), a classifier of `stylegan train-classifier`, the embedded
//! Fashion-MNIST evaluation network (`fmnist`, the default for 1-channel 32x32 images), or
//! VGG16's fc7 (precision and recall as stylegan2-ada's `pr50k3`).

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::hash::{fnv1a, FNV_START};
use crate::io::tensors::{
    fmnist_classifier, load_classifier, load_inception, load_vgg16_fc7, FMNIST_CLASSIFIER,
};
use crate::metrics::features::FeatureNet;

/// A feature network, before anything is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetChoice {
    Inception(PathBuf),
    Classifier(PathBuf),
    /// The embedded Fashion-MNIST evaluation network (`assets/README.md`).
    Fmnist,
    Vgg16(PathBuf),
}

impl NetChoice {
    /// Whether it classifies (and its features measure path lengths and label images for
    /// linear separability; Inception's are not used for that).
    pub fn is_classifier(&self) -> bool {
        matches!(self, NetChoice::Classifier(_) | NetChoice::Fmnist)
    }

    /// The network for `channels` x `side`² images when none is given: `fmnist` for 1-channel
    /// 32x32 images (what it was trained on); an error naming the choices otherwise.
    pub fn default_for(channels: usize, side: usize) -> Result<NetChoice> {
        if (channels, side) == (1, 32) {
            Ok(NetChoice::Fmnist)
        } else {
            Err(Error::Invalid(format!(
                "these are {channels}-channel {side}x{side} images: give --inception W \
                 (pytorch-fid's weights) or --classifier W; the embedded --features fmnist \
                 only suits 1-channel 32x32 images"
            )))
        }
    }

    /// The weights file, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            NetChoice::Inception(p) | NetChoice::Classifier(p) | NetChoice::Vgg16(p) => Some(p),
            NetChoice::Fmnist => None,
        }
    }

    /// Reads the weights onto `gpu`.
    pub fn load(&self, gpu: &Gpu) -> Result<LoadedNet> {
        let hash_file =
            |p: &PathBuf| -> Result<u64> { Ok(fnv1a(FNV_START, &crate::io::read_file(p)?)) };
        let from_file = |p: &PathBuf, net: Box<dyn FeatureNet>, name| -> Result<LoadedNet> {
            Ok(LoadedNet {
                net,
                source: p.display().to_string(),
                weights_hash: hash_file(p)?,
                name,
            })
        };
        match self {
            NetChoice::Inception(p) => from_file(p, Box::new(load_inception(gpu, p)?), "inception"),
            NetChoice::Classifier(p) => {
                from_file(p, Box::new(load_classifier(gpu, p)?), "classifier")
            }
            NetChoice::Vgg16(p) => from_file(p, Box::new(load_vgg16_fc7(gpu, p)?), "vgg16"),
            NetChoice::Fmnist => Ok(LoadedNet {
                net: Box::new(fmnist_classifier(gpu)?),
                source: "embedded".into(),
                weights_hash: fnv1a(FNV_START, FMNIST_CLASSIFIER),
                name: "fmnist",
            }),
        }
    }
}

impl NetChoice {
    /// Like [`NetChoice::load`], with Inception giving `dims` features (pytorch-fid's
    /// `--dims`: 64, 192, 768 or 2048, [`crate::eval::inception::DIMS`]). The other networks
    /// have one width, and any other `dims` is an error.
    pub fn load_dims(&self, gpu: &Gpu, dims: usize) -> Result<LoadedNet> {
        let NetChoice::Inception(p) = self else {
            let l = self.load(gpu)?;
            if l.net.dim() != dims {
                return Err(Error::Invalid(format!(
                    "the {} network gives {} features, not {dims}; only Inception has other \
                     widths (pytorch-fid's --dims)",
                    l.name,
                    l.net.dim()
                )));
            }
            return Ok(l);
        };
        let net = load_inception(gpu, p)?.with_dims(dims)?;
        let bytes = crate::io::read_file(p)?;
        let mut weights_hash = fnv1a(FNV_START, &bytes);
        // Features of another layer are other features: a cache keyed by the weights must
        // not mix them up with the pool features.
        if dims != crate::eval::inception::FEATURES {
            weights_hash = fnv1a(weights_hash, &(dims as u64).to_le_bytes());
        }
        Ok(LoadedNet {
            net: Box::new(net),
            source: p.display().to_string(),
            weights_hash,
            name: "inception",
        })
    }
}

/// A loaded feature network, with what identifies its weights (part of the real-feature
/// cache's key) and its short name.
pub struct LoadedNet {
    pub net: Box<dyn FeatureNet>,
    /// The weights file, or "embedded".
    pub source: String,
    /// FNV-1a of the weights' bytes.
    pub weights_hash: u64,
    pub name: &'static str,
}
