//! Pieces every subcommand shares: adapter flags and model loading.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::gpu::{AdapterChoice, Gpu};
use crate::io::safetensors::ModelFile;

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

/// Loads a model in either format: our safetensors, or an official pickle (detected by its
/// first byte, the pickle PROTO opcode 0x80).
pub fn load_model(path: &Path) -> Result<ModelFile> {
    let bytes = std::fs::read(path).map_err(|source| crate::Error::Io { path: path.display().to_string(), source })?;
    if bytes.first() == Some(&0x80) {
        return Ok(crate::io::model::from_official_pickle_bytes(&bytes, &path.display().to_string())?);
    }
    Ok(crate::io::safetensors::from_bytes(&bytes, &path.display().to_string())?)
}
