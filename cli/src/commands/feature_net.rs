//! Which network the metrics measure with: Inception (the standard, users supply pytorch-fid's
//! weights), a classifier of `stylegan train-classifier`, or the embedded Fashion-MNIST
//! evaluation network (`--features fmnist`, the default for 1-channel 32x32 images); VGG16's
//! fc7 for precision and recall (`--vgg16`); and LPIPS-VGG16 for path lengths.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use stylegan_wgpu::eval::lpips::Lpips;
use stylegan_wgpu::io::tensors::{
    fmnist_classifier, load_classifier, load_inception, load_lpips, load_vgg16_fc7,
};
use stylegan_wgpu::metrics::features::FeatureNet;
use stylegan_wgpu::Gpu;

const INCEPTION_HELP: &str = "pytorch-fid's Inception weights: pt_inception-2015-12-05-6726825d.pth \
(https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth) \
or its conversion by `stylegan convert W.pth W.safetensors`";

/// The feature network of FID, KID and precision/recall.
#[derive(Args, Debug, Clone, Default)]
pub struct FeatureNetArgs {
    #[arg(long, help = INCEPTION_HELP)]
    pub inception: Option<PathBuf>,
    /// Instead of Inception, the 128-d features of a classifier trained by `stylegan
    /// train-classifier` (images are averaged to gray and resized to its 32x32 input).
    #[arg(long, conflicts_with = "inception")]
    pub classifier: Option<PathBuf>,
    /// `fmnist`: the embedded Fashion-MNIST evaluation network (assets/README.md), the default
    /// for 1-channel 32x32 images when no --inception is given.
    #[arg(long, value_parser = ["fmnist"], conflicts_with_all = ["inception", "classifier"])]
    pub features: Option<String>,
    /// torchvision's VGG16 weights (vgg16-397923af.pth, or a safetensors conversion): its fc7
    /// features (4096, after ReLU, images resized to 224x224), the network of precision and
    /// recall as in stylegan2-ada's pr50k3. In `metrics` the pr* metrics use it and FID/KID
    /// keep the network above; in `features` and `fid` it is the network when given alone.
    #[arg(long)]
    pub vgg16: Option<PathBuf>,
}

/// What [`FeatureNetArgs`] chose, before anything is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetChoice {
    Inception(PathBuf),
    Classifier(PathBuf),
    Fmnist,
    Vgg16(PathBuf),
}

impl NetChoice {
    /// Whether it classifies (and its features measure path lengths; Inception's are not
    /// used for that).
    pub fn is_classifier(&self) -> bool {
        matches!(self, NetChoice::Classifier(_) | NetChoice::Fmnist)
    }
}

impl FeatureNetArgs {
    /// The network for images of `channels` x `side`²: as given (--vgg16 only when nothing
    /// else is), else `fmnist` for 1-channel 32x32 images, else an error asking for
    /// --inception.
    pub fn choose(&self, channels: usize, side: usize) -> Result<NetChoice> {
        if let (Some(v), None, None, None) = (
            &self.vgg16,
            &self.inception,
            &self.classifier,
            &self.features,
        ) {
            return Ok(NetChoice::Vgg16(v.clone()));
        }
        self.choose_main(channels, side)
    }

    /// The network of FID/KID (and, without --vgg16, precision/recall): --inception,
    /// --classifier or --features as given, else `fmnist` for 1-channel 32x32 images, else
    /// an error asking for --inception. --vgg16 is not considered.
    pub fn choose_main(&self, channels: usize, side: usize) -> Result<NetChoice> {
        Ok(match (&self.inception, &self.classifier, &self.features) {
            (Some(i), _, _) => NetChoice::Inception(i.clone()),
            (_, Some(c), _) => NetChoice::Classifier(c.clone()),
            (_, _, Some(_)) => NetChoice::Fmnist,
            _ if (channels, side) == (1, 32) => {
                eprintln!(
                    "features: fmnist (the embedded Fashion-MNIST evaluation network), the \
                     default for 1-channel 32x32 images; --inception W for Inception"
                );
                NetChoice::Fmnist
            }
            _ => bail!(
                "these are {channels}-channel {side}x{side} images: give --inception W \
                 (pytorch-fid's weights) or --classifier W; the embedded --features fmnist \
                 only suits 1-channel 32x32 images"
            ),
        })
    }
}

/// A loaded feature network, with what identifies its weights (part of the feature cache's
/// key) and its short name.
pub struct LoadedNet {
    pub net: Box<dyn FeatureNet>,
    /// The weights file, or "embedded".
    pub source: String,
    /// FNV-1a of the weights' bytes.
    pub weights_hash: u64,
    pub name: &'static str,
}

pub fn fnv1a(h: u64, data: &[u8]) -> u64 {
    data.iter()
        .fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

impl NetChoice {
    pub fn load(&self, gpu: &Gpu) -> Result<LoadedNet> {
        let hash_file = |p: &PathBuf| -> Result<u64> {
            Ok(fnv1a(FNV_START, &stylegan_wgpu::io::read_file(p)?))
        };
        Ok(match self {
            NetChoice::Inception(p) => LoadedNet {
                net: Box::new(
                    load_inception(gpu, p)
                        .with_context(|| format!("--inception {}", p.display()))?,
                ),
                source: p.display().to_string(),
                weights_hash: hash_file(p)?,
                name: "inception",
            },
            NetChoice::Classifier(p) => LoadedNet {
                net: Box::new(
                    load_classifier(gpu, p)
                        .with_context(|| format!("--classifier {}", p.display()))?,
                ),
                source: p.display().to_string(),
                weights_hash: hash_file(p)?,
                name: "classifier",
            },
            NetChoice::Vgg16(p) => LoadedNet {
                net: Box::new(
                    load_vgg16_fc7(gpu, p).with_context(|| format!("--vgg16 {}", p.display()))?,
                ),
                source: p.display().to_string(),
                weights_hash: hash_file(p)?,
                name: "vgg16",
            },
            NetChoice::Fmnist => LoadedNet {
                net: Box::new(fmnist_classifier(gpu)?),
                source: "embedded".into(),
                weights_hash: fnv1a(FNV_START, stylegan_wgpu::io::tensors::FMNIST_CLASSIFIER),
                name: "fmnist",
            },
        })
    }
}

/// `FeatureNetArgs` of `stylegan train`, where a network is only wanted with --metrics.
#[derive(Args, Debug)]
pub struct FeatureNetArgsOptional {
    /// pytorch-fid's Inception weights for --metrics (.pth, or its safetensors conversion).
    #[arg(long, requires = "metrics")]
    pub inception: Option<PathBuf>,
    /// For --metrics, the features of a `stylegan train-classifier` classifier instead.
    #[arg(long, requires = "metrics", conflicts_with = "inception")]
    pub classifier: Option<PathBuf>,
    /// For --metrics, `fmnist`: the embedded Fashion-MNIST evaluation network (the default for
    /// 1-channel 32x32 data without --inception).
    #[arg(long, requires = "metrics", value_parser = ["fmnist"], conflicts_with_all = ["inception", "classifier"])]
    pub features: Option<String>,
}

impl FeatureNetArgsOptional {
    pub fn args(&self) -> FeatureNetArgs {
        FeatureNetArgs {
            inception: self.inception.clone(),
            classifier: self.classifier.clone(),
            features: self.features.clone(),
            vgg16: None,
        }
    }
}

/// LPIPS-VGG16 weights: the distance of perceptual path lengths.
#[derive(Args, Debug, Clone, Default)]
pub struct LpipsArgs {
    /// torchvision's VGG16 weights (vgg16-397923af.pth, or a safetensors conversion): with
    /// --lpips-lin, path lengths use LPIPS as the official metric does.
    #[arg(long, requires = "lpips_lin")]
    pub lpips: Option<PathBuf>,
    /// The lpips package's linear layers, lpips/weights/v0.1/vgg.pth (`pip download lpips`).
    #[arg(long, requires = "lpips")]
    pub lpips_lin: Option<PathBuf>,
}

impl LpipsArgs {
    pub fn load(&self, gpu: &Gpu) -> Result<Option<Lpips>> {
        match (&self.lpips, &self.lpips_lin) {
            (Some(v), Some(l)) => Ok(Some(load_lpips(gpu, v, l).with_context(|| {
                format!("--lpips {} --lpips-lin {}", v.display(), l.display())
            })?)),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FeatureNetArgs, NetChoice};
    use std::path::PathBuf;

    #[test]
    fn vgg16_is_the_network_only_when_alone() {
        let v = PathBuf::from("vgg.pth");
        let only_vgg = FeatureNetArgs {
            vgg16: Some(v.clone()),
            ..Default::default()
        };
        // `features`/`fid`: alone it is the network, whatever the images.
        assert_eq!(only_vgg.choose(1, 32).unwrap(), NetChoice::Vgg16(v.clone()));
        assert_eq!(
            only_vgg.choose(3, 256).unwrap(),
            NetChoice::Vgg16(v.clone())
        );
        // `metrics`: FID/KID's network ignores it (fmnist for 1x32, an error otherwise).
        assert_eq!(only_vgg.choose_main(1, 32).unwrap(), NetChoice::Fmnist);
        assert!(only_vgg.choose_main(3, 256).is_err());
        let both = FeatureNetArgs {
            inception: Some("i.pth".into()),
            vgg16: Some(v),
            ..Default::default()
        };
        assert_eq!(
            both.choose(3, 256).unwrap(),
            NetChoice::Inception("i.pth".into())
        );
        assert!(!NetChoice::Vgg16("v".into()).is_classifier());
    }
}
