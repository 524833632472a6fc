//! stylegan-wgpu in a web page: the crate's own networks and WGSL kernels on the browser's
//! WebGPU, exported to JavaScript with wasm-bindgen (`web/build.sh` builds `web/pkg/`).
//!
//! Every call returns a promise: a page cannot block on the GPU, so the device is requested
//! and every read-back awaited (`Gpu::request`, `Var::to_vec_async`). Images come back as one
//! `Float32Array` of CHW planes in [-1, 1], image after image, exactly what
//! `stylegan generate --out-npy` writes, so a test can compare the two.

use std::rc::Rc;

use js_sys::Promise;
use stylegan_wgpu::gpu::{Policy, Tensor};
use stylegan_wgpu::limits;
use stylegan_wgpu::nn::generator::{Cutoff, Generator, NoiseMode, Truncation};
use stylegan_wgpu::nn::labels;
use stylegan_wgpu::rng::seed_latent;
use stylegan_wgpu::tape::{no_grad, Var};
use stylegan_wgpu::{Error, Gpu, Model};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

fn js(e: impl std::fmt::Display) -> JsValue {
    JsValue::from(js_sys::Error::new(&e.to_string()))
}

struct Inner {
    gpu: Gpu,
    g: Generator,
    model: String,
}

/// A model on the browser's GPU.
#[wasm_bindgen]
pub struct StyleGan {
    inner: Rc<Inner>,
}

/// What to generate: latents from seeds, truncation, noise, optional style mixing.
#[derive(Clone)]
struct Request {
    seeds: Vec<u32>,
    /// The class of every image of a class-conditional model; `None`: each seed's own
    /// (`labels::class_of_seed`), as the CLI without `--class`.
    class: Option<u32>,
    trunc: Truncation,
    noise: NoiseMode,
    /// Layers from `mix_from` on take the styles of `mix_seed`.
    mix: Option<(u32, usize)>,
}

/// ψ as typed (`stylegan_wgpu::limits::parse_psi`) on the layers `cutoff` names (`model`,
/// `all` or a number, as the CLI's `--trunc-cutoff`; empty = `model`).
fn truncation(psi: &str, cutoff: &str) -> Result<Truncation, JsValue> {
    let psi = limits::parse_psi("ψ", psi).map_err(js)?;
    let cutoff: Cutoff = cutoff.parse().map_err(js)?;
    Ok(Truncation { psi, cutoff })
}

fn noise_mode(name: &str) -> Result<NoiseMode, JsValue> {
    match name {
        "const" => Ok(NoiseMode::Const),
        "random" => Ok(NoiseMode::Random),
        "none" => Ok(NoiseMode::None),
        other => Err(js(format!(
            "noise mode '{other}': use const, random or none"
        ))),
    }
}

impl Inner {
    /// Images one call may ask for: what one GPU pass holds (`nn::memory`), since the page
    /// renders a request in one pass.
    fn per_pass(&self) -> Result<usize, JsValue> {
        stylegan_wgpu::nn::memory::images_per_pass(&self.g.cfg, self.gpu.max_tensor_bytes())
            .map_err(js)
    }

    /// A count refused for exceeding the pass (`max`) says so, with the adapter's binding,
    /// so the person sees why the limit is what it is.
    fn over_pass(&self, e: Error, typed: &str, max: usize) -> JsValue {
        if !typed.trim().parse::<u64>().is_ok_and(|v| v > max as u64) {
            return js(e);
        }
        let r = self.g.cfg.resolution;
        js(format!(
            "{e}: one GPU pass holds at most {max} images of {r}x{r} on this adapter (its \
             largest storage binding is {} MiB)",
            self.gpu.max_tensor_bytes() >> 20
        ))
    }

    /// The image count as typed, at most what one pass holds.
    fn images(&self, typed: &str) -> Result<usize, JsValue> {
        let max = self.per_pass()?;
        limits::parse_images("images", typed, max).map_err(|e| self.over_pass(e, typed, max))
    }

    /// Interpolation frames as typed: `limits::parse_frames`, and at most one pass of images.
    fn frames(&self, typed: &str) -> Result<usize, JsValue> {
        let frames = limits::parse_frames("frames", typed).map_err(js)?;
        let max = self.per_pass()?;
        limits::parse_count("frames", typed, 2, max as u64)
            .map_err(|e| self.over_pass(e, typed, max))?;
        Ok(frames)
    }

    /// The generate fields as typed, checked before any GPU work: `count` seeds from
    /// `first`, all within the seed range.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        first: &str,
        count: &str,
        psi: &str,
        cutoff: &str,
        noise: &str,
        mix: bool,
        mix_seed: &str,
        mix_from: &str,
        class: &str,
    ) -> Result<Request, JsValue> {
        let class = self.class(class)?;
        let first_seed = limits::parse_seed("first seed", first).map_err(js)?;
        let n = self.images(count)?;
        let last = first_seed as u64 + n as u64 - 1;
        if last > u32::MAX as u64 {
            return Err(js(Error::Invalid(format!(
                "{n} images from first seed {first_seed}: the last seed, {last}, is outside \
                 [0, {}]",
                u32::MAX
            ))));
        }
        let trunc = truncation(psi, cutoff)?;
        let noise = noise_mode(noise)?;
        let mix = if mix {
            let seed = limits::parse_seed("style mixing seed", mix_seed).map_err(js)?;
            let layers = self.g.cfg.num_layers() as u64;
            let from =
                limits::parse_count("style mixing from layer", mix_from, 0, layers).map_err(js)?;
            Some((seed, from as usize))
        } else {
            None
        };
        Ok(Request {
            seeds: (first_seed..=last as u32).collect(),
            class,
            trunc,
            noise,
            mix,
        })
    }

    /// The class field as chosen: empty for "from the seed" (and on unconditional models),
    /// else a class number or name of the model (`Config::class_index`).
    fn class(&self, typed: &str) -> Result<Option<u32>, JsValue> {
        if typed.trim().is_empty() {
            return Ok(None);
        }
        self.g.cfg.class_index(typed).map(Some).map_err(js)
    }

    /// `[n, L, D]` dlatents of `seeds` (truncated), as a graph value; on a class-conditional
    /// model of class `class`, or each seed's own.
    fn dlatents(
        &self,
        seeds: &[u32],
        class: Option<u32>,
        trunc: &Truncation,
    ) -> stylegan_wgpu::Result<Var> {
        let cfg = &self.g.cfg;
        let k = cfg.latent_size;
        let z: Vec<f32> = seeds.iter().flat_map(|&s| seed_latent(s, k)).collect();
        let z = Var::constant(Tensor::from_slice(&self.gpu, &[seeds.len(), k], &z)?);
        let classes: Option<Vec<u32>> = cfg.is_conditional().then(|| {
            seeds
                .iter()
                .map(|&s| class.unwrap_or_else(|| labels::class_of_seed(cfg, s)))
                .collect()
        });
        let y = labels::class_labels(&self.gpu, cfg, classes.as_deref())?;
        self.g
            .truncate_as(&self.g.mapping_labels(&z, y.as_ref())?, trunc)
    }

    /// Images of dlatents `w` at the inference precision, as `stylegan generate` makes them.
    fn synthesize(&self, w: &Var, noise: NoiseMode) -> stylegan_wgpu::Result<Var> {
        self.g
            .synthesis_at(w, noise, 0.0, self.gpu.inference_precision())
    }

    /// A GPU failure of a call of `n` images (`what`), said as what the person can do: in a
    /// browser an allocation the GPU's memory refuses surfaces later as a device error about
    /// an invalid buffer, not as out of memory, so the likely cause is named.
    fn gpu_failed(&self, e: Error, n: usize, what: &str) -> JsValue {
        match e {
            Error::Device(_) | Error::OutOfMemory { .. } if n > 1 => js(format!(
                "the GPU could not make {n} {what} at once, most likely more than its memory \
                 holds: try fewer ({e})"
            )),
            e => js(e),
        }
    }

    async fn generate(&self, r: Request) -> Result<Vec<f32>, JsValue> {
        let n = r.seeds.len();
        // A refused batch (out of memory at some layer) must not leave its mapping and first
        // layers recorded for the next call to run.
        let out = no_grad(|| {
            self.gpu.discard_on_error(|| {
                let mut w = self.dlatents(&r.seeds, r.class, &r.trunc)?;
                if let Some((seed, from)) = r.mix {
                    let other = vec![seed; r.seeds.len()];
                    let w2 = self.dlatents(&other, r.class, &r.trunc)?;
                    w = Generator::mix(&w, &w2, from)?;
                }
                self.synthesize(&w, r.noise)
            })
        })
        .map_err(|e| self.gpu_failed(e, n, "images"))?;
        out.to_vec_async()
            .await
            .map_err(|e| self.gpu_failed(e, n, "images"))
    }

    /// `frames` images along the line in W from seed `a` to seed `b`, evenly spaced, both
    /// ends included.
    async fn interpolate(
        &self,
        (a, b): (u32, u32),
        class: Option<u32>,
        frames: usize,
        trunc: Truncation,
        noise: NoiseMode,
    ) -> Result<Vec<f32>, JsValue> {
        let ends = no_grad(|| {
            self.gpu
                .discard_on_error(|| self.dlatents(&[a, b], class, &trunc))
        })
        .map_err(js)?;
        let w = ends.to_vec_async().await.map_err(js)?;
        let row = w.len() / 2;
        // In f64 and then rounded, as the page computed `i / (frames - 1)` before.
        let ts: Vec<f32> = (0..frames)
            .map(|i| (i as f64 / (frames - 1) as f64) as f32)
            .collect();
        let lerped: Vec<f32> = ts
            .iter()
            .flat_map(|&t| (0..row).map(move |i| (t, i)))
            .map(|(t, i)| w[i] + t * (w[row + i] - w[i]))
            .collect();
        let (l, d) = (self.g.cfg.num_layers(), self.g.cfg.dlatent_size);
        let out = no_grad(|| {
            self.gpu.discard_on_error(|| {
                let w = Var::constant(Tensor::from_slice(&self.gpu, &[frames, l, d], &lerped)?);
                self.synthesize(&w, noise)
            })
        });
        let failed = |e| self.gpu_failed(e, frames, "frames");
        out.map_err(failed)?.to_vec_async().await.map_err(failed)
    }
}

#[wasm_bindgen]
impl StyleGan {
    /// Opens the browser's WebGPU adapter and uploads the model in `model`, the bytes of a
    /// `.safetensors` model file. An empty file is refused: the embedded model has its own
    /// constructor (`embedded`), so a file that failed to read never stands for it. Resolves
    /// to a `StyleGan`.
    pub fn create(model: Vec<u8>) -> Promise {
        future_to_promise(async move {
            if model.is_empty() {
                return Err(js(
                    "the chosen model file is empty (0 bytes): choose a .safetensors model file, \
                     or the embedded model's button",
                ));
            }
            open(Model::from_bytes(&model, "the chosen model file")).await
        })
    }

    /// Opens the browser's WebGPU adapter with the embedded Fashion-MNIST model. Resolves to
    /// a `StyleGan`.
    pub fn embedded() -> Promise {
        future_to_promise(async move { open(Model::embedded()).await })
    }

    /// The most images (and interpolation frames) one call may ask for on this adapter: what
    /// one GPU pass holds.
    pub fn max_images(&self) -> Result<usize, JsValue> {
        self.inner.per_pass()
    }

    /// The adapter, as `stylegan devices` describes it.
    pub fn adapter(&self) -> String {
        self.inner.gpu.describe()
    }

    /// The model's name and config in one line.
    pub fn model(&self) -> String {
        let c = &self.inner.g.cfg;
        let classes = if c.is_conditional() {
            format!(", {} classes", c.label_size)
        } else {
            String::new()
        };
        format!(
            "{}: {}x{}, {} channel(s), {} layers{classes}",
            self.inner.model,
            c.resolution,
            c.resolution,
            c.num_channels,
            c.num_layers()
        )
    }

    /// The classes of a class-conditional model, by name where it has names, else by number;
    /// empty for an unconditional model (the page then hides its class selector).
    pub fn classes(&self) -> Vec<String> {
        let c = &self.inner.g.cfg;
        (0..c.label_size as u32).map(|i| c.class_name(i)).collect()
    }

    pub fn resolution(&self) -> usize {
        self.inner.g.cfg.resolution
    }

    pub fn channels(&self) -> usize {
        self.inner.g.cfg.num_channels
    }

    pub fn num_layers(&self) -> usize {
        self.inner.g.cfg.num_layers()
    }

    /// The layers truncation reaches by default: the model's `truncation_cutoff` (8 in the
    /// official networks), at most its number of layers; the page's cutoff field starts here,
    /// as the CLI's `--trunc-cutoff` does.
    pub fn truncation_cutoff(&self) -> usize {
        Cutoff::Model.layers(&self.inner.g.cfg)
    }

    /// Images of `count` seeds from `first` (z = `RandomState(seed).randn(latent_size)`, as
    /// the CLI), truncation `psi` on the layers `cutoff` names (`model`, `all` or a number, as
    /// the CLI's `--trunc-cutoff`), noise `const` / `random` / `none`; with `mix` the layers
    /// from `mix_from` on take the styles of `mix_seed`. The numbers are the page's fields as
    /// typed, checked by `stylegan_wgpu::limits` (the CLI's checks and messages) before any GPU
    /// work. `class`: on a class-conditional model the class of every image (a number or a
    /// name), or empty for each seed's own (`seed mod label_size`, as the CLI without
    /// `--class`). Resolves to a `Float32Array` of `[count, C, R, R]` values in [-1, 1].
    #[allow(clippy::too_many_arguments)]
    pub fn generate(
        &self,
        first: String,
        count: String,
        psi: String,
        cutoff: String,
        noise: String,
        mix: bool,
        mix_seed: String,
        mix_from: String,
        class: String,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let r = inner.request(
                &first, &count, &psi, &cutoff, &noise, mix, &mix_seed, &mix_from, &class,
            )?;
            let v = inner.generate(r).await?;
            Ok(js_sys::Float32Array::from(v.as_slice()).into())
        })
    }

    /// "Benchmark in your browser": the `kernels` suite of `stylegan bench` (`quick`: its
    /// `--quick` cases) on this page's adapter, in the CLI's JSON layout
    /// (`benches/README.md`). `adapter` names the adapter where the browser gives wgpu no
    /// name (the page asks WebGPU for its vendor and architecture). Resolves to the JSON text.
    pub fn bench(&self, quick: bool, adapter: String) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let opts = stylegan_wgpu::bench::BenchOptions {
                quick,
                ..Default::default()
            };
            let mut report = stylegan_wgpu::bench::run_kernels(&inner.gpu, &opts, &mut |_| {})
                .await
                .map_err(js)?;
            if report.adapter.trim().is_empty() {
                report.adapter = adapter;
            }
            serde_json::to_string_pretty(&report)
                .map(|t| JsValue::from_str(&t))
                .map_err(js)
        })
    }

    /// `frames` frames along the straight line in W from seed `a` to seed `b`, evenly
    /// spaced, both ends included (on a class-conditional model both of `class`, or each of
    /// its seed's own when empty); the numbers as typed, checked as `generate` checks them
    /// (frames: `limits::parse_frames`, and at most `max_images`). Resolves to a
    /// `Float32Array` `[frames, C, R, R]`.
    #[allow(clippy::too_many_arguments)]
    pub fn interpolate(
        &self,
        a: String,
        b: String,
        frames: String,
        psi: String,
        cutoff: String,
        noise: String,
        class: String,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let a = limits::parse_seed("from seed", &a).map_err(js)?;
            let b = limits::parse_seed("to seed", &b).map_err(js)?;
            let frames = inner.frames(&frames)?;
            let trunc = truncation(&psi, &cutoff)?;
            let noise = noise_mode(&noise)?;
            let class = inner.class(&class)?;
            let v = inner
                .interpolate((a, b), class, frames, trunc, noise)
                .await?;
            Ok(js_sys::Float32Array::from(v.as_slice()).into())
        })
    }
}

/// The browser's WebGPU device with `model`'s generator on it, as a `StyleGan`.
async fn open(model: stylegan_wgpu::Result<Model>) -> Result<JsValue, JsValue> {
    let m = model.map_err(js)?;
    let gpu = Gpu::request(Policy::default()).await.map_err(js)?;
    let g = m.generator(&gpu).map_err(js)?;
    let model = m.name().to_string();
    Ok(StyleGan {
        inner: Rc::new(Inner { gpu, g, model }),
    }
    .into())
}
