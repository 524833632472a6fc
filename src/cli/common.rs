//! Pieces every subcommand shares: adapter flags and model loading.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::gpu::{AdapterChoice, Gpu};
use crate::io::safetensors::ModelFile;

/// Architecture flags shared by `init` and `train`: a preset and the widths that change it.
#[derive(Args, Debug, Clone)]
pub struct ArchArgs {
    /// Architecture preset the flags below modify: ffhq (official 1024² widths) or tiny.
    #[arg(long, default_value = "ffhq")]
    pub preset: String,
    #[arg(long)]
    pub fmap_base: Option<usize>,
    #[arg(long)]
    pub fmap_max: Option<usize>,
    /// z and w width (also the mapping network's width).
    #[arg(long)]
    pub latent_size: Option<usize>,
    /// Mapping network depth.
    #[arg(long)]
    pub mapping_layers: Option<usize>,
}

impl ArchArgs {
    /// The preset with these flags (and, where given, the resolution and channels) applied.
    pub fn config(
        &self,
        resolution: Option<usize>,
        channels: Option<usize>,
    ) -> Result<crate::nn::Config> {
        let mut c = crate::nn::Config::preset(&self.preset)?;
        let set = |dst: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut c.resolution, resolution);
        set(&mut c.num_channels, channels);
        set(&mut c.fmap_base, self.fmap_base);
        set(&mut c.fmap_max, self.fmap_max);
        set(&mut c.mapping_layers, self.mapping_layers);
        if let Some(v) = self.latent_size {
            c.latent_size = v;
            c.dlatent_size = v;
            c.mapping_fmaps = v;
        }
        c.validate()?;
        Ok(c)
    }
}

/// Adapter choice flags (override STYLEGAN_BACKEND / STYLEGAN_ADAPTER).
#[derive(Args, Debug, Clone, Default)]
pub struct GpuArgs {
    /// Backend: vulkan, metal, dx12 or gl (default: STYLEGAN_BACKEND, else the best available).
    #[arg(long, global = true)]
    pub backend: Option<String>,
    /// Adapter index from `stylegan devices`, or a name substring (default: STYLEGAN_ADAPTER).
    #[arg(long, global = true)]
    pub adapter: Option<String>,
}

impl GpuArgs {
    pub fn open(&self) -> Result<Gpu> {
        let choice = AdapterChoice::from_env().or(self.backend.clone(), self.adapter.clone());
        Ok(Gpu::with_choice(&choice)?)
    }
}

/// The model embedded in the binary (`assets/default.safetensors`: a small StyleGAN trained
/// by this project on Fashion-MNIST, see `assets/README.md`), used when `--model` is omitted.
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../../assets/default.safetensors");
pub const DEFAULT_MODEL_NAME: &str =
    "embedded default model (Fashion-MNIST 32x32, assets/README.md)";

/// `--model` if given, else the embedded default model.
pub fn load_model_or_default(model: Option<&Path>) -> Result<ModelFile> {
    match model {
        Some(p) => load_model(p),
        None => Ok(crate::io::safetensors::from_bytes(
            DEFAULT_MODEL,
            DEFAULT_MODEL_NAME,
        )?),
    }
}

/// A display name for `--model` (or the embedded model).
pub fn model_name(model: Option<&Path>) -> String {
    model
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| DEFAULT_MODEL_NAME.to_string())
}

/// Loads a model in either format: our safetensors, or an official pickle (detected by its
/// first byte, the pickle PROTO opcode 0x80).
pub fn load_model(path: &Path) -> Result<ModelFile> {
    let bytes = crate::io::read_file(path)?;
    if bytes.first() == Some(&0x80) {
        return Ok(crate::io::model::from_official_pickle_bytes(
            &bytes,
            &path.display().to_string(),
        )?);
    }
    Ok(crate::io::safetensors::from_bytes(
        &bytes,
        &path.display().to_string(),
    )?)
}
