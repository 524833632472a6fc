//! Pieces every subcommand shares: adapter flags, model loading, input checks.

use crate::commands::flags;
use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use stylegan_wgpu::gpu::{AdapterChoice, Gpu, Policy, Tune};
use stylegan_wgpu::io::safetensors::Checkpoint;
use stylegan_wgpu::Model;

/// Architecture flags shared by `init` and `train`: a preset and the widths that change it.
#[derive(Args, Debug, Clone)]
pub struct ArchArgs {
    /// Architecture preset the flags below modify: ffhq (the official widths, 512 channels:
    /// for GPUs), fmnist (the embedded model's 32x32 grayscale network: fmap-base 256,
    /// fmap-max 64, latent 64, 2 mapping layers; trains on a CPU adapter) or tiny (tests)
    /// [default: ffhq].
    /// `train --preset ffhq` also trains with the release's FFHQ schedule (--batch-per-res).
    // An Option rather than a clap default, so `train --resume` can tell a preset the user
    // asked for (checked against the snapshot) from the default.
    #[arg(long)]
    pub preset: Option<String>,
    /// Channels at stage s are min(fmap_base / 2^s, fmap_max) (official 8192): the widths of
    /// the high-resolution layers.
    #[arg(long, value_parser = flags::width)]
    pub fmap_base: Option<usize>,
    /// The most channels of any layer (official 512): the widths of the low-resolution
    /// layers, and most of the parameters.
    #[arg(long, value_parser = flags::width)]
    pub fmap_max: Option<usize>,
    /// z and w width (also the mapping network's width).
    #[arg(long, value_parser = flags::width)]
    pub latent_size: Option<usize>,
    /// Mapping network depth.
    #[arg(long, value_parser = flags::layers)]
    pub mapping_layers: Option<usize>,
}

impl ArchArgs {
    /// The architecture flags given, as `--flag`, for messages.
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("--preset", self.preset.is_some()),
            ("--fmap-base", self.fmap_base.is_some()),
            ("--fmap-max", self.fmap_max.is_some()),
            ("--latent-size", self.latent_size.is_some()),
            ("--mapping-layers", self.mapping_layers.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect()
    }

    /// The preset with these flags (and, where given, the resolution and channels) applied.
    pub fn config(
        &self,
        resolution: Option<usize>,
        channels: Option<usize>,
    ) -> Result<stylegan_wgpu::nn::Config> {
        let mut c = stylegan_wgpu::nn::Config::preset(self.preset.as_deref().unwrap_or("ffhq"))?;
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
    /// The adapter these flags name, over STYLEGAN_BACKEND / STYLEGAN_ADAPTER.
    fn choice(&self) -> AdapterChoice {
        AdapterChoice::from_env().or(self.backend.clone(), self.adapter.clone())
    }

    pub fn open(&self) -> Result<Gpu> {
        Ok(Gpu::with_choice(&self.choice())?)
    }

    /// `open` for short work (a few batches: generate, mix, interpolate, discriminate): where
    /// `STYLEGAN_TUNE` is unset, the tuning table's choices without measuring the shapes it
    /// lacks (`Tune::Cached`). Measuring a new shape costs 1-2 s on lavapipe, more than such
    /// a command's whole work, and it did not make `generate` faster there.
    pub fn open_short(&self) -> Result<Gpu> {
        Ok(Gpu::with_policy(
            &self.choice(),
            Policy::from_env_or(Tune::Cached),
        )?)
    }

    /// The adapter of the rank with node-local index `local` in a multi-process run: the
    /// `local`-th entry (cyclically) of a comma-separated `--adapter` list; without `--adapter`,
    /// the `local`-th GPU when the node has several, else the one `open` picks.
    pub fn open_for_rank(&self, local: usize) -> Result<Gpu> {
        let mut choice = self.choice();
        match &choice.adapter {
            Some(list) if list.contains(',') => {
                let items: Vec<&str> = list.split(',').map(str::trim).collect();
                choice.adapter = Some(items[local % items.len()].to_string());
            }
            Some(_) => {}
            None => {
                let gpus: Vec<_> = stylegan_wgpu::gpu::list_adapters(choice.backend.as_deref())?
                    .into_iter()
                    .filter(|a| a.device_type.ends_with("Gpu"))
                    .collect();
                if gpus.len() > 1 {
                    choice.adapter = Some(gpus[local % gpus.len()].index.to_string());
                }
            }
        }
        Ok(Gpu::with_choice(&choice)?)
    }
}

/// `--model` if given, else the model embedded in the crate (`Model::embedded`).
pub fn load_model_or_default(model: Option<&Path>) -> Result<Model> {
    Ok(match model {
        Some(p) => Model::load(p)?,
        None => Model::embedded()?,
    })
}

/// A display name for `--model` (or the embedded model).
pub fn model_name(model: Option<&Path>) -> String {
    match model {
        Some(p) => p.display().to_string(),
        None => Model::embedded()
            .map(|m| m.name().to_string())
            .unwrap_or_else(|_| "embedded default model".into()),
    }
}

/// Loads a model in either format (official pickle or our safetensors) as its file content.
pub fn load_model(path: &Path) -> Result<Checkpoint> {
    Ok(Model::load(path)?.into_file())
}

/// Refuses non-finite values read from an input file: the error names the flag, the file
/// and the first bad value's index (in the file's flat C order) and its row.
/// The class of each of `n` rows (`--classes` as typed, `rows` naming them) on a
/// class-conditional model: one per row, refused when missing or the wrong count; `None` for an
/// unconditional model given none.
pub fn classes_per_row(
    model: &Path,
    cfg: &stylegan_wgpu::Config,
    spec: Option<&str>,
    n: usize,
    rows: &str,
) -> Result<Option<Vec<u32>>> {
    use anyhow::Context;
    match spec {
        Some(spec) => {
            let cl = stylegan_wgpu::nn::labels::parse_classes(cfg, spec)
                .with_context(|| format!("--classes {spec}"))?;
            if cl.len() != n {
                bail!(
                    "--classes {spec}: {} classes for the {n} {rows}; give one per row",
                    cl.len()
                );
            }
            Ok(Some(cl))
        }
        None if cfg.is_conditional() => bail!(
            "{}: the model is class-conditional ({} classes: {}); give the class of each of \
             the {n} {rows} with --classes, e.g. --classes 0-{}",
            model.display(),
            cfg.label_size,
            cfg.class_list(),
            n.min(cfg.label_size) - 1
        ),
        None => Ok(None),
    }
}

pub fn check_finite_input(flag: &str, path: &Path, data: &[f32], row: usize) -> Result<()> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{flag} {}: value {i} (row {}) is {}; only finite values are accepted",
            path.display(),
            i / row.max(1),
            data[i]
        );
    }
    Ok(())
}
