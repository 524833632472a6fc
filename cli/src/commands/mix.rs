//! `stylegan mix`: the paper's style-mixing figure.
//!
//! Mixing is a plain copy of rows of the host-side dlatents, so every cell costs one synthesis
//! and the mapping runs once per distinct seed.

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::gen_common::{
    class_flag, describe_classes, load_generator, map_all, seed_latent, synthesize_all, SynthArgs,
};
use super::progress::progress;
use stylegan_wgpu::io::images::{save_grid, ImageFileFormat};
use stylegan_wgpu::nn::labels::classes_of_seeds;
use stylegan_wgpu::rng::parse_seeds;

/// Style-mixing figure: the column seeds' styles for the listed layers replace the row seeds'.
///
/// The grid follows the official figure: the top-left cell is black, the first row holds the
/// column seeds' images, the first column the row seeds' images, and cell (i, j) is row seed
/// i's dlatents with the --styles layers taken from column seed j. Layers 0-3 are the coarse
/// styles (pose, face shape), 4-7 middle, the rest fine (colours).
///
/// Examples:
///   stylegan mix --model ffhq.pkl --rows 85,100,75 --cols 55,821,1789 --styles 0-3 --trunc 0.7 --out coarse.png
///   stylegan mix --model m.safetensors --rows 85,100 --cols 55,821 --styles 0-6 --out mix.png
///
/// On a class-conditional model --class gives every image that class; without it each seed
/// has its own, seed s class s mod label_size (mixed cells: the row seed's class for the layers
/// it keeps, the column seed's for the layers it gives).
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct MixArgs {
    /// Seeds of the rows (destination images), e.g. "85,100,75".
    #[arg(long)]
    pub rows: String,
    /// Seeds of the columns (style sources), e.g. "55,821,1789".
    #[arg(long)]
    pub cols: String,
    /// Synthesis layers whose w comes from the column seed, e.g. "0-3" or "0-1,6"
    /// (0-based, below the model's num_layers).
    #[arg(long)]
    pub styles: String,
    /// Output image of the whole figure: PNG (.png) or JPEG (.jpg, .jpeg) by the extension.
    #[arg(long, value_parser = flags::out_image)]
    pub out: PathBuf,
    /// Class of every image on a class-conditional model: a number or a class name.
    /// [default: seed s gets class s mod label_size]
    #[arg(long)]
    pub class: Option<String>,
    #[command(flatten)]
    pub synth: SynthArgs,
}

/// Parses a layer list such as `"0-3,6"` (inclusive ranges) and checks every index is below
/// `num_layers`. Returns the layers sorted, each once.
pub fn parse_layers(spec: &str, num_layers: usize) -> Result<Vec<usize>> {
    let bad = |why: String| anyhow::anyhow!("--styles {spec:?}: {why}");
    if spec.trim().is_empty() {
        return Err(bad("empty; expected layer indices like 0-3 or 0,1,6".into()));
    }
    let num = |s: &str| -> Result<usize> {
        s.trim().parse::<usize>().map_err(|_| {
            bad(format!(
                "{:?} is not a non-negative integer or a range like 0-3",
                s.trim()
            ))
        })
    };
    let mut layers = vec![false; num_layers];
    for part in spec.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if lo > hi {
            return Err(bad(format!("range {:?} starts after it ends", part.trim())));
        }
        if hi >= num_layers {
            return Err(bad(format!(
                "layer {hi} is out of range: this model has {num_layers} synthesis layers (0-{})",
                num_layers.saturating_sub(1)
            )));
        }
        layers[lo..=hi].iter_mut().for_each(|v| *v = true);
    }
    Ok((0..num_layers).filter(|&i| layers[i]).collect())
}

pub fn run(a: &MixArgs) -> Result<()> {
    if a.synth.batch == 0 {
        bail!("--batch must be at least 1");
    }
    // Cheap checks first: a typo should not cost a model load.
    ImageFileFormat::from_path(&a.out).context("--out")?;
    stylegan_wgpu::io::atomic::resolve_target(&a.out).context("--out")?;
    let rows = parse_seeds(&a.rows).map_err(|e| anyhow::anyhow!("--rows: {e}"))?;
    let cols = parse_seeds(&a.cols).map_err(|e| anyhow::anyhow!("--cols: {e}"))?;
    let gpu = a.synth.gpu.open_short()?;
    let (g, net) = load_generator(&gpu, &a.synth)?;
    let cfg = g.cfg.clone();
    let (l, d, k) = (cfg.num_layers(), cfg.dlatent_size, cfg.latent_size);
    let styles = parse_layers(&a.styles, l)?;
    eprintln!(
        "{} on {} (network {net}, {}x{}); {} rows x {} cols, layers {:?} from the columns",
        super::common::model_name(a.synth.model.as_deref()),
        gpu.describe(),
        cfg.resolution,
        cfg.resolution,
        rows.len(),
        cols.len(),
        styles
    );
    a.synth.describe_truncation(&g);
    let class = class_flag(&cfg, a.class.as_deref())?;
    describe_classes(&cfg, class, "seed s");

    // Rows then columns; a seed in both lists is simply mapped twice (cheap next to synthesis).
    let seeds: Vec<u32> = rows.iter().chain(&cols).copied().collect();
    let zs: Vec<f32> = seeds.iter().flat_map(|&s| seed_latent(s, k)).collect();
    let classes = classes_of_seeds(&cfg, &seeds, class)?;
    let ws = map_all(&g, &zs, classes.as_deref(), &a.synth.truncation(), &|i| {
        format!("seed {}", seeds[i])
    })?;
    let per = l * d;
    let w_of = |i: usize| &ws[i * per..(i + 1) * per];
    let (nr, nc) = (rows.len(), cols.len());

    // Synthesis order: column seeds (first figure row), row seeds, then the mixed cells row-major.
    let mut all = Vec::with_capacity((nc + nr + nr * nc) * per);
    for j in 0..nc {
        all.extend_from_slice(w_of(nr + j));
    }
    for i in 0..nr {
        all.extend_from_slice(w_of(i));
    }
    for i in 0..nr {
        for j in 0..nc {
            let mut w = w_of(i).to_vec();
            for &s in &styles {
                w[s * d..(s + 1) * d].copy_from_slice(&w_of(nr + j)[s * d..(s + 1) * d]);
            }
            all.extend(w);
        }
    }
    let n = nc + nr + nr * nc;
    g.seed_noise(a.synth.noise_seed);
    let pb = progress(n, "mixing");
    // Names in synthesis order, for an error about non-finite images.
    let label = |i: usize| {
        if i < nc {
            format!("column seed {}", cols[i])
        } else if i < nc + nr {
            format!("row seed {}", rows[i - nc])
        } else {
            let cell = i - nc - nr;
            format!(
                "cell (row seed {}, column seed {})",
                rows[cell / nc],
                cols[cell % nc]
            )
        }
    };
    let (images, _) = synthesize_all(&g, &all, a.synth.batch, a.synth.noise_mode, &pb, &label)?;
    pb.finish_and_clear();

    let (c, r) = (cfg.num_channels, cfg.resolution);
    let black = vec![-1.0f32; c * r * r];
    let mut cells = Vec::with_capacity((nr + 1) * (nc + 1));
    cells.push(black);
    cells.extend(images[..nc].iter().cloned());
    for i in 0..nr {
        cells.push(images[nc + i].clone());
        cells.extend(
            images[nc + nr + i * nc..nc + nr + (i + 1) * nc]
                .iter()
                .cloned(),
        );
    }
    save_grid(&a.out, &cells, c, r, r, nc + 1)?;
    println!(
        "wrote {} ({} x {} cells of {r}x{r})",
        a.out.display(),
        nr + 1,
        nc + 1
    );
    Ok(())
}
