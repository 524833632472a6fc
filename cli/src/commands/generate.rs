//! `stylegan generate`: images from seeds, latents or dlatents.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::check_finite_input;
use super::gen_common::{
    check_finite_images, class_flag, describe_classes, load_generator, map_all, seed_latent,
    synthesize_each, SynthArgs,
};
use super::progress::{count, progress};
use super::{flags, stop};
use stylegan_wgpu::io::atomic::resolve_target;
use stylegan_wgpu::io::images::{save_grid, save_png, ImageFileFormat};
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::io::npz::read_array;
use stylegan_wgpu::limits;
use stylegan_wgpu::nn::generator::Streamed;
use stylegan_wgpu::nn::labels::{class_of_seed, parse_classes};
use stylegan_wgpu::rng::parse_seeds;

/// Generate images with a model.
///
/// Without --seeds, --latents or --dlatents it makes 8 images, seeds 0-7.
///
/// Every file is written atomically (a temporary file renamed into place): a failed write
/// (full disk, no permission) stops with an error naming the file and leaves no partial
/// file. A symlink is written through to its target; an existing path that is not a regular
/// file (a folder, a FIFO, a device) is refused.
///
/// Examples:
///   stylegan generate --model ffhq.pkl --seeds 0-7 --outdir out
///   stylegan generate --model m.safetensors --seeds 0-15 --trunc 0.7 --grid grid.png
///   stylegan generate --model m.safetensors --latents z.npy --out-npy images.npy
///   stylegan generate --network m.safetensors --projected-w proj/projected_w.npy --outdir out
///   stylegan generate --model cond.safetensors --class sneaker --seeds 0-7 --outdir out
///   stylegan generate --model cond.safetensors --classes 0-9 --seeds 0-7 --grid classes.png
///
/// Class-conditional models (`stylegan info` lists their classes): --class picks the class of
/// every image; without it seed s gets class s mod label_size (row i of --latents: i mod
/// label_size), and the output says so. --classes makes every seed once per class, class by
/// class: with --grid one row per class, one column per seed.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct GenerateArgs {
    /// Seeds, e.g. "0-7,42": z = numpy.random.RandomState(seed).randn(latent_size).
    /// Default, when neither --latents nor --dlatents is given: 0-7 (8 images).
    #[arg(long, conflicts_with_all = ["latents", "dlatents", "projected_w"])]
    pub seeds: Option<String>,
    /// Latents z as .npy, float32/float64 [N, latent_size]; every value must be finite.
    #[arg(long, conflicts_with_all = ["dlatents", "projected_w"])]
    pub latents: Option<PathBuf>,
    /// Dlatents w as .npy [N, num_layers, dlatent_size] (or an .npz holding one such array,
    /// or `w`), fed to synthesis directly; every value must be finite.
    #[arg(long, conflicts_with = "projected_w")]
    pub dlatents: Option<PathBuf>,
    /// A projection's w, as stylegan2-ada's generate.py takes it: NVIDIA's projected_w.npz
    /// (array `w`, [1, num_ws, w_dim]) or the projected_w.npy of `stylegan project`; fed to
    /// synthesis directly (no truncation). With --outdir the images are proj00.png, proj01.png…
    #[arg(long, value_name = "FILE")]
    pub projected_w: Option<PathBuf>,
    /// Class of every image, on a class-conditional model: a number or one of the model's
    /// class names (case-insensitive), e.g. 7 or sneaker. [default: seed s gets class s mod
    /// label_size]
    #[arg(long, conflicts_with_all = ["classes", "dlatents", "projected_w"])]
    pub class: Option<String>,
    /// Several classes, e.g. 0-9 or 1,3,sneaker: every seed (or latent) once per class, in
    /// this order; with --grid one row per class and one column per seed; with --outdir
    /// class3-seed0042.png.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["dlatents", "projected_w"])]
    pub classes: Option<String>,
    /// Write one PNG per image here (seed0042.png for seeds, img0000.png otherwise).
    #[arg(long)]
    pub outdir: Option<PathBuf>,
    /// Write all images as one grid image: PNG (.png) or JPEG (.jpg, .jpeg) by the
    /// extension; any other extension is refused.
    #[arg(long, value_parser = flags::out_image)]
    pub grid: Option<PathBuf>,
    /// Write the raw float32 NCHW output as .npy.
    #[arg(long, value_parser = flags::out_npy)]
    pub out_npy: Option<PathBuf>,
    /// Write the latents z used as .npy.
    #[arg(long, value_parser = flags::out_npy)]
    pub save_latents: Option<PathBuf>,
    /// Write the (truncated) dlatents w used as .npy.
    #[arg(long, value_parser = flags::out_npy)]
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
    if let Some(path) = &a.grid {
        ImageFileFormat::from_path(path).context("--grid")?;
    }
    // A folder, FIFO or device where a file should go is refused now, not after the work.
    for (flag, path) in [
        ("--grid", &a.grid),
        ("--out-npy", &a.out_npy),
        ("--save-latents", &a.save_latents),
        ("--save-dlatents", &a.save_dlatents),
    ] {
        if let Some(path) = path {
            resolve_target(path).context(flag)?;
        }
    }
    if let Some(dir) = &a.outdir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--outdir {}: cannot create", dir.display()))?;
    }
    // Cheap checks first: a typo should not cost a model load.
    // --projected-w is --dlatents under NVIDIA's name (and its file names).
    let (w_flag, w_path) = match (&a.dlatents, &a.projected_w) {
        (Some(p), _) => ("--dlatents", Some(p)),
        (None, Some(p)) => ("--projected-w", Some(p)),
        (None, None) => ("--dlatents", None),
    };
    let seeds = if a.latents.is_none() && w_path.is_none() {
        Some(
            parse_seeds(a.seeds.as_deref().unwrap_or("0-7"))
                .map_err(|e| anyhow::anyhow!("--seeds: {e}"))?,
        )
    } else {
        None
    };
    let gpu = a.synth.gpu.open_short()?;
    let (g, net) = load_generator(&gpu, &a.synth)?;
    let cfg = g.cfg.clone();
    let (l, d, k) = (cfg.num_layers(), cfg.dlatent_size, cfg.latent_size);
    eprintln!(
        "{} on {} (network {net}, {}x{}, {} channels)",
        super::common::model_name(a.synth.model.as_deref()),
        gpu.describe(),
        cfg.resolution,
        cfg.resolution,
        cfg.num_channels
    );
    a.synth.describe_truncation(&g);
    // The classes: one for all (--class), a row of images per class (--classes), or each
    // seed's own; none for an unconditional model, which refuses both flags.
    let class = class_flag(&cfg, a.class.as_deref())?;
    let by_class = match &a.classes {
        Some(spec) => Some(parse_classes(&cfg, spec).with_context(|| format!("--classes {spec}"))?),
        None => None,
    };

    // Dlatents from a file go to synthesis as they are; latents (from a file or the seeds)
    // are mapped first.
    let (n, zs, dlatents) = if let Some(path) = w_path {
        let arr = read_array(path, "w").with_context(|| w_flag)?;
        if arr.shape.len() != 3 || arr.shape[1] != l || arr.shape[2] != d {
            bail!(
                "{w_flag} {}: shape {:?}, the model needs [N, {l}, {d}]",
                path.display(),
                arr.shape
            );
        }
        check_finite_input(w_flag, path, &arr.data, l * d)?;
        (arr.shape[0], None, Some(arr.data))
    } else if let Some(path) = &a.latents {
        let arr = read_npy(path)?;
        if arr.shape.len() != 2 || arr.shape[1] != k {
            bail!(
                "--latents {}: shape {:?}, the model needs [N, {k}]",
                path.display(),
                arr.shape
            );
        }
        check_finite_input("--latents", path, &arr.data, k)?;
        (arr.shape[0], Some(arr.data), None)
    } else {
        let n = seeds.as_ref().map_or(0, Vec::len);
        (n, None, None)
    };
    if n == 0 {
        bail!("no images to generate");
    }
    let names: Vec<String> = match &seeds {
        Some(seeds) => seeds.iter().map(|s| format!("seed{s:04}.png")).collect(),
        // stylegan2-ada's generate.py names the images of --projected-w so.
        None if a.projected_w.is_some() => (0..n).map(|i| format!("proj{i:02}.png")).collect(),
        None => (0..n).map(|i| format!("img{i:04}.png")).collect(),
    };
    // With --classes every seed (latent) comes once per class: image i is seed i % m of
    // class row i / m.
    let m = n;
    let (n, names) = match &by_class {
        Some(rows) => {
            let names: Vec<String> = rows
                .iter()
                .flat_map(|c| names.iter().map(move |f| format!("class{c}-{f}")))
                .collect();
            (m * rows.len(), names)
        }
        None => (n, names),
    };
    if dlatents.is_none() {
        match &by_class {
            Some(rows) => eprintln!(
                "class-conditional model ({} classes): {} rows of {m}, classes {}",
                cfg.label_size,
                rows.len(),
                rows.iter()
                    .map(|&c| format!("{c} ({})", cfg.class_name(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => describe_classes(
                &cfg,
                class,
                if seeds.is_some() {
                    "seed s"
                } else {
                    "latent row i"
                },
            ),
        }
    }
    // The class of image i: what decides it for the seed (or latent row) i % m.
    let class_of = |i: usize| -> u32 {
        match (&by_class, class) {
            (Some(rows), _) => rows[i / m],
            (None, Some(c)) => c,
            (None, None) => {
                let key = seeds.as_ref().map_or(i as u32, |s| s[i % m]);
                class_of_seed(&cfg, key)
            }
        }
    };
    let (c, r) = (cfg.num_channels, cfg.resolution);
    // What is held for the whole run is bounded before any work: a grid is one image in
    // memory, --out-npy one array, --save-(d)latents every row; everything else streams.
    if a.grid.is_some() && n as u64 > limits::MAX_GRID_IMAGES {
        bail!(
            "--grid: {n} images, a grid holds at most {} (it is one image in memory); write \
             them with --outdir, which streams",
            limits::MAX_GRID_IMAGES
        );
    }
    let rows = |per: usize| (n as u64).saturating_mul(per as u64 * 4);
    let mut held = 0u64;
    if a.grid.is_some() || a.out_npy.is_some() {
        held = held.saturating_add(limits::image_bytes(n, c, r));
    }
    if a.save_dlatents.is_some() && dlatents.is_none() {
        held = held.saturating_add(rows(l * d));
    }
    if a.save_latents.is_some() && dlatents.is_none() {
        held = held.saturating_add(rows(k));
    }
    limits::check_host_bytes(
        &format!("--grid/--out-npy/--save-latents/--save-dlatents ({n} images)"),
        held,
    )?;
    let keep = a.grid.is_some() || a.out_npy.is_some();
    g.seed_noise(a.synth.noise_seed);
    stop::install_or_warn();
    let pb = progress(n, "generating");
    let mut kept: Vec<Vec<f32>> = Vec::new();
    let (mut saved_z, mut saved_w) = (Vec::new(), Vec::new());
    let mut written = 0usize;
    // Latents are drawn and mapped a chunk at a time (whole batches, so the batches and the
    // noise stream are those of one call), and each batch's PNGs are written as soon as it is
    // made: memory does not grow with the seed count, and a stopped or failed run keeps them.
    let batch = a.synth.batch;
    let chunk = batch * 1024usize.div_ceil(batch);
    let mut done = Streamed {
        made: 0,
        of: n,
        non_finite: Vec::new(),
        stopped: false,
    };
    for lo in (0..n).step_by(chunk) {
        let hi = (lo + chunk).min(n);
        let w_owned;
        let w: &[f32] = match &dlatents {
            Some(all) => &all[lo * l * d..hi * l * d],
            None => {
                let z: Vec<f32> = match (&zs, &seeds) {
                    (Some(all), _) => (lo..hi)
                        .flat_map(|i| &all[i % m * k..(i % m + 1) * k])
                        .copied()
                        .collect(),
                    (None, Some(seeds)) => (lo..hi)
                        .flat_map(|i| seed_latent(seeds[i % m], k))
                        .collect(),
                    (None, None) => unreachable!("seeds are parsed when no file is given"),
                };
                let classes: Option<Vec<u32>> = cfg
                    .is_conditional()
                    .then(|| (lo..hi).map(class_of).collect());
                w_owned = map_all(&g, &z, classes.as_deref(), &a.synth.truncation(), &|i| {
                    names[lo + i].clone()
                })?;
                if a.save_latents.is_some() {
                    saved_z.extend_from_slice(&z);
                }
                &w_owned
            }
        };
        if a.save_dlatents.is_some() && dlatents.is_none() {
            saved_w.extend_from_slice(w);
        }
        let part = synthesize_each(
            &g,
            w,
            batch,
            a.synth.noise_mode,
            &pb,
            &mut |first, images| {
                if let Some(dir) = &a.outdir {
                    for (i, img) in images.iter().enumerate() {
                        if img.data.iter().all(|v| v.is_finite()) {
                            save_png(dir.join(&names[lo + first + i]), &img.data, c, r, r)?;
                            written += 1;
                        }
                    }
                    pb.set_message(format!("{written} files written"));
                }
                if keep {
                    kept.extend(images.into_iter().map(|im| im.data));
                }
                Ok(())
            },
        )?;
        done.made += part.made;
        done.non_finite
            .extend(part.non_finite.iter().map(|i| lo + i));
        if part.stopped || (stop::received().is_some() && hi < n) {
            done.stopped = true;
            break;
        }
    }
    pb.finish_and_clear();
    let made = done.made;
    let st = gpu.stats();
    eprintln!(
        "{} in {:.2} s; peak GPU memory in tensors {:.1} MiB",
        count(made, "image"),
        pb.elapsed().as_secs_f64(),
        st.peak_bytes as f64 / (1 << 20) as f64
    );
    if let Some(r) = gpu.profile_report() {
        eprintln!("{r}");
    }
    if let Some(dir) = &a.outdir {
        println!("wrote {} to {}", count(written, "image"), dir.display());
    }
    let note = if a.outdir.is_some() {
        " (the finite ones were written)"
    } else {
        ""
    };
    check_finite_images(&done, &|i| names[i].clone(), note)?;
    if let Some(path) = &a.grid {
        let cols = match by_class {
            // One row per class, one column per seed.
            Some(_) => m,
            None => (made as f64).sqrt().ceil() as usize,
        };
        save_grid(path, &kept, c, r, r, cols)?;
        println!("wrote grid {} ({})", path.display(), count(made, "image"));
    }
    if let Some(path) = &a.out_npy {
        let flat: Vec<f32> = kept.concat();
        write_npy(path, &[made, c, r, r], &flat)?;
        println!("wrote {} ({})", path.display(), count(made, "image"));
    }
    // The (d)latents of the images made.
    if let Some(path) = &a.save_latents {
        if !saved_z.is_empty() {
            write_npy(path, &[made, k], &saved_z[..made * k])?;
            println!("wrote {}", path.display());
        }
    }
    if let Some(path) = &a.save_dlatents {
        let w = dlatents
            .as_ref()
            .map_or(&saved_w[..], |w| &w[..made * l * d]);
        write_npy(path, &[made, l, d], &w[..made * l * d])?;
        println!("wrote {}", path.display());
    }
    if done.stopped {
        stop::exit_if_received(&format!("wrote the {made} of {n} images made"));
    }
    Ok(())
}
