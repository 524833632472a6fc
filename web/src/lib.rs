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
use stylegan_wgpu::nn::generator::{Cutoff, Generator, NoiseMode, Truncation};
use stylegan_wgpu::rng::seed_latent;
use stylegan_wgpu::tape::{no_grad, Var};
use stylegan_wgpu::{Gpu, Model};
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
    trunc: Truncation,
    noise: String,
    /// Layers from `mix_from` on take the styles of `mix_seed`.
    mix: Option<(u32, usize)>,
}

/// `psi` on the layers `cutoff` names (`model`, `all` or a number, as the CLI's
/// `--trunc-cutoff`; empty = `model`).
fn truncation(psi: f32, cutoff: &str) -> Result<Truncation, JsValue> {
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
    /// `[n, L, D]` dlatents of `seeds` (truncated), as a graph value.
    fn dlatents(&self, seeds: &[u32], trunc: &Truncation) -> stylegan_wgpu::Result<Var> {
        let k = self.g.cfg.latent_size;
        let z: Vec<f32> = seeds.iter().flat_map(|&s| seed_latent(s, k)).collect();
        let z = Var::constant(Tensor::from_slice(&self.gpu, &[seeds.len(), k], &z)?);
        self.g.truncate_as(&self.g.mapping(&z)?, trunc)
    }

    /// Images of dlatents `w` at the inference precision, as `stylegan generate` makes them.
    fn synthesize(&self, w: &Var, noise: NoiseMode) -> stylegan_wgpu::Result<Var> {
        self.g
            .synthesis_at(w, noise, 0.0, self.gpu.inference_precision())
    }

    async fn images(&self, r: Request) -> Result<Vec<f32>, JsValue> {
        if r.seeds.is_empty() {
            return Err(js("no seeds given"));
        }
        let noise = noise_mode(&r.noise)?;
        // A refused batch (out of memory at some layer) must not leave its mapping and first
        // layers recorded for the next call to run.
        let out = no_grad(|| {
            self.gpu.discard_on_error(|| {
                let mut w = self.dlatents(&r.seeds, &r.trunc)?;
                if let Some((seed, from)) = r.mix {
                    let other = vec![seed; r.seeds.len()];
                    let w2 = self.dlatents(&other, &r.trunc)?;
                    w = Generator::mix(&w, &w2, from.min(self.g.cfg.num_layers()))?;
                }
                self.synthesize(&w, noise)
            })
        })
        .map_err(js)?;
        out.to_vec_async().await.map_err(js)
    }

    /// Images along the line in W from seed `a` to seed `b` at each of `ts`.
    async fn interpolate(
        &self,
        a: u32,
        b: u32,
        ts: Vec<f32>,
        trunc: Truncation,
        noise: String,
    ) -> Result<Vec<f32>, JsValue> {
        let noise = noise_mode(&noise)?;
        let ends =
            no_grad(|| self.gpu.discard_on_error(|| self.dlatents(&[a, b], &trunc))).map_err(js)?;
        let w = ends.to_vec_async().await.map_err(js)?;
        let row = w.len() / 2;
        let lerped: Vec<f32> = ts
            .iter()
            .flat_map(|&t| (0..row).map(move |i| (t, i)))
            .map(|(t, i)| w[i] + t * (w[row + i] - w[i]))
            .collect();
        let (l, d) = (self.g.cfg.num_layers(), self.g.cfg.dlatent_size);
        let out = no_grad(|| {
            self.gpu.discard_on_error(|| {
                let w = Var::constant(Tensor::from_slice(&self.gpu, &[ts.len(), l, d], &lerped)?);
                self.synthesize(&w, noise)
            })
        });
        out.map_err(js)?.to_vec_async().await.map_err(js)
    }
}

#[wasm_bindgen]
impl StyleGan {
    /// Opens the browser's WebGPU adapter and uploads the model: `model` is the bytes of a
    /// `.safetensors` model file, or empty for the embedded Fashion-MNIST model. Resolves to a
    /// `StyleGan`.
    pub fn create(model: Vec<u8>) -> Promise {
        future_to_promise(async move {
            let gpu = Gpu::request(Policy::default()).await.map_err(js)?;
            let m = if model.is_empty() {
                Model::embedded()
            } else {
                Model::from_bytes(&model, "the chosen model file")
            }
            .map_err(js)?;
            let g = m.generator(&gpu).map_err(js)?;
            let model = m.name().to_string();
            Ok(StyleGan {
                inner: Rc::new(Inner { gpu, g, model }),
            }
            .into())
        })
    }

    /// The adapter, as `stylegan devices` describes it.
    pub fn adapter(&self) -> String {
        self.inner.gpu.describe()
    }

    /// The model's name and config in one line.
    pub fn model(&self) -> String {
        let c = &self.inner.g.cfg;
        format!(
            "{}: {}x{}, {} channel(s), {} layers",
            self.inner.model,
            c.resolution,
            c.resolution,
            c.num_channels,
            c.num_layers()
        )
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

    /// Images of `seeds` (z = `RandomState(seed).randn(latent_size)`, as the CLI), truncation
    /// `psi` on the layers `cutoff` names (`model`, `all` or a number, as the CLI's
    /// `--trunc-cutoff`), noise `const` / `random` / `none`; with `mix_seed`
    /// >= 0 the layers from `mix_from` on take that seed's styles. Resolves to a
    /// `Float32Array` of `[n, C, R, R]` values in [-1, 1].
    pub fn generate(
        &self,
        seeds: Vec<u32>,
        psi: f32,
        cutoff: String,
        noise: String,
        mix_seed: i32,
        mix_from: usize,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let r = Request {
                seeds,
                trunc: truncation(psi, &cutoff)?,
                noise,
                mix: (mix_seed >= 0).then_some((mix_seed as u32, mix_from)),
            };
            let v = inner.images(r).await?;
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

    /// Frames along the straight line in W from seed `a` to seed `b`, one per value of `ts`
    /// (0 = a, 1 = b). Resolves to a `Float32Array` `[ts.len(), C, R, R]`.
    pub fn interpolate(
        &self,
        a: u32,
        b: u32,
        ts: Vec<f32>,
        psi: f32,
        cutoff: String,
        noise: String,
    ) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let v = inner
                .interpolate(a, b, ts, truncation(psi, &cutoff)?, noise)
                .await?;
            Ok(js_sys::Float32Array::from(v.as_slice()).into())
        })
    }
}
