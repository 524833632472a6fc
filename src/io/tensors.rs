//! Named tensors from a weight file of another project, whatever its container: a PyTorch
//! checkpoint (`.pth`, recognized by content: [`crate::io::torch_checkpoint`]) or plain
//! safetensors (e.g. its conversion by `stylegan convert`). Used by the metrics' feature
//! networks, whose weights come from pytorch-fid and torchvision.

use std::path::Path;

use crate::error::Result;
use crate::gpu::Gpu;
use crate::io::torch_checkpoint::{parse_torch_checkpoint, sniff_format};
use crate::nn::classifier::{Classifier, ClassifierConfig};
use crate::nn::inception::Inception;
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

/// A classifier written by `stylegan train-classifier` (safetensors; its config is in the
/// metadata, else the Fashion-MNIST one).
pub fn load_classifier(gpu: &Gpu, path: &Path) -> Result<Classifier> {
    let bytes = crate::io::read_file(path)?;
    let name = path.display().to_string();
    let cfg = match safetensors::SafeTensors::read_metadata(&bytes) {
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
    let tensors: HostWeights = crate::io::safetensors::tensors_from_bytes(&bytes, &name)?
        .into_iter()
        .collect();
    Classifier::from_tensors(gpu, &cfg, &tensors, &name)
}
