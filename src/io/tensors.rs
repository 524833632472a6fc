//! Named tensors from a weight file of another project, whatever its container: a PyTorch
//! checkpoint (`.pth`, recognized by content: [`crate::io::torch_checkpoint`]) or plain
//! safetensors (e.g. its conversion by `stylegan convert`). Used by the metrics' networks, whose
//! weights come from pytorch-fid, torchvision and the lpips package, and by the embedded
//! Fashion-MNIST evaluation classifier.

use std::path::Path;

use crate::error::Result;
use crate::eval::classifier::{Classifier, ClassifierConfig};
use crate::eval::inception::Inception;
use crate::eval::lpips::Lpips;
use crate::eval::vgg16::Vgg16Fc7;
use crate::gpu::Gpu;
use crate::io::torch_checkpoint::{parse_torch_checkpoint, sniff_format};
use crate::nn::params::HostWeights;

/// Reads every tensor of `path` as f32, by name. Errors name the file (and the tensor).
pub fn read_tensors(path: &Path) -> Result<HostWeights> {
    let bytes = crate::io::read_file(path)?;
    let name = path.display().to_string();
    let tensors = if sniff_format(&bytes).is_some() {
        parse_torch_checkpoint(&bytes, &name)?.tensors
    } else {
        crate::io::safetensors::tensors_from_bytes(&bytes, &name)?
    };
    Ok(tensors.into_iter().collect())
}

/// pytorch-fid's Inception-v3 from its checkpoint (`.pth`) or the safetensors conversion.
pub fn load_inception(gpu: &Gpu, path: &Path) -> Result<Inception> {
    let t = read_tensors(path)?;
    Inception::from_tensors(gpu, &t, &path.display().to_string())
}

/// VGG16 up to fc7 (precision/recall's features) from torchvision's full state dict (`.pth` or
/// safetensors).
pub fn load_vgg16_fc7(gpu: &Gpu, path: &Path) -> Result<Vgg16Fc7> {
    Vgg16Fc7::from_tensors(gpu, &read_tensors(path)?, &path.display().to_string())
}

/// LPIPS-VGG16 from torchvision's VGG16 state dict and the lpips package's `lin` weights
/// (`.pth` or safetensors each).
pub fn load_lpips(gpu: &Gpu, vgg: &Path, lin: &Path) -> Result<Lpips> {
    Lpips::from_tensors(
        gpu,
        &read_tensors(vgg)?,
        &vgg.display().to_string(),
        &read_tensors(lin)?,
        &lin.display().to_string(),
    )
}

/// The Fashion-MNIST evaluation classifier embedded in the binary
/// (`assets/fmnist-classifier.safetensors`, its model card in `assets/README.md`): the
/// feature network of `--features fmnist`.
pub const FMNIST_CLASSIFIER: &[u8] = include_bytes!("../../assets/fmnist-classifier.safetensors");

/// The embedded Fashion-MNIST classifier ([`FMNIST_CLASSIFIER`]).
pub fn fmnist_classifier(gpu: &Gpu) -> Result<Classifier> {
    classifier_from_bytes(gpu, FMNIST_CLASSIFIER, "the embedded fmnist classifier")
}

/// A classifier written by `stylegan train-classifier` (safetensors; its config is in the
/// metadata, else the Fashion-MNIST one).
pub fn load_classifier(gpu: &Gpu, path: &Path) -> Result<Classifier> {
    let bytes = crate::io::read_file(path)?;
    classifier_from_bytes(gpu, &bytes, &path.display().to_string())
}

fn classifier_from_bytes(gpu: &Gpu, bytes: &[u8], name: &str) -> Result<Classifier> {
    let cfg = match safetensors::SafeTensors::read_metadata(bytes) {
        Ok((_, meta)) => match meta.metadata().as_ref().and_then(|m| m.get("config")) {
            Some(c) => serde_json::from_str(c).map_err(|e| {
                crate::Error::Invalid(format!(
                    "{name}: the classifier config in the metadata: {e}"
                ))
            })?,
            None => ClassifierConfig::fmnist(),
        },
        Err(e) => {
            return Err(crate::Error::Invalid(format!(
                "{name}: not a safetensors classifier file ({e})"
            )))
        }
    };
    let tensors: HostWeights = crate::io::safetensors::tensors_from_bytes(bytes, name)?
        .into_iter()
        .collect();
    Classifier::from_tensors(gpu, &cfg, &tensors, name)
}
