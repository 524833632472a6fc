//! `stylegan discriminate`: raw D scores of images.

use crate::commands::flags;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::{load_model, GpuArgs};
use stylegan_wgpu::io::images::load_image_chw;
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::nn::discriminator::Discriminator;
use stylegan_wgpu::train::inspect::{discriminate_batched, mbstd_batches};

/// Score images with a model's discriminator (raw scores, no sigmoid).
///
/// Minibatch stddev makes a score depend on the other images of its batch: images are scored
/// in their order, in batches of --batch (which must be a multiple of the model's mbstd group
/// size, or smaller than it); a last partial batch is split so each piece is valid.
///
/// Examples:
///   stylegan discriminate --model m.safetensors --images reals.npy --out-npy scores.npy
///   stylegan discriminate --model ffhq.pkl --images pngs/ --out-npy scores.npy
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct DiscriminateArgs {
    /// Model file with D: our .safetensors or an official .pkl.
    #[arg(long, visible_alias = "network")]
    pub model: PathBuf,
    /// Float32 NCHW .npy [N, C, R, R] in [-1, 1], or a folder of PNG files (sorted by name).
    #[arg(long)]
    pub images: PathBuf,
    /// Output scores [N, 1] as .npy.
    #[arg(long, value_parser = flags::out_npy)]
    pub out_npy: PathBuf,
    /// Images per GPU batch.
    #[arg(long, value_parser = flags::batch, default_value_t = 8)]
    pub batch: usize,
    /// Class of each image on a class-conditional model, in order, e.g. 0,3,sneaker or 0-3
    /// (numbers or class names; one per image): D scores each image for its class.
    #[arg(long, value_name = "LIST")]
    pub classes: Option<String>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// Every PNG in `dir`, sorted by name, as one NCHW array; each is checked against the model.
fn load_png_dir(dir: &Path, cfg: &Config) -> Result<(Vec<f32>, usize)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("--images {}: cannot read the folder", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("--images {}: no .png files in the folder", dir.display());
    }
    let (c, r) = (cfg.num_channels, cfg.resolution);
    let mut data = Vec::with_capacity(files.len() * c * r * r);
    for f in &files {
        let (chw, fc, h, w) = load_image_chw(f)?;
        if (fc, h, w) != (c, r, r) {
            bail!(
                "{}: {fc} channel(s), {w}x{h}; the model's discriminator takes {c} channel(s), {r}x{r}",
                f.display()
            );
        }
        data.extend(chw);
    }
    Ok((data, files.len()))
}

pub fn run(a: &DiscriminateArgs) -> Result<()> {
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let m = load_model(&a.model)?;
    let cfg = &m.config;
    let dw = m.nets.get("D").with_context(|| {
        format!(
            "{}: holds no discriminator (no D/ tensors)",
            a.model.display()
        )
    })?;
    let (c, r) = (cfg.num_channels, cfg.resolution);
    let (images, n) = if a.images.is_dir() {
        load_png_dir(&a.images, cfg)?
    } else {
        let arr = read_npy(&a.images)?;
        if arr.shape.len() != 4 || arr.shape[1..] != [c, r, r] || arr.shape[0] == 0 {
            bail!(
                "--images {}: shape {:?}, the model needs [N, {c}, {r}, {r}]",
                a.images.display(),
                arr.shape
            );
        }
        super::common::check_finite_input("--images", &a.images, &arr.data, c * r * r)?;
        let n = arr.shape[0];
        (arr.data, n)
    };
    // Checked before the GPU work so a bad --batch or --classes fails at once.
    mbstd_batches(cfg, n, a.batch).context("--batch")?;
    let classes = super::common::classes_per_row(&a.model, cfg, a.classes.as_deref(), n, "images")?;
    let gpu = a.gpu.open_short()?;
    let d = Discriminator::new(&gpu, cfg, dw)
        .with_context(|| format!("{}: network D", a.model.display()))?;
    eprintln!("{} on {} ({n} images)", a.model.display(), gpu.describe());
    let scores = discriminate_batched(&gpu, &d, &images, classes.as_deref(), a.batch)?;
    write_npy(&a.out_npy, &[n, 1], &scores)?;
    println!("wrote {} ({n} scores)", a.out_npy.display());
    Ok(())
}
