//! StyleGAN (Karras, Laine, Aila 2019) in pure Rust, on any GPU through wgpu: Vulkan, Metal,
//! DX12, and CPU adapters such as Mesa's lavapipe. It builds the official networks, reads the
//! official `.pkl` weight files (without executing anything in them), makes the same images,
//! and trains with the official recipe.
//!
//! # Images from a model
//!
//! ```
//! use stylegan_wgpu::{Gpu, Model, NoiseMode, Truncation};
//! # fn main() -> stylegan_wgpu::Result<()> {
//! let gpu = Gpu::new()?; // STYLEGAN_BACKEND / STYLEGAN_ADAPTER choose, else the best adapter
//! let model = Model::embedded()?; // or Model::load("ffhq.pkl")? (.pkl or .safetensors)
//! let g = model.generator(&gpu)?; // Gs, the moving average of G
//! let images = g.generate_seeds(&[0, 1, 42], &Truncation::psi(0.7), NoiseMode::Const)?;
//! # let dir = std::env::temp_dir().join(format!("stylegan-doc-{}", std::process::id()));
//! # let _ = std::fs::create_dir_all(&dir);
//! # let path = dir.join("seed0000.png");
//! images[0].save_png(&path)?; // pixel for pixel what the official scripts write
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```
//!
//! A seed `s` uses `numpy.random.RandomState(s).randn(latent_size)`, as the official code
//! does, so seeds give the images users know. The inference entry points ([`Generator`]'s
//! `generate_seeds`, `generate_latents`, `map_latents`, `synthesize_dlatents`) run in GPU
//! batches and record no autodiff history.
//!
//! # Gradients
//!
//! Every op is differentiable, and its backward pass is built from the same ops, so gradients
//! can be differentiated again (the R1 penalty needs the gradient of a gradient):
//!
//! ```
//! use stylegan_wgpu::grad_scalar;
//! use stylegan_wgpu::{ops, Gpu, Tensor, Var};
//! # fn main() -> stylegan_wgpu::Result<()> {
//! let gpu = Gpu::new()?;
//! let x = Var::param(Tensor::from_slice(&gpu, &[3], &[1.0, 2.0, 3.0])?);
//! let y = ops::sum(&ops::square(&x)?)?; // y = Σ x²
//! let dx = grad_scalar(&y, &[x.clone()], true)?[0].clone().unwrap(); // 2x, with history
//! assert_eq!(dx.to_vec()?, [2.0, 4.0, 6.0]);
//! let z = ops::sum(&ops::mul(&dx, &x)?)?; // Σ 2x², so dz/dx = 4x
//! let dz = grad_scalar(&z, &[x], false)?[0].clone().unwrap();
//! assert_eq!(dz.to_vec()?, [4.0, 8.0, 12.0]);
//! # Ok(()) }
//! ```
//!
//! # Training and measuring
//!
//! [`train::run::run`] is the whole training loop (snapshots, logs, metrics at each snapshot,
//! a clean stop, exact resume) reporting to a [`train::run::Observer`];
//! [`metrics::runner::MetricRunner`] measures named metrics (`fid50k_full`, `kid10k`,
//! `pr50k3`, `ppl_wend`...) of any generator. `examples/train_and_evaluate.rs` uses only
//! these two; `examples/train_tiny.rs` drives [`train::Trainer`]'s step itself;
//! `examples/losses.rs` computes the official G and D losses with R1 and their gradients.
//!
//! # Layers
//!
//! - [`gpu`]: the context (adapter, [`gpu::Policy`] read once from the environment, pipeline
//!   cache; or an application's own wgpu device through [`Gpu::from_device`]), kernels and
//!   their parameter blocks, the buffer pool, the step recorder that submits a whole step as
//!   one command buffer, tensors.
//! - [`tape`]: the tape of define-by-run autodiff over GPU tensors ([`Var`]); [`autodiff`]
//!   runs the reverse pass ([`grad`], [`grad_scalar`]).
//! - [`ops`]: one module per differentiable op (shape checks, dispatch, backward rule); the
//!   convolutions and their kernel planner in [`mod@ops::conv`].
//! - [`nn`]: the StyleGAN networks (config, official variable names and initialization,
//!   mapping, synthesis, generator, discriminator), as `docs/network.md` describes them.
//! - [`eval`]: the evaluation networks (Inception, VGG16, LPIPS, the Fashion-MNIST classifier).
//! - [`io`]: model files (official pickles, safetensors [`io::safetensors::Checkpoint`]),
//!   `.npy`, PNG, JPEG and GIF, JSON lines; every file is read through [`io::read_file`]
//!   (regular files only) and written through [`io::atomic::write_atomic`] (temporary file,
//!   fsync, rename; no partial files).
//! - [`model`]: [`Model`], a model file as a user holds it.
//! - [`data`], [`dist`]: datasets and their loader; data-parallel ranks.
//! - [`metrics`]: the official metrics, by name, with a runner and a real-feature cache.
//! - [`train`]: the training loop, the trainer and its step, losses, Adam and moving averages.
//! - [`rng`], [`progress`]: every seeded stream, pinned; how long work reports progress (the
//!   library never prints; it logs through the `log` facade).
//! - [`reference`](mod@reference) (feature `reference`, on by default): a plain-Rust f64
//!   reference of every op and both networks, which the tests compare the GPU against; one
//!   module per op, named as in [`ops`].
//!
//! The WGSL kernels live in `shaders/`, one folder per op (`shaders/<op>/`); each op module
//! declares its own kernels and [`ops::kernels`] gathers them. The `stylegan` command line is
//! its own crate (`cli/`), which only parses flags, draws progress and handles signals.

pub mod autodiff;
pub mod bench;
pub mod data;
pub mod dist;
pub mod error;
pub mod eval;
pub mod gpu;
pub mod hash;
pub mod io;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod ops;
pub mod progress;
pub mod projector;
#[cfg(feature = "reference")]
pub mod reference;
pub mod rng;
pub mod tape;
pub mod train;

pub use autodiff::{grad, grad_scalar};
pub use error::{Error, Result};
pub use gpu::{Gpu, Tensor};
pub use io::images::Image;
pub use model::Model;
pub use nn::{Config, Discriminator, Generator, NoiseMode, Truncation};
pub use tape::{no_grad, Var};
