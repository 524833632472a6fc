//! `stylegan generate`: images from seeds, latents or dlatents.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::gen_common::{
    load_generator, map_all, progress, seed_latent, synthesize_all, SynthArgs,
};
use stylegan_wgpu::io::images::{save_grid_png, save_png};
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::rng::parse_seeds;

/// Generate images with a model.
///
/// Examples:
///   stylegan generate --model ffhq.pkl --seeds 0-7 --outdir out
///   stylegan generate --model m.safetensors --seeds 0-15 --trunc 0.7 --grid grid.png
///   stylegan generate --model m.safetensors --latents z.npy --out-npy images.npy
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Seeds, e.g. "0-7,42": z = numpy.random.RandomState(seed).randn(latent_size).
    #[arg(long, conflicts_with_all = ["latents", "dlatents"])]
    pub seeds: Option<String>,
    /// Latents z as .npy, float32/float64 [N, latent_size].
    #[arg(long, conflicts_with = "dlatents")]
    pub latents: Option<PathBuf>,
    /// Dlatents w as .npy [N, num_layers, dlatent_size], fed to synthesis directly.
    #[arg(long)]
    pub dlatents: Option<PathBuf>,
    /// Write one PNG per image here (seed0042.png for seeds, img0000.png otherwise).
    #[arg(long)]
    pub outdir: Option<PathBuf>,
    /// Write all images as one grid PNG.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Write the raw float32 NCHW output as .npy.
    #[arg(long)]
    pub out_npy: Option<PathBuf>,
    /// Write the latents z used as .npy.
    #[arg(long)]
    pub save_latents: Option<PathBuf>,
    /// Write the (truncated) dlatents w used as .npy.
    #[arg(long)]
    pub save_dlatents: Option<PathBuf>,
    #[command(flatten)]
    pub synth: SynthArgs,
}

pub fn run(a: &GenerateArgs) -> Result<()> {
    if a.outdir.is_none() && a.grid.is_none() && a.out_npy.is_none() {
        bail!("nothing to write: give --outdir, --grid and/or --out-npy");
    }
    if a.synth.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if let Some(dir) = &a.outdir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--outdir {}: cannot create", dir.display()))?;
    }
    // Cheap checks first: a typo should not cost a model load.
    let seeds = if a.latents.is_none() && a.dlatents.is_none() {
        Some(
            parse_seeds(a.seeds.as_deref().unwrap_or("0-7"))
                .map_err(|e| anyhow::anyhow!("--seeds: {e}"))?,
        )
    } else {
        None
    };
    let gpu = a.synth.gpu.open()?;
    let (g, net) = load_generator(&gpu, a.synth.model.as_deref(), a.synth.batch)?;
    let cfg = g.cfg.clone();
    let (l, d, k) = (cfg.num_layers(), cfg.dlatent_size, cfg.latent_size);
    let cutoff = a.synth.trunc_cutoff.unwrap_or(l);
    eprintln!(
        "{} on {} (network {net}, {}x{}, {} channels)",
        super::common::model_name(a.synth.model.as_deref()),
        gpu.describe(),
        cfg.resolution,
        cfg.resolution,
        cfg.num_channels
    );

    let mut names = Vec::new();
    let mut zs: Option<Vec<f32>> = None;
    let ws: Vec<f32>;
    let n;
    if let Some(path) = &a.dlatents {
        let arr = read_npy(path)?;
        if arr.shape.len() != 3 || arr.shape[1] != l || arr.shape[2] != d {
            bail!(
                "--dlatents {}: shape {:?}, the model needs [N, {l}, {d}]",
                path.display(),
                arr.shape
            );
        }
        n = arr.shape[0];
        ws = arr.data;
    } else {
        let z = if let Some(path) = &a.latents {
            let arr = read_npy(path)?;
            if arr.shape.len() != 2 || arr.shape[1] != k {
                bail!(
                    "--latents {}: shape {:?}, the model needs [N, {k}]",
                    path.display(),
                    arr.shape
                );
            }
            arr.data
        } else {
            let seeds = seeds
                .clone()
                .expect("parsed above when neither --latents nor --dlatents");
            names = seeds.iter().map(|s| format!("seed{s:04}.png")).collect();
            seeds.iter().flat_map(|&s| seed_latent(s, k)).collect()
        };
        n = z.len() / k;
        ws = map_all(&g, &z, a.synth.trunc, cutoff)?;
        zs = Some(z);
    }
    if n == 0 {
        bail!("no images to generate");
    }
    if names.is_empty() {
        names = (0..n).map(|i| format!("img{i:04}.png")).collect();
    }
    g.seed_noise(a.synth.noise_seed);
    let pb = progress(n, "generating");
    let images = synthesize_all(&g, &ws, a.synth.batch, a.synth.noise_mode, &pb)?;
    pb.finish_and_clear();
    let st = gpu.stats();
    eprintln!(
        "{n} images in {:.2} s; peak GPU memory in tensors {:.1} MiB",
        pb.elapsed().as_secs_f64(),
        st.peak_bytes as f64 / (1 << 20) as f64
    );
    if let Some(r) = gpu.profile_report() {
        eprintln!("{r}");
    }
    let (c, r) = (cfg.num_channels, cfg.resolution);
    if let Some(dir) = &a.outdir {
        for (img, name) in images.iter().zip(&names) {
            save_png(dir.join(name), img, c, r, r)?;
        }
        println!("wrote {n} images to {}", dir.display());
    }
    if let Some(path) = &a.grid {
        let cols = (n as f64).sqrt().ceil() as usize;
        save_grid_png(path, &images, c, r, r, cols)?;
        println!("wrote grid {}", path.display());
    }
    if let Some(path) = &a.out_npy {
        let flat: Vec<f32> = images.concat();
        write_npy(path, &[n, c, r, r], &flat)?;
        println!("wrote {}", path.display());
    }
    if let (Some(path), Some(z)) = (&a.save_latents, &zs) {
        write_npy(path, &[n, k], z)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &a.save_dlatents {
        write_npy(path, &[n, l, d], &ws)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
