//! The StyleGAN generator (`G_style`): mapping, truncation and style mixing in W, synthesis.
//!
//! Two ways in:
//! - inference (`generate_seeds`, `generate_latents`, `map_latents`, `synthesize_dlatents`):
//!   host slices in, `Image`s or dlatents out, in GPU batches, without recording any history,
//!   at the context's inference precision;
//! - the graph (`mapping`, `truncate`, `synthesis`, `generate`, ...): `Var`s in and out, f32,
//!   differentiable, for training and for gradients with respect to latents or noise.
//!
//! Truncation and mixing are built from differentiable ops on the GPU, so they compose with
//! the rest of the graph; only tiny constants (the per-layer truncation coefficients, random
//! noise maps) are made on the host.
//!
//! ```
//! use stylegan_wgpu::{Gpu, Model, NoiseMode, Truncation};
//! # fn main() -> stylegan_wgpu::Result<()> {
//! let gpu = Gpu::new()?;
//! let g = Model::embedded()?.generator(&gpu)?;
//! let images = g.generate_seeds(&[0, 1], &Truncation::psi(0.7), NoiseMode::Const)?;
//! assert_eq!(images.len(), 2);
//! assert_eq!((images[0].channels, images[0].height), (1, 32));
//! // The same seed gives the same image.
//! let again = g.generate_seeds(&[1], &Truncation::psi(0.7), NoiseMode::Const)?;
//! assert_eq!(again[0], images[1]);
//! # Ok(()) }
//! ```

use std::cell::RefCell;

use crate::rng::Seeded;

use crate::error::{shape_err, Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::io::images::Image;
use crate::nn::config::Config;
use crate::nn::mapping::{broadcast_dlatent, mapping_network};
use crate::nn::params::{generator_specs, layer_side, HostWeights, ParamSet};
use crate::nn::synthesis::{synthesis_layers_lod, synthesis_network_lod};
use crate::ops;
use crate::ops::conv::Precision;
use crate::tape::{no_grad, Var};

/// Where the per-layer noise comes from.
#[derive(Clone, Debug)]
pub enum NoiseMode {
    /// The stored `G_synthesis/noise{i}` maps `[1, 1, s, s]`, shared by the batch (the official
    /// choice for reproducible images).
    Const,
    /// Fresh N(0, 1) maps `[N, 1, s, s]` on every call, from the generator's seeded RNG.
    Random,
    /// No noise at all.
    None,
    /// Caller-supplied maps, one per layer, each `[N, 1, s, s]` or `[1, 1, s, s]`.
    Explicit(Vec<Var>),
}

/// Truncation in W (the "truncation trick"): layers `i < cutoff` are pulled toward the
/// stored average `dlatent_avg`, `avg + psi * (w - avg)`; `psi = 1` leaves them alone. The
/// official figures use `psi = 0.7` on the first 8 layers.
///
/// Which layers: [`Cutoff::Model`] unless told otherwise, the model's
/// [`Config::truncation_cutoff`] (8 in every official network), which is what the release's
/// `Gs.run(latents, None, truncation_psi=0.7)` does; [`Cutoff::All`] reaches every layer, as
/// stylegan2-ada-pytorch's `truncation_cutoff=None`.
///
/// ```
/// use stylegan_wgpu::nn::generator::{Cutoff, Truncation};
/// use stylegan_wgpu::Config;
/// let cfg = Config { resolution: 64, ..Config::default() }; // 10 synthesis layers
/// assert_eq!(Truncation::psi(0.7).layers(&cfg), 8); // the official default
/// assert_eq!(Truncation::all_layers(0.7).layers(&cfg), 10);
/// assert_eq!(Truncation::new(0.7, 4).cutoff, Cutoff::Layers(4));
/// assert_eq!("all".parse::<Cutoff>(), Ok(Cutoff::All));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truncation {
    pub psi: f32,
    pub cutoff: Cutoff,
}

/// The layers truncation reaches (see [`Truncation`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cutoff {
    /// The model's `truncation_cutoff` (8 in the official networks, 0 where a pickle stores
    /// `None`): the official default.
    Model,
    /// Layers `i < n`; 0 truncates none (the release's `truncation_cutoff <= 0`).
    Layers(usize),
    /// Every layer (stylegan2-ada-pytorch's `truncation_cutoff=None`).
    All,
}

impl Cutoff {
    /// The number of leading layers truncated in a network of `cfg`.
    pub fn layers(self, cfg: &Config) -> usize {
        let l = cfg.num_layers();
        match self {
            Cutoff::Model => cfg.truncation_cutoff.min(l),
            Cutoff::Layers(n) => n.min(l),
            Cutoff::All => l,
        }
    }
}

impl std::str::FromStr for Cutoff {
    type Err = String;

    /// `all`, `model` or a number of layers (the CLI's `--trunc-cutoff`, the page's field).
    fn from_str(s: &str) -> std::result::Result<Cutoff, String> {
        match s.trim() {
            "all" => Ok(Cutoff::All),
            "model" | "" => Ok(Cutoff::Model),
            t => t.parse().map(Cutoff::Layers).map_err(|_| {
                format!(
                    "{s:?} is not a truncation cutoff: give a number of layers (0 = none), \
                     `all`, or `model` (the model's truncation_cutoff, 8 in official networks)"
                )
            }),
        }
    }
}

impl std::fmt::Display for Cutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cutoff::Model => write!(f, "model"),
            Cutoff::Layers(n) => write!(f, "{n}"),
            Cutoff::All => write!(f, "all"),
        }
    }
}

impl Truncation {
    /// No truncation.
    pub const NONE: Truncation = Truncation {
        psi: 1.0,
        cutoff: Cutoff::Model,
    };

    /// `psi` on the model's `truncation_cutoff` layers, as the official code does by default.
    pub fn psi(psi: f32) -> Truncation {
        Truncation {
            psi,
            cutoff: Cutoff::Model,
        }
    }

    /// `psi` on the first `cutoff` layers.
    pub fn new(psi: f32, cutoff: usize) -> Truncation {
        Truncation {
            psi,
            cutoff: Cutoff::Layers(cutoff),
        }
    }

    /// `psi` on every layer.
    pub fn all_layers(psi: f32) -> Truncation {
        Truncation {
            psi,
            cutoff: Cutoff::All,
        }
    }

    /// The number of leading layers truncated in a network of `cfg` (0 when `psi = 1`:
    /// nothing changes).
    pub fn layers(&self, cfg: &Config) -> usize {
        if self.psi == 1.0 {
            0
        } else {
            self.cutoff.layers(cfg)
        }
    }
}

impl Default for Truncation {
    fn default() -> Truncation {
        Truncation::NONE
    }
}

/// Images per GPU batch of the inference entry points unless set otherwise.
pub const DEFAULT_BATCH: usize = 8;

/// What a streaming sink tells the producer after a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// End after this batch (a stop signal, enough images).
    Stop,
}

/// How a streamed run ended (`Generator::synthesize_stream`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streamed {
    /// Images made and handed to the sink.
    pub made: usize,
    /// Images asked for.
    pub of: usize,
    /// Indices of the images that came out NaN or infinite.
    pub non_finite: Vec<usize>,
    /// The sink stopped the run before the last batch.
    pub stopped: bool,
}

pub struct Generator {
    pub cfg: Config,
    pub params: ParamSet,
    rng: RefCell<Seeded>,
    gpu: Gpu,
    batch: usize,
}

impl Generator {
    /// Uploads `weights` (checked against the config's variable names and shapes).
    pub fn new(gpu: &Gpu, cfg: &Config, weights: &HostWeights) -> Result<Generator> {
        cfg.validate()?;
        let params = ParamSet::upload(gpu, &generator_specs(cfg), weights)?;
        Ok(Generator {
            cfg: cfg.clone(),
            params,
            rng: RefCell::new(crate::rng::seeded(0)),
            gpu: gpu.clone(),
            batch: DEFAULT_BATCH,
        })
    }

    /// The context the weights live on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// Images per GPU batch in the inference entry points (default `DEFAULT_BATCH`): larger
    /// batches use the GPU better and take more memory. 0 counts as 1. A batch whose
    /// activations would not fit the adapter's largest storage binding runs in smaller passes
    /// (`images_per_pass`).
    pub fn set_batch(&mut self, batch: usize) {
        self.batch = batch.max(1);
    }

    /// Images the inference entry points put in one GPU pass: the batch, or fewer where its
    /// largest activation would not fit one storage binding of the adapter (`nn::memory`); an
    /// error when not even one image fits.
    pub fn images_per_pass(&self) -> Result<usize> {
        Ok(self.batch.min(crate::nn::memory::images_per_pass(
            &self.cfg,
            self.gpu.max_tensor_bytes(),
        )?))
    }

    /// The official latent of `seed`: `numpy.random.RandomState(seed).randn(latent_size)`.
    pub fn seed_latent(&self, seed: u32) -> Vec<f32> {
        crate::rng::seed_latent(seed, self.cfg.latent_size)
    }

    /// Images for `seeds` (each `z = seed_latent(seed)`), truncated as `trunc` says. A
    /// class-conditional model draws image `i` of class `seed mod label_size`
    /// ([`crate::nn::labels::class_of_seed`]); `generate_seeds_classes` chooses them.
    pub fn generate_seeds(
        &self,
        seeds: &[u32],
        trunc: &Truncation,
        noise: NoiseMode,
    ) -> Result<Vec<Image>> {
        self.generate_seeds_classes(seeds, None, trunc, noise)
    }

    /// `generate_seeds` with the class of each image (`classes[i]` for `seeds[i]`) on a
    /// class-conditional model; `None` takes the class from the seed there, and is the only
    /// choice for an unconditional model.
    ///
    /// ```
    /// use stylegan_wgpu::{Config, Gpu, Model, NoiseMode, Truncation};
    /// # fn main() -> stylegan_wgpu::Result<()> {
    /// let gpu = Gpu::new()?;
    /// let cfg = Config { label_size: 10, ..Config::preset("tiny")? };
    /// let g = Model::init(&cfg, 0)?.generator(&gpu)?;
    /// // Seed 5 as a class-3 image, then as a class-7 one: one latent, two classes.
    /// let images = g.generate_seeds_classes(&[5, 5], Some(&[3, 7]), &Truncation::NONE, NoiseMode::Const)?;
    /// assert_ne!(images[0], images[1]);
    /// # Ok(()) }
    /// ```
    pub fn generate_seeds_classes(
        &self,
        seeds: &[u32],
        classes: Option<&[u32]>,
        trunc: &Truncation,
        noise: NoiseMode,
    ) -> Result<Vec<Image>> {
        let z: Vec<f32> = seeds.iter().flat_map(|&s| self.seed_latent(s)).collect();
        let from_seed: Vec<u32>;
        let classes = match classes {
            None if self.cfg.is_conditional() => {
                from_seed = seeds
                    .iter()
                    .map(|&s| crate::nn::labels::class_of_seed(&self.cfg, s))
                    .collect();
                Some(&from_seed[..])
            }
            c => c,
        };
        self.generate_latents_classes(&z, classes, trunc, noise)
    }

    /// Images for latents `z` (`[n, latent_size]` row-major) of an unconditional model.
    pub fn generate_latents(
        &self,
        z: &[f32],
        trunc: &Truncation,
        noise: NoiseMode,
    ) -> Result<Vec<Image>> {
        self.generate_latents_classes(z, None, trunc, noise)
    }

    /// Images for latents `z` and, on a class-conditional model, the class of each.
    pub fn generate_latents_classes(
        &self,
        z: &[f32],
        classes: Option<&[u32]>,
        trunc: &Truncation,
        noise: NoiseMode,
    ) -> Result<Vec<Image>> {
        let w = self.map_latents_classes(z, classes, trunc)?;
        self.synthesize_dlatents(&w, noise)
    }

    /// The mapping network and truncation on latents `z` (`[n, latent_size]` row-major) of an
    /// unconditional model; see `map_latents_classes`.
    pub fn map_latents(&self, z: &[f32], trunc: &Truncation) -> Result<Vec<f32>> {
        self.map_latents_classes(z, None, trunc)
    }

    /// The mapping network and truncation on latents `z` (`[n, latent_size]` row-major) with
    /// the class of each row on a class-conditional model (`None` on unconditional ones):
    /// dlatents `[n, num_layers, dlatent_size]`, row-major. Rows that come out NaN or infinite
    /// (weights that overflow) are an `Error::NonFinite` naming them.
    pub fn map_latents_classes(
        &self,
        z: &[f32],
        classes: Option<&[u32]>,
        trunc: &Truncation,
    ) -> Result<Vec<f32>> {
        let n = rows("latents z", z, self.cfg.latent_size)?;
        let labels = match classes {
            Some(c) if c.len() != n => {
                return Err(Error::Invalid(format!(
                    "{} classes for {n} latents: give one class per image",
                    c.len()
                )))
            }
            Some(_) if !self.cfg.is_conditional() => {
                return Err(Error::Invalid(
                    "classes given to an unconditional model (label_size 0), which takes none"
                        .into(),
                ))
            }
            Some(c) => Some(crate::nn::labels::one_hot(c, self.cfg.label_size)?),
            None => None,
        };
        self.map_latents_labels(z, labels.as_deref(), trunc)
    }

    /// `map_latents_classes` with label rows `[n, label_size]` (row-major) instead of classes:
    /// one-hot rows, or blends of them ([`crate::nn::labels::blend_classes`]), which the
    /// mapping network's linear label embedding takes as the same blend of the classes'
    /// embeddings.
    pub fn map_latents_labels(
        &self,
        z: &[f32],
        labels: Option<&[f32]>,
        trunc: &Truncation,
    ) -> Result<Vec<f32>> {
        let (k, ls) = (self.cfg.latent_size, self.cfg.label_size);
        let n = rows("latents z", z, k)?;
        check_finite("latents z", z)?;
        match labels {
            None if ls > 0 => return Err(crate::nn::labels::unlabelled(&self.cfg)),
            Some(_) if ls == 0 => {
                return Err(Error::Invalid(
                    "labels given to an unconditional model (label_size 0), which takes none"
                        .into(),
                ))
            }
            Some(l) if l.len() != n * ls => {
                return Err(Error::Invalid(format!(
                    "{} label values for {n} latents: give [{n}, label_size = {ls}]",
                    l.len()
                )))
            }
            Some(l) => check_finite("labels", l)?,
            None => {}
        }
        if !trunc.psi.is_finite() {
            return Err(Error::Invalid(format!(
                "truncation psi must be finite, got {}",
                trunc.psi
            )));
        }
        let per = self.images_per_pass()?;
        let mut out = Vec::with_capacity(n * self.cfg.num_layers() * self.cfg.dlatent_size);
        for (i, chunk) in z.chunks(per * k).enumerate() {
            let rows = chunk.len() / k;
            let w = no_grad(|| {
                self.gpu.discard_on_error(|| {
                    let zt = Tensor::from_slice(&self.gpu, &[rows, k], chunk)?;
                    let labels = match labels {
                        Some(l) => Some(Var::constant(Tensor::from_slice(
                            &self.gpu,
                            &[rows, ls],
                            &l[i * per * ls..(i * per + rows) * ls],
                        )?)),
                        None => None,
                    };
                    self.truncate_as(
                        &self.mapping_labels(&Var::constant(zt), labels.as_ref())?,
                        trunc,
                    )?
                    .to_vec()
                })
            })?;
            out.extend(w);
        }
        let row = self.cfg.num_layers() * self.cfg.dlatent_size;
        let bad: Vec<usize> = out
            .chunks(row)
            .enumerate()
            .filter(|(_, w)| w.iter().any(|v| !v.is_finite()))
            .map(|(i, _)| i)
            .collect();
        if !bad.is_empty() {
            return Err(Error::NonFinite {
                what: "dlatents",
                indices: bad,
                of: n,
            });
        }
        Ok(out)
    }

    /// The synthesis network on dlatents `w` (`[n, num_layers, dlatent_size]` row-major), at
    /// the context's inference precision (`Gpu::inference_precision`). Noise maps in
    /// `NoiseMode::Explicit` must have batch size 1 (shared by every image) here; per-image maps
    /// go through `synthesis`. Images that come out NaN or infinite are an `Error::NonFinite`
    /// naming every one of them.
    pub fn synthesize_dlatents(&self, w: &[f32], noise: NoiseMode) -> Result<Vec<Image>> {
        let mut out = Vec::new();
        let done = self.synthesize_stream(w, usize::MAX, noise, &mut |_, images| {
            out.extend(images);
            Ok(Flow::Continue)
        })?;
        if !done.non_finite.is_empty() {
            return Err(Error::NonFinite {
                what: "images",
                indices: done.non_finite,
                of: done.made,
            });
        }
        Ok(out)
    }

    /// `synthesize_dlatents` in batches of at most `batch` images (and of what one GPU pass
    /// holds), each batch handed to `sink(index of its first image, images)` as soon as it is
    /// made, so that a caller can write images as they come and hold only one batch. The sink
    /// gets every image, finite or not; the indices of non-finite ones are listed in the
    /// result. `Flow::Stop` from the sink (e.g. on a stop signal) ends the run after that
    /// batch: `Streamed::made` then says how many images were made.
    pub fn synthesize_stream(
        &self,
        w: &[f32],
        batch: usize,
        noise: NoiseMode,
        sink: &mut dyn FnMut(usize, Vec<Image>) -> Result<Flow>,
    ) -> Result<Streamed> {
        let (l, d) = (self.cfg.num_layers(), self.cfg.dlatent_size);
        let n = rows("dlatents w", w, l * d)?;
        check_finite("dlatents w", w)?;
        if let NoiseMode::Explicit(maps) = &noise {
            if maps.iter().any(|m| m.shape().first() != Some(&1)) {
                return shape_err(
                    "synthesize_dlatents",
                    "explicit noise maps must be [1, 1, s, s] here (per-image maps: synthesis)",
                );
            }
        }
        let (c, r) = (self.cfg.num_channels, self.cfg.resolution);
        let prec = self.gpu.inference_precision();
        let per = self.images_per_pass()?.min(batch.max(1));
        let mut done = Streamed {
            made: 0,
            of: n,
            non_finite: Vec::new(),
            stopped: false,
        };
        for chunk in w.chunks(per * l * d) {
            let b = chunk.len() / (l * d);
            let pixels = no_grad(|| {
                self.gpu.discard_on_error(|| {
                    let wt = Tensor::from_slice(&self.gpu, &[b, l, d], chunk)?;
                    self.synthesis_at(&Var::constant(wt), noise.clone(), 0.0, prec)?
                        .to_vec()
                })
            })?;
            let first = done.made;
            let mut images = Vec::with_capacity(b);
            for (i, img) in pixels.chunks(c * r * r).enumerate() {
                if img.iter().any(|v| !v.is_finite()) {
                    done.non_finite.push(first + i);
                }
                images.push(Image::new(c, r, r, img.to_vec())?);
            }
            done.made += b;
            if sink(first, images)? == Flow::Stop {
                done.stopped = done.made < n;
                break;
            }
        }
        Ok(done)
    }

    /// Replaces the stored noise maps (`NoiseMode::Const`) with `maps`: tensors `noise0`,
    /// `noise1`, … of shape `[1, 1, s, s]`, as `stylegan project` writes them next to the
    /// projected dlatents. `source` names the file in errors.
    pub fn set_noise_maps(&mut self, maps: &HostWeights, source: &str) -> Result<()> {
        let what = "noise maps noise0, noise1, … as `stylegan project` writes them";
        for i in 0..self.cfg.num_layers() {
            let s = layer_side(i);
            let t = crate::nn::params::require_tensor(
                maps,
                &format!("noise{i}"),
                &[1, 1, s, s],
                source,
                what,
            )?;
            check_finite(&format!("{source}: noise{i}"), &t.data)?;
            let v = Var::constant(Tensor::from_slice(&self.gpu, &[1, 1, s, s], &t.data)?);
            self.params.set(&format!("G_synthesis/noise{i}"), v)?;
        }
        Ok(())
    }

    /// Restarts the random-noise stream (`NoiseMode::Random`) from `seed`.
    pub fn seed_noise(&self, seed: u64) {
        *self.rng.borrow_mut() = crate::rng::seeded(seed);
    }

    /// Advances the random-noise stream past what `n` images would draw, as if they had been
    /// generated (a rank skipping another rank's share of a sharded metric).
    pub fn skip_noise(&self, n: usize) {
        let mut rng = self.rng.borrow_mut();
        for i in 0..self.cfg.num_layers() {
            let s = layer_side(i);
            drop(crate::rng::std_normal(&mut *rng, n * s * s));
        }
    }

    /// `z: [N, latent_size] -> [N, dlatent_size]`, one w per image (unconditional models; see
    /// `mapping_w_labels`).
    pub fn mapping_w(&self, z: &Var) -> Result<Var> {
        self.mapping_w_labels(z, None)
    }

    /// `mapping_w` with one-hot `labels: [N, label_size]` on a class-conditional model
    /// ([`crate::nn::labels::class_labels`] makes them); `None` on an unconditional one.
    pub fn mapping_w_labels(&self, z: &Var, labels: Option<&Var>) -> Result<Var> {
        z.value()
            .gpu()
            .discard_on_error(|| mapping_network(&self.cfg, &self.params, z, labels))
    }

    /// `z: [N, latent_size] -> [N, num_layers, dlatent_size]` (w broadcast to every layer).
    pub fn mapping(&self, z: &Var) -> Result<Var> {
        self.mapping_labels(z, None)
    }

    /// `mapping` with labels (see `mapping_w_labels`).
    pub fn mapping_labels(&self, z: &Var, labels: Option<&Var>) -> Result<Var> {
        broadcast_dlatent(&self.mapping_w_labels(z, labels)?, self.cfg.num_layers())
    }

    /// Truncation in W: `avg + psi * (w_i - avg)` for layers `i < cutoff`, with `avg` the
    /// stored `dlatent_avg`; the other layers pass through.
    pub fn truncate(&self, w: &Var, psi: f32, cutoff: usize) -> Result<Var> {
        let (l, d) = (self.cfg.num_layers(), self.cfg.dlatent_size);
        let ws = w.shape().to_vec();
        if ws.len() != 3 || ws[1] != l || ws[2] != d {
            return shape_err(
                "truncate",
                format!("w must be [N, num_layers = {l}, dlatent_size = {d}], got {ws:?}"),
            );
        }
        let coef: Vec<f32> = (0..l).map(|i| if i < cutoff { psi } else { 1.0 }).collect();
        let coef = Var::constant(Tensor::from_slice(w.value().gpu(), &[1, l, 1], &coef)?);
        let avg = ops::broadcast_to(
            &ops::reshape(self.params.get("dlatent_avg")?, &[1, 1, d])?,
            &ws,
        )?;
        let coef = ops::broadcast_to(&coef, &ws)?;
        ops::add(&avg, &ops::mul(&coef, &ops::sub(w, &avg)?)?)
    }

    /// `w` truncated as `trunc` says (`w` itself when it changes nothing).
    pub fn truncate_as(&self, w: &Var, trunc: &Truncation) -> Result<Var> {
        match trunc.layers(&self.cfg) {
            0 => Ok(w.clone()),
            cutoff => self.truncate(w, trunc.psi, cutoff),
        }
    }

    /// Style mixing: layers `i < k` take `w1`, the rest `w2` (both `[N, L, D]`, `k <= L`).
    pub fn mix(w1: &Var, w2: &Var, k: usize) -> Result<Var> {
        let s = w1.shape();
        if s.len() != 3 || s != w2.shape() {
            return shape_err(
                "mix",
                format!(
                    "w1 {s:?} and w2 {:?} must be the same [N, L, D]",
                    w2.shape()
                ),
            );
        }
        let l = s[1];
        if k > l {
            return shape_err(
                "mix",
                format!("crossover {k} is beyond the {l} layers of {s:?}"),
            );
        }
        if k == 0 {
            return Ok(w2.clone());
        }
        if k == l {
            return Ok(w1.clone());
        }
        ops::concat_channels(
            &ops::slice_channels(w1, 0, k)?,
            &ops::slice_channels(w2, k, l - k)?,
        )
    }

    /// One noise map (or none) per layer for a batch of `n`.
    fn noise_maps(&self, gpu: &Gpu, n: usize, mode: &NoiseMode) -> Result<Vec<Option<Var>>> {
        let l = self.cfg.num_layers();
        match mode {
            NoiseMode::None => Ok(vec![None; l]),
            NoiseMode::Const => (0..l)
                .map(|i| {
                    Ok(Some(
                        self.params.get(&format!("G_synthesis/noise{i}"))?.clone(),
                    ))
                })
                .collect(),
            NoiseMode::Random => {
                let mut rng = self.rng.borrow_mut();
                (0..l)
                    .map(|i| {
                        let s = layer_side(i);
                        let data = crate::rng::std_normal(&mut rng, n * s * s);
                        Ok(Some(Var::constant(Tensor::from_slice(
                            gpu,
                            &[n, 1, s, s],
                            &data,
                        )?)))
                    })
                    .collect()
            }
            NoiseMode::Explicit(maps) => {
                if maps.len() != l {
                    return Err(Error::Shape {
                        op: "synthesis",
                        msg: format!(
                            "{} explicit noise maps given, the network has {l} layers",
                            maps.len()
                        ),
                    });
                }
                Ok(maps.iter().cloned().map(Some).collect())
            }
        }
    }

    /// `w: [N, num_layers, dlatent_size]` -> images `[N, num_channels, resolution, resolution]`.
    pub fn synthesis(&self, w: &Var, noise: NoiseMode) -> Result<Var> {
        self.synthesis_lod(w, noise, 0.0)
    }

    /// `synthesis` at level of detail `lod` (progressive networks: `[0, R - 2]`, the image
    /// faded between sides `2^(R - floor(lod))` and half that, upscaled to `resolution`;
    /// fixed-structure networks accept only 0).
    pub fn synthesis_lod(&self, w: &Var, noise: NoiseMode, lod: f32) -> Result<Var> {
        self.synthesis_at(w, noise, lod, Precision::F32)
    }

    /// `synthesis_lod` from the style input of each layer (`ws[i]: [N, dlatent_size]`; layers
    /// may share a `Var`), f32: what training runs when nothing is differentiated, without
    /// building the `[N, num_layers, dlatent_size]` tensor only to slice it again.
    pub fn synthesis_layers(&self, ws: &[Var], noise: NoiseMode, lod: f32) -> Result<Var> {
        self.cfg.check_lod("synthesis", lod)?;
        let n = ws.first().map_or(0, |w| w.shape()[0]);
        let gpu = match ws.first() {
            Some(w) => w.value().gpu().clone(),
            None => return shape_err("synthesis", "no dlatents given".to_string()),
        };
        gpu.discard_on_error(|| {
            let maps = self.noise_maps(&gpu, n, &noise)?;
            synthesis_layers_lod(&self.cfg, &self.params, ws, &maps, lod, Precision::F32)
        })
    }

    /// `synthesis_lod` with its convolutions at `prec`. Every other entry point here computes
    /// in f32; the inference entry points (`images`, `generate_seeds`) pass
    /// `Gpu::inference_precision`. Gradients through it are f32 whatever `prec` is.
    pub fn synthesis_at(
        &self,
        w: &Var,
        noise: NoiseMode,
        lod: f32,
        prec: Precision,
    ) -> Result<Var> {
        self.cfg.check_lod("synthesis", lod)?;
        let n = crate::nn::synthesis::check_dlatents(&self.cfg, w)?;
        let gpu = w.value().gpu();
        gpu.discard_on_error(|| {
            let maps = self.noise_maps(gpu, n, &noise)?;
            synthesis_network_lod(&self.cfg, &self.params, w, &maps, lod, prec)
        })
    }

    /// `z -> mapping -> truncation (layers < cutoff, skipped when psi = 1) -> synthesis`.
    pub fn generate(&self, z: &Var, psi: f32, cutoff: usize, noise: NoiseMode) -> Result<Var> {
        self.generate_lod(z, None, psi, cutoff, noise, 0.0)
    }

    /// `generate` with labels (class-conditional models) at level of detail `lod` (see
    /// `synthesis_lod`).
    pub fn generate_lod(
        &self,
        z: &Var,
        labels: Option<&Var>,
        psi: f32,
        cutoff: usize,
        noise: NoiseMode,
        lod: f32,
    ) -> Result<Var> {
        self.cfg.check_lod("generate", lod)?;
        let mut w = self.mapping_labels(z, labels)?;
        if psi != 1.0 && cutoff > 0 {
            w = self.truncate(&w, psi, cutoff)?;
        }
        self.synthesis_lod(&w, noise, lod)
    }
}

/// The number of rows of `len` values in `data` (an error naming `what` when it is not whole
/// or empty).
fn rows(what: &str, data: &[f32], len: usize) -> Result<usize> {
    if len == 0 || data.is_empty() || !data.len().is_multiple_of(len) {
        return Err(Error::Invalid(format!(
            "{what}: {} values are not a whole number of rows of {len}",
            data.len()
        )));
    }
    Ok(data.len() / len)
}

fn check_finite(what: &str, data: &[f32]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::Invalid(format!(
            "{what}: value {i} is {}; only finite values make images",
            data[i]
        ))),
        None => Ok(()),
    }
}
