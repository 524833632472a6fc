//! `stylegan init`: a model with random weights and the official initialization.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::io::safetensors::{save, ModelFile};
use crate::nn::config::Config;
use crate::nn::params::{generator_specs, init_host};

/// Writes a model with random weights (official initialization), for tests and benchmarks.
///
/// Examples:
///   stylegan init --preset ffhq --out ffhq-shaped.safetensors
///   stylegan init --resolution 256 --fmap-max 256 --out r256.safetensors
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Start from a preset: ffhq (official 1024² network) or tiny (32², few channels).
    #[arg(long, default_value = "ffhq")]
    pub preset: String,
    /// Output resolution (power of two >= 4); overrides the preset.
    #[arg(long)]
    pub resolution: Option<usize>,
    /// Image channels (1 = grayscale, 3 = RGB).
    #[arg(long)]
    pub channels: Option<usize>,
    #[arg(long)]
    pub fmap_base: Option<usize>,
    #[arg(long)]
    pub fmap_max: Option<usize>,
    /// z and w width.
    #[arg(long)]
    pub latent_size: Option<usize>,
    /// Seed of the random initialization.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn config_from(preset: &str, a: &InitArgs) -> Result<Config> {
    let mut c = Config::preset(preset)?;
    if let Some(r) = a.resolution {
        c.resolution = r;
    }
    if let Some(v) = a.channels {
        c.num_channels = v;
    }
    if let Some(v) = a.fmap_base {
        c.fmap_base = v;
    }
    if let Some(v) = a.fmap_max {
        c.fmap_max = v;
    }
    if let Some(v) = a.latent_size {
        c.latent_size = v;
        c.dlatent_size = v;
        c.mapping_fmaps = v;
    }
    c.validate()?;
    Ok(c)
}

pub fn run(a: &InitArgs) -> Result<()> {
    let cfg = config_from(&a.preset, a)?;
    let g = init_host(&generator_specs(&cfg), a.seed);
    let mut m = ModelFile { config: cfg, ..Default::default() };
    m.nets.insert("G".into(), g.clone());
    m.nets.insert("Gs".into(), g);
    save(&a.out, &m)?;
    let n: usize = m.nets["G"].values().map(|t| t.data.len()).sum();
    println!("wrote {} ({} parameters in G, resolution {})", a.out.display(), n, m.config.resolution);
    Ok(())
}
