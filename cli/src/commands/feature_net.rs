//! The flags that choose the metrics' networks: `--inception`, `--classifier`, `--features
//! fmnist` (the default for 1-channel 32x32 images), `--vgg16` for precision and recall, and
//! `--lpips`/`--lpips-lin` for path lengths (`stylegan_wgpu::metrics::networks` loads them).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use stylegan_wgpu::eval::lpips::Lpips;
use stylegan_wgpu::io::tensors::load_lpips;
use stylegan_wgpu::metrics::networks::{LoadedNet, NetChoice};
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
            _ => {
                let c = NetChoice::default_for(channels, side)?;
                eprintln!(
                    "features: fmnist (the embedded Fashion-MNIST evaluation network), the \
                     default for 1-channel 32x32 images; --inception W for Inception"
                );
                c
            }
        })
    }
}

/// Loads `choice` onto `gpu`; a bad file's error names its flag.
pub fn load_net(choice: &NetChoice, gpu: &Gpu) -> Result<LoadedNet> {
    let flag = match choice {
        NetChoice::Inception(_) => "--inception",
        NetChoice::Classifier(_) => "--classifier",
        NetChoice::Vgg16(_) => "--vgg16",
        NetChoice::Fmnist => return Ok(choice.load(gpu)?),
    };
    let path = choice
        .path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    choice.load(gpu).with_context(|| format!("{flag} {path}"))
}

/// Like `load_net`, with `--dims` (Inception's other feature layers) when given.
pub fn load_net_dims(choice: &NetChoice, gpu: &Gpu, dims: Option<usize>) -> Result<LoadedNet> {
    let Some(d) = dims else {
        return load_net(choice, gpu);
    };
    let what = match choice.path() {
        Some(p) => format!("--dims {d} with {}", p.display()),
        None => format!("--dims {d}"),
    };
    choice.load_dims(gpu, d).context(what)
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
    /// The network the flags name; `None` leaves the choice to the data's images.
    pub fn given(&self) -> Option<NetChoice> {
        match (&self.inception, &self.classifier, &self.features) {
            (Some(i), _, _) => Some(NetChoice::Inception(i.clone())),
            (_, Some(c), _) => Some(NetChoice::Classifier(c.clone())),
            (_, _, Some(_)) => Some(NetChoice::Fmnist),
            _ => None,
        }
    }
}

/// LPIPS-VGG16 weights: the distance of perceptual path lengths (`metrics`) and of the
/// projector's loss (`project`).
#[derive(Args, Debug, Clone, Default)]
pub struct LpipsArgs {
    /// torchvision's VGG16 weights (vgg16-397923af.pth, or a safetensors conversion): with
    /// --lpips-lin, the distance is LPIPS, as in the official path-length metric and
    /// projector.
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
