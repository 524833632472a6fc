//! `stylegan init`: a model with random weights and the official initialization.

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs};
use stylegan_wgpu::Model;

/// Writes a model (G, Gs, D) with random weights (official initialization), for tests and benchmarks.
///
/// Examples:
///   stylegan init --preset ffhq --out ffhq-shaped.safetensors
///   stylegan init --resolution 256 --fmap-max 256 --out r256.safetensors
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct InitArgs {
    #[command(flatten)]
    pub arch: super::common::ArchArgs,
    /// Output resolution (power of two >= 4); overrides the preset.
    #[arg(long, value_parser = flags::resolution)]
    pub resolution: Option<usize>,
    /// Image channels (1 = grayscale, 3 = RGB).
    #[arg(long, value_parser = flags::channels)]
    pub channels: Option<usize>,
    /// Seed of the random initialization.
    #[arg(long, value_parser = flags::seed, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.safetensors).
    #[arg(long, value_parser = flags::out_safetensors)]
    pub out: PathBuf,
}

pub fn run(a: &InitArgs) -> Result<()> {
    let cfg = a.arch.config(a.resolution, a.channels)?;
    let model = Model::init(&cfg, a.seed)?;
    model.save(&a.out)?;
    let m = model.file();
    let trainable = |specs: Vec<stylegan_wgpu::nn::ParamSpec>| -> usize {
        specs
            .iter()
            .filter(|s| s.trainable)
            .map(|s| s.shape.iter().product::<usize>())
            .sum()
    };
    println!(
        "wrote {} (resolution {}; trainable parameters: G {}, D {})",
        a.out.display(),
        m.config.resolution,
        trainable(generator_specs(&m.config)),
        trainable(discriminator_specs(&m.config))
    );
    Ok(())
}
