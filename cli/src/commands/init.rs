//! `stylegan init`: a model with random weights and the official initialization.

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs};
use stylegan_wgpu::Model;

/// Writes a model (G, Gs, D) with random weights (official initialization), for tests and benchmarks.
///
/// Examples:
///   stylegan init --preset ffhq --out ffhq-shaped.safetensors
///   stylegan init --resolution 256 --fmap-max 256 --out r256.safetensors
///   stylegan init --preset fmnist --label-size 10 --class-names fmnist --out cond.safetensors
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
    /// Classes of a class-conditional model (label_size; 0 = unconditional). Default: the
    /// number of --class-names, else 0.
    #[arg(long, value_parser = flags::label_size)]
    pub label_size: Option<usize>,
    /// Names of the classes: fmnist (Fashion-MNIST's ten), mnist (0-9) or a list a,b,c.
    #[arg(long, value_name = "fmnist|mnist|A,B,...")]
    pub class_names: Option<String>,
    /// Seed of the random initialization.
    #[arg(long, value_parser = flags::seed, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.safetensors).
    #[arg(long, value_parser = flags::out_safetensors)]
    pub out: PathBuf,
}

pub fn run(a: &InitArgs) -> Result<()> {
    let mut cfg = a.arch.config(a.resolution, a.channels)?;
    if let Some(spec) = &a.class_names {
        let names = stylegan_wgpu::nn::labels::class_names(spec).context("--class-names")?;
        match a.label_size {
            Some(n) if n != names.len() => bail!(
                "--class-names {spec}: {} names for --label-size {n}; give one name per class",
                names.len()
            ),
            _ => cfg.label_size = names.len(),
        }
        cfg.class_names = names;
    } else if let Some(n) = a.label_size {
        cfg.label_size = n;
    }
    cfg.validate()?;
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
    let classes = if m.config.is_conditional() {
        format!(
            "; class-conditional, {} classes: {}",
            m.config.label_size,
            m.config.class_list()
        )
    } else {
        String::new()
    };
    println!(
        "wrote {} (resolution {}{classes}; trainable parameters: G {}, D {})",
        a.out.display(),
        m.config.resolution,
        trainable(generator_specs(&m.config)),
        trainable(discriminator_specs(&m.config))
    );
    Ok(())
}
