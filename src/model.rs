//! A trained model as a user holds it: the networks (`G`, `D`, and `Gs`, the moving average
//! of G that makes the published images) and their configuration, from an official pickle, from
//! our safetensors files, or the small model embedded in the crate.
//!
//! ```no_run
//! use stylegan_wgpu::{Gpu, Model};
//! # fn main() -> stylegan_wgpu::Result<()> {
//! let model = Model::load("karras2019stylegan-ffhq-1024x1024.pkl")?;
//! println!("{}: {}x{}", model.name(), model.config().resolution, model.config().resolution);
//! model.save("ffhq.safetensors")?; // G, D and Gs, written atomically
//! let g = model.generator(&Gpu::new()?)?;
//! # Ok(()) }
//! ```

use std::path::Path;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::safetensors::Checkpoint;
use crate::nn::{Config, Discriminator, Generator};

/// The model embedded in the crate: a small StyleGAN trained by this project on Fashion-MNIST
/// (32x32 grayscale; `assets/README.md` is its model card).
const EMBEDDED: &[u8] = include_bytes!("../assets/default.safetensors");
const EMBEDDED_NAME: &str = "embedded default model (Fashion-MNIST 32x32, assets/README.md)";

/// A model's networks and configuration, with the name of where it came from.
#[derive(Clone, Debug)]
pub struct Model {
    name: String,
    file: Checkpoint,
}

impl Model {
    /// Loads a model in either format: an official `(G, D, Gs)` pickle (recognized by its
    /// first byte, the pickle protocol opcode; nothing in it is executed) or our safetensors.
    /// Errors name the file and, for bad content, the tensor or value.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        let bytes = crate::io::read_file(path)?;
        Model::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses a model file's bytes; `name` names the source in errors.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Model> {
        let file = if bytes.first() == Some(&0x80) {
            crate::io::official::checkpoint_from_pickle(bytes, name)?
        } else {
            crate::io::safetensors::from_bytes(bytes, name)?
        };
        Ok(Model {
            name: name.to_string(),
            file,
        })
    }

    /// The model embedded in the crate (see `assets/README.md`):
    ///
    /// ```
    /// let m = stylegan_wgpu::Model::embedded()?;
    /// assert_eq!((m.config().resolution, m.config().num_channels), (32, 1));
    /// assert!(m.networks().any(|n| n == "Gs"));
    /// # Ok::<(), stylegan_wgpu::Error>(())
    /// ```
    pub fn embedded() -> Result<Model> {
        Model::from_bytes(EMBEDDED, EMBEDDED_NAME)
    }

    /// A model with random weights and the official initialization (G and Gs equal, D from
    /// `seed + 1`): what training starts from, and a stand-in for tests and benchmarks.
    ///
    /// ```
    /// use stylegan_wgpu::{Config, Model};
    /// let m = Model::init(&Config::preset("tiny")?, 0)?;
    /// assert_eq!(m.networks().collect::<Vec<_>>(), ["D", "G", "Gs"]);
    /// # Ok::<(), stylegan_wgpu::Error>(())
    /// ```
    pub fn init(config: &Config, seed: u64) -> Result<Model> {
        use crate::nn::params::{discriminator_specs, generator_specs, init_host};
        config.validate()?;
        crate::nn::memory::check_weights_fit(config, None)?;
        let g = init_host(&generator_specs(config), seed);
        let mut file = Checkpoint {
            config: config.clone(),
            ..Default::default()
        };
        file.nets.insert("G".into(), g.clone());
        file.nets.insert("Gs".into(), g);
        file.nets.insert(
            "D".into(),
            init_host(&discriminator_specs(config), seed.wrapping_add(1)),
        );
        Ok(Model {
            name: format!("random model (official initialization, seed {seed})"),
            file,
        })
    }

    /// A model from networks already in memory (what training writes).
    pub fn from_file(file: Checkpoint, name: &str) -> Model {
        Model {
            name: name.to_string(),
            file,
        }
    }

    /// Where the model came from: its path, or the embedded model's description.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &Config {
        &self.file.config
    }

    /// The networks it holds, among `G`, `D`, `Gs`.
    pub fn networks(&self) -> impl Iterator<Item = &str> {
        self.file.nets.keys().map(|k| k.as_str())
    }

    /// The file's content: config, every network's variables, metadata.
    pub fn file(&self) -> &Checkpoint {
        &self.file
    }

    pub fn into_file(self) -> Checkpoint {
        self.file
    }

    /// The generator for making images: `Gs` (the moving average of G, as the official code
    /// uses) when the model has it, else `G`, uploaded to `gpu`.
    pub fn generator(&self, gpu: &Gpu) -> Result<Generator> {
        let net = if self.file.nets.contains_key("Gs") {
            "Gs"
        } else {
            "G"
        };
        self.generator_named(gpu, net)
    }

    /// Generator `net` (`G` or `Gs`), uploaded to `gpu`.
    pub fn generator_named(&self, gpu: &Gpu, net: &str) -> Result<Generator> {
        let w = self.net(net)?;
        Generator::new(gpu, &self.file.config, w).map_err(|e| self.context(net, e))
    }

    /// The discriminator `D`, uploaded to `gpu`.
    pub fn discriminator(&self, gpu: &Gpu) -> Result<Discriminator> {
        let w = self.net("D")?;
        Discriminator::new(gpu, &self.file.config, w).map_err(|e| self.context("D", e))
    }

    /// Writes every network and the config as safetensors, atomically (a partial file never
    /// replaces `path`).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::safetensors::save(path.as_ref(), &self.file)
    }

    fn net(&self, net: &str) -> Result<&crate::nn::HostWeights> {
        self.file.nets.get(net).ok_or_else(|| Error::Format {
            path: self.name.clone(),
            msg: format!(
                "holds no network {net} (it has: {})",
                self.networks().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    fn context(&self, net: &str, e: Error) -> Error {
        Error::Format {
            path: self.name.clone(),
            msg: format!("network {net}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--preset fmnist` on Fashion-MNIST's labels with `--class-names fmnist` is the embedded
    /// model's network: the recipe in its card trains it.
    #[test]
    fn the_fmnist_preset_is_the_embedded_models_network() {
        let embedded = Model::embedded().unwrap().config().clone();
        let preset = Config {
            label_size: 10,
            class_names: crate::nn::labels::class_names("fmnist").unwrap(),
            ..Config::preset("fmnist").unwrap()
        };
        let strip = |c: &Config| {
            let mut v = serde_json::to_value(c).unwrap();
            // What the run's training settings, not the network, decide.
            v.as_object_mut().unwrap().remove("progressive");
            v
        };
        assert_eq!(strip(&preset), strip(&embedded));
    }
}
