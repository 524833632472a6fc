//! Shared by the image-making commands: loading the generator, turning seeds into latents,
//! running it in batches with a progress bar, and refusing non-finite results by name.

use crate::commands::flags;
use std::path::PathBuf;

use super::progress::Bar;
use anyhow::{bail, Context, Result};

use stylegan_wgpu::gpu::Gpu;
use stylegan_wgpu::io::images::Image;
use stylegan_wgpu::nn::generator::{Cutoff, Flow, Generator, NoiseMode, Streamed, Truncation};
use stylegan_wgpu::nn::Config;

/// Flags every image-making command shares: the model, truncation, noise, batch, adapter.
#[derive(clap::Args, Debug, Clone)]
pub struct SynthArgs {
    /// Model file: our .safetensors or an official .pkl (default: the embedded Fashion-MNIST model).
    #[arg(long, visible_alias = "network")]
    pub model: Option<PathBuf>,
    /// Truncation psi in W (1 = off; the official figures used 0.7): each style becomes
    /// avg + psi * (w - avg). Must be finite with |psi| <= 10: 0 is the average image and
    /// values above 1 exaggerate, but a few units already leave the styles the network was
    /// trained on and saturate the images, so past 10 nothing new appears (and 1e30
    /// overflows inside the network: black or NaN images).
    #[arg(long, default_value_t = 1.0, value_parser = flags::psi, allow_negative_numbers = true)]
    pub trunc: f32,
    /// Layers --trunc reaches: a number N (layers 0..N; 0 = none), `all`, or `model`: the
    /// model's truncation_cutoff, 8 in every official network, which is what the official
    /// `Gs.run(..., truncation_psi=0.7)` does.
    #[arg(long, default_value = "model", value_name = "N|all|model")]
    pub trunc_cutoff: Cutoff,
    /// Per-pixel noise of the synthesis layers: the model's stored maps (const, reproducible),
    /// fresh random noise, or none.
    #[arg(long, value_enum, default_value = "const")]
    pub noise_mode: Noise,
    /// Seed of the noise when --noise-mode random.
    #[arg(long, value_parser = flags::seed, default_value_t = 0)]
    pub noise_seed: u64,
    /// Noise maps to use instead of the model's stored ones with --noise-mode const: the
    /// projected_noise.safetensors that `stylegan project` writes beside projected_w.npy.
    #[arg(long)]
    pub noise_maps: Option<PathBuf>,
    /// Images per GPU batch.
    #[arg(long, value_parser = flags::batch, default_value_t = 4)]
    pub batch: usize,
    #[command(flatten)]
    pub gpu: super::common::GpuArgs,
}

/// The generator of `--model` (or the embedded model): `Gs` (the moving average used for
/// images) when present, else `G`; and which of the two it is. Its inference batch is
/// `--batch`; `--noise-maps` replaces its stored noise.
pub fn load_generator(gpu: &Gpu, a: &SynthArgs) -> Result<(Generator, &'static str)> {
    let batch = a.batch;
    let m = super::common::load_model_or_default(a.model.as_deref())?;
    let net = if m.networks().any(|n| n == "Gs") {
        "Gs"
    } else {
        "G"
    };
    let mut g = m.generator(gpu)?;
    g.set_batch(batch);
    if let Some(p) = &a.noise_maps {
        if a.noise_mode != Noise::Const {
            bail!("--noise-maps replaces the stored noise, which only --noise-mode const uses");
        }
        let maps = stylegan_wgpu::io::tensors::read_tensors(p)
            .with_context(|| format!("--noise-maps {}", p.display()))?;
        g.set_noise_maps(&maps, &p.display().to_string())
            .with_context(|| format!("--noise-maps {}", p.display()))?;
    }
    let per_pass = g.images_per_pass()?;
    if per_pass < batch {
        eprintln!(
            "note: --batch {batch} runs in GPU passes of {per_pass} images (the adapter's largest \
             storage binding holds {} MiB)",
            gpu.max_tensor_bytes() >> 20
        );
    }
    Ok((g, net))
}

pub use stylegan_wgpu::rng::seed_latent;

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum Noise {
    /// The stored noise maps (official default for reproducible images).
    Const,
    /// Fresh random noise (seeded by --noise-seed).
    Random,
    /// No noise.
    None,
}

impl Noise {
    pub fn mode(self) -> NoiseMode {
        match self {
            Noise::Const => NoiseMode::Const,
            Noise::Random => NoiseMode::Random,
            Noise::None => NoiseMode::None,
        }
    }
}

/// "a, b, c" for at most 8 names, then "and N more".
pub fn list(names: &[String]) -> String {
    let mut s = names.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 8 {
        s += &format!(" and {} more", names.len() - 8);
    }
    s
}

/// Runs synthesis on `ws` rows (`[n, L, D]` flattened) in batches of `batch`, handing each
/// batch to `each(index of its first image, images)` as soon as it is made and advancing `pb`.
/// After a SIGINT/SIGTERM (with `stop::install` done) it ends after the batch in flight:
/// `Streamed::stopped` says so. Non-finite images are handed on like the others and listed in
/// `Streamed::non_finite` (see `check_finite_images`).
pub fn synthesize_each(
    g: &Generator,
    ws: &[f32],
    batch: usize,
    noise: Noise,
    pb: &Bar,
    each: &mut dyn FnMut(usize, Vec<Image>) -> Result<()>,
) -> Result<Streamed> {
    Ok(
        g.synthesize_stream(ws, batch, noise.mode(), &mut |first, images| {
            let k = images.len() as u64;
            each(first, images).map_err(|e| stylegan_wgpu::Error::Invalid(format!("{e:#}")))?;
            pb.inc(k);
            Ok(if super::stop::received().is_some() {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })?,
    )
}

/// An error listing the images (by `label(index)`) that came out NaN or infinite, if any;
/// `note` is appended (e.g. what was written anyway).
pub fn check_finite_images(
    done: &Streamed,
    label: &dyn Fn(usize) -> String,
    note: &str,
) -> Result<()> {
    if done.non_finite.is_empty() {
        return Ok(());
    }
    let bad: Vec<String> = done.non_finite.iter().map(|&i| label(i)).collect();
    bail!(
        "{} of {} images came out with non-finite values (NaN or infinity): {}; check the \
         model's weights, the latents and the truncation{note}",
        bad.len(),
        done.made,
        list(&bad)
    )
}

/// `synthesize_each` collecting every image (CHW each); non-finite images are an error that
/// lists them by `label(index)`.
pub fn synthesize_all(
    g: &Generator,
    ws: &[f32],
    batch: usize,
    noise: Noise,
    pb: &Bar,
    label: &dyn Fn(usize) -> String,
) -> Result<(Vec<Vec<f32>>, Streamed)> {
    let mut out = Vec::new();
    let done = synthesize_each(g, ws, batch, noise, pb, &mut |_, images| {
        out.extend(images.into_iter().map(|im| im.data));
        Ok(())
    })?;
    check_finite_images(&done, label, "")?;
    Ok((out, done))
}

impl SynthArgs {
    /// `--trunc` on the layers `--trunc-cutoff` names.
    pub fn truncation(&self) -> Truncation {
        Truncation {
            psi: self.trunc,
            cutoff: self.trunc_cutoff,
        }
    }

    /// Says which layers `--trunc` reaches (nothing when it is off), so nobody has to guess
    /// the default.
    pub fn describe_truncation(&self, g: &Generator) {
        let t = self.truncation();
        if t.psi == 1.0 {
            return;
        }
        let n = t.layers(&g.cfg);
        let why = match t.cutoff {
            Cutoff::Model => " (the model's truncation_cutoff; --trunc-cutoff all for every layer)",
            _ => "",
        };
        eprintln!(
            "truncation psi {} on {n} of {} layers{why}",
            t.psi,
            g.cfg.num_layers()
        );
    }
}

/// `--class C` (a number or one of the model's class names) as the model's class index; the
/// error (an unconditional model, a class it does not have) lists its classes.
pub fn class_flag(cfg: &Config, spec: Option<&str>) -> Result<Option<u32>> {
    spec.map(|s| cfg.class_index(s).with_context(|| format!("--class {s}")))
        .transpose()
}

/// Says which class the images get, on a class-conditional model (nothing on an
/// unconditional one): `class` for all, else each `key`'s own (`key` names what decides it:
/// "seed s", "latent row i").
pub fn describe_classes(cfg: &Config, class: Option<u32>, key: &str) {
    if !cfg.is_conditional() {
        return;
    }
    let n = cfg.label_size;
    match class {
        Some(c) => eprintln!(
            "class-conditional model ({n} classes): every image of class {c} ({})",
            cfg.class_name(c)
        ),
        None => eprintln!(
            "class-conditional model ({n} classes): {key} gets class {} mod {n}; --class to choose",
            key.rsplit(' ').next().unwrap_or(key)
        ),
    }
}

/// Maps latents `[n, latent]` to truncated dlatents `[n, L, D]` (host copy), truncated as
/// `trunc` says, with the class of each row on a class-conditional model. Non-finite dlatents
/// (e.g. from a mapping network whose weights overflow) are an error that lists the images by
/// `label(index)`.
pub fn map_all(
    g: &Generator,
    zs: &[f32],
    classes: Option<&[u32]>,
    trunc: &Truncation,
    label: &dyn Fn(usize) -> String,
) -> Result<Vec<f32>> {
    map_all_labels(g, zs, classes, None, trunc, label)
}

/// `map_all` with, instead of classes, label rows `[n, label_size]` (blends of classes:
/// `nn::labels::blend_classes`) where `rows` is given.
pub fn map_all_labels(
    g: &Generator,
    zs: &[f32],
    classes: Option<&[u32]>,
    rows: Option<&[f32]>,
    trunc: &Truncation,
    label: &dyn Fn(usize) -> String,
) -> Result<Vec<f32>> {
    let mapped = match rows {
        Some(r) => g.map_latents_labels(zs, Some(r), trunc),
        None => g.map_latents_classes(zs, classes, trunc),
    };
    match mapped {
        Err(stylegan_wgpu::Error::NonFinite { indices, of, .. }) => {
            let bad: Vec<String> = indices.iter().map(|&i| label(i)).collect();
            bail!(
                "the mapping network gave non-finite dlatents (NaN or infinity) for {} of {of} \
                 images: {}; check the model's mapping weights",
                bad.len(),
                list(&bad)
            )
        }
        r => Ok(r?),
    }
}
