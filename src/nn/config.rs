//! Every hyper-parameter of the network (`docs/network.md`, "Hyper-parameters"), built
//! from defaults, a preset, our own JSON, or an official pickle's `static_kwargs`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::limits::MAX_ABS_TRUNCATION_PSI;

/// The most classes a conditional network may have (`label_size`).
pub const MAX_LABEL_SIZE: usize = 1 << 16;

/// When resampling convs are fused into one stride-2 conv.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusedScale {
    /// Fused where the output (G) / input (D) side is at least 128, as the official code does.
    Auto,
    On,
    Off,
}

/// Every hyper-parameter of a StyleGAN (`docs/network.md`, "Hyper-parameters"). The default
/// is the official 1024² FFHQ network; `validate` checks a config before a network is built.
///
/// ```
/// use stylegan_wgpu::Config;
/// let c = Config::preset("ffhq")?;
/// assert_eq!((c.resolution, c.num_layers(), c.latent_size), (1024, 18, 512));
/// let bad = Config { resolution: 48, ..Config::default() };
/// assert!(bad.validate().unwrap_err().to_string().contains("power of two"));
/// # Ok::<(), stylegan_wgpu::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub resolution: usize,
    pub num_channels: usize,
    pub latent_size: usize,
    pub dlatent_size: usize,
    /// Classes of a class-conditional network (`docs/network.md`, "Class labels"): one-hot
    /// label rows of this width go into the mapping network and select D's score. 0 is the
    /// unconditional network.
    pub label_size: usize,
    /// Names of the classes, in order (e.g. Fashion-MNIST's ten), where the training data had
    /// them; `generate --class sneaker` looks them up. Not part of the network; not written
    /// when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
    pub mapping_layers: usize,
    pub mapping_fmaps: usize,
    pub mapping_lrmul: f32,
    pub fmap_base: usize,
    pub fmap_decay: f32,
    pub fmap_max: usize,
    pub fused_scale: FusedScale,
    pub mbstd_group_size: usize,
    pub mbstd_num_features: usize,
    /// Truncation defaults stored with official networks (used only when asked to truncate).
    pub truncation_psi: f32,
    /// Layers `i < truncation_cutoff` are truncated when no cutoff is given
    /// ([`crate::nn::generator::Cutoff::Model`]); 8 in the official networks, 0 (none) where a
    /// pickle stores `None`.
    pub truncation_cutoff: usize,
    pub dlatent_avg_beta: f32,
    pub style_mixing_prob: f32,
    /// Progressive growing (official `structure = 'linear'`): the networks also hold the
    /// lower-resolution `ToRGB_lod{l}` / `FromRGB_lod{l}` and take a level of detail `lod` in
    /// `[0, R - 2]`. Not serialized when false, so fixed-structure configs read as before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub progressive: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            resolution: 1024,
            num_channels: 3,
            latent_size: 512,
            dlatent_size: 512,
            label_size: 0,
            class_names: Vec::new(),
            mapping_layers: 8,
            mapping_fmaps: 512,
            mapping_lrmul: 0.01,
            fmap_base: 8192,
            fmap_decay: 1.0,
            fmap_max: 512,
            fused_scale: FusedScale::Auto,
            mbstd_group_size: 4,
            mbstd_num_features: 1,
            truncation_psi: 0.7,
            truncation_cutoff: 8,
            dlatent_avg_beta: 0.995,
            style_mixing_prob: 0.9,
            progressive: false,
        }
    }
}

impl Config {
    /// `ffhq`: the official 1024² FFHQ network. `tiny`: 32² with few channels, for tests.
    pub fn preset(name: &str) -> Result<Config> {
        match name {
            "ffhq" => Ok(Config::default()),
            "tiny" => Ok(Config {
                resolution: 32,
                num_channels: 3,
                latent_size: 32,
                dlatent_size: 32,
                mapping_layers: 2,
                mapping_fmaps: 32,
                fmap_base: 128,
                fmap_max: 32,
                ..Config::default()
            }),
            // The embedded model's network (assets/README.md): 32x32 grayscale, 0.21 M
            // parameters in G; what a CPU adapter trains in hours. 64 channels at 4² and 8²
            // cost next to nothing there, and with a 2-layer mapping network they raised
            // recall from 0.12 to 0.18 at equal kimg (the card's recipe comparison).
            "fmnist" => Ok(Config {
                resolution: 32,
                num_channels: 1,
                latent_size: 64,
                dlatent_size: 64,
                mapping_layers: 2,
                mapping_fmaps: 64,
                fmap_base: 256,
                fmap_max: 64,
                ..Config::default()
            }),
            other => Err(Error::Invalid(format!(
                "unknown preset '{other}' (--preset): use ffhq, fmnist or tiny"
            ))),
        }
    }

    /// Whether the networks take class labels (`label_size > 0`).
    pub fn is_conditional(&self) -> bool {
        self.label_size > 0
    }

    /// The class called `name`: a class index (`7`) or one of `class_names` (`sneaker`,
    /// case-insensitive). The error lists what this model has.
    ///
    /// ```
    /// use stylegan_wgpu::Config;
    /// let c = Config { label_size: 3, class_names: vec!["a".into(), "b".into(), "c".into()], ..Config::default() };
    /// assert_eq!(c.class_index("2")?, 2);
    /// assert_eq!(c.class_index("B")?, 1);
    /// assert!(c.class_index("3").is_err() && c.class_index("d").is_err());
    /// # Ok::<(), stylegan_wgpu::Error>(())
    /// ```
    pub fn class_index(&self, name: &str) -> Result<u32> {
        if self.label_size == 0 {
            return Err(Error::Invalid(format!(
                "class '{name}': this model is unconditional (label_size 0); it takes no class"
            )));
        }
        let name = name.trim();
        let found = match name.parse::<u64>() {
            Ok(i) => (i < self.label_size as u64).then_some(i as u32),
            Err(_) => self
                .class_names
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name))
                .map(|i| i as u32),
        };
        found.ok_or_else(|| {
            Error::Invalid(format!(
                "class '{name}' is not one of this model's {} classes: {}",
                self.label_size,
                self.class_list()
            ))
        })
    }

    /// The classes as `0-9` or `0 t-shirt, 1 trouser, ...` for messages.
    pub fn class_list(&self) -> String {
        if self.class_names.is_empty() {
            format!("0-{}", self.label_size.saturating_sub(1))
        } else {
            self.class_names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    }

    /// The name of class `i` (its number where the model stores no names).
    pub fn class_name(&self, i: u32) -> String {
        self.class_names
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| i.to_string())
    }

    /// Class `i`'s name as a key of a metric's results: lower case, every character but ASCII
    /// letters and digits replaced by `_` (`fid_per_class10k_t_shirt_top`).
    pub fn class_key(&self, i: u32) -> String {
        self.class_name(i)
            .to_lowercase()
            .replace(|ch: char| !ch.is_ascii_alphanumeric(), "_")
    }

    /// `log2(resolution)`.
    pub fn log2_res(&self) -> usize {
        self.resolution.trailing_zeros() as usize
    }

    /// Feature maps at stage `s`: `min(floor(fmap_base / 2^(s*fmap_decay)), fmap_max)`.
    pub fn nf(&self, stage: usize) -> usize {
        let v = (self.fmap_base as f64 / 2f64.powf(stage as f64 * self.fmap_decay as f64)).floor()
            as usize;
        v.min(self.fmap_max)
    }

    /// Synthesis layers = number of w inputs (18 at 1024²).
    pub fn num_layers(&self) -> usize {
        2 * self.log2_res() - 2
    }

    /// Whether the G up-conv producing side `out_side` is fused.
    pub fn fused_up(&self, out_side: usize) -> bool {
        match self.fused_scale {
            FusedScale::Auto => out_side >= 128,
            FusedScale::On => true,
            FusedScale::Off => false,
        }
    }

    /// Whether the D down-conv consuming side `in_side` is fused.
    pub fn fused_down(&self, in_side: usize) -> bool {
        self.fused_up(in_side)
    }

    /// Largest level of detail: `R - 2` (4x4) for progressive networks, else 0.
    pub fn max_lod(&self) -> usize {
        if self.progressive {
            self.log2_res().saturating_sub(2)
        } else {
            0
        }
    }

    /// Checks a level of detail for this network: 0 for fixed-structure networks, a finite
    /// value in `[0, R - 2]` for progressive ones; the error names `op`.
    pub fn check_lod(&self, op: &'static str, lod: f32) -> Result<()> {
        if lod == 0.0 {
            return Ok(());
        }
        if !self.progressive {
            return Err(Error::Invalid(format!(
                "{op}: lod {lod} needs a progressive network (this one has a fixed structure: lod must be 0)"
            )));
        }
        if !lod.is_finite() || lod < 0.0 || lod > self.max_lod() as f32 {
            return Err(Error::Invalid(format!(
                "{op}: lod {lod} is outside [0, {}] (resolution {})",
                self.max_lod(),
                self.resolution
            )));
        }
        Ok(())
    }

    /// Checks every value; the error names the offending field and its value.
    ///
    /// Every float must be finite (JSON cannot even store NaN or infinity) and lie in a range
    /// where the network computes sensible numbers:
    /// - `mapping_lrmul` in `[1e-4, 1]`: a learning-rate multiplier that slows the mapping
    ///   network (official 0.01). Weights are stored scaled by `1 / lrmul`, so far below 1e-4
    ///   they lose f32 precision; above 1 it no longer slows anything and the official code
    ///   never uses it (1e6 overflows the activations to infinity).
    /// - `fmap_decay` in `[0, 4]`: feature maps shrink by `2^fmap_decay` per resolution
    ///   doubling (official 1); 0 keeps them constant, and beyond 4 (16x per stage) every
    ///   later stage has a single feature map or none.
    /// - `truncation_psi` with `|psi| <=` [`MAX_ABS_TRUNCATION_PSI`]: see there.
    /// - `dlatent_avg_beta` and `style_mixing_prob` in `[0, 1]`: a moving-average coefficient
    ///   and a probability.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(format!("config: {m}")));
        for (name, v, lo, hi) in [
            ("mapping_lrmul", self.mapping_lrmul, 1e-4, 1.0),
            ("fmap_decay", self.fmap_decay, 0.0, 4.0),
            (
                "truncation_psi",
                self.truncation_psi,
                -MAX_ABS_TRUNCATION_PSI,
                MAX_ABS_TRUNCATION_PSI,
            ),
            ("dlatent_avg_beta", self.dlatent_avg_beta, 0.0, 1.0),
            ("style_mixing_prob", self.style_mixing_prob, 0.0, 1.0),
        ] {
            if !v.is_finite() {
                return bad(format!("{name} {v} is not a finite number"));
            }
            if !(lo..=hi).contains(&v) {
                return bad(format!("{name} {v} is outside [{lo}, {hi}]"));
            }
        }
        if self.resolution < 4 || !self.resolution.is_power_of_two() {
            return bad(format!(
                "resolution {} must be a power of two >= 4",
                self.resolution
            ));
        }
        if self.num_channels == 0 || self.latent_size == 0 || self.dlatent_size == 0 {
            return bad("num_channels, latent_size and dlatent_size must be positive".into());
        }
        if self.mapping_layers == 0 || self.mapping_fmaps == 0 {
            return bad("mapping_layers and mapping_fmaps must be positive".into());
        }
        if self.label_size > MAX_LABEL_SIZE {
            return bad(format!(
                "label_size {} is more classes than the {MAX_LABEL_SIZE} supported",
                self.label_size
            ));
        }
        if !self.class_names.is_empty() && self.class_names.len() != self.label_size {
            return bad(format!(
                "{} class names for label_size {}: give one name per class or none",
                self.class_names.len(),
                self.label_size
            ));
        }
        if self.mbstd_num_features != 1 {
            return bad(format!(
                "mbstd_num_features {} is not supported (only 1)",
                self.mbstd_num_features
            ));
        }
        for s in 0..self.log2_res() {
            if self.nf(s) == 0 {
                return bad(format!(
                    "fmap_base {} gives 0 feature maps at stage {s}",
                    self.fmap_base
                ));
            }
        }
        Ok(())
    }

    /// Builds a config from an official network's `static_kwargs` (G, its components, or D),
    /// given as (name, value) pairs. Unknown keys that change the network are errors;
    /// keys that only matter to TensorFlow are ignored.
    pub fn from_static_kwargs(kwargs: &[(String, KwValue)]) -> Result<Config> {
        let mut c = Config::default();
        for (k, v) in kwargs {
            let num = || {
                v.as_f64().ok_or_else(|| {
                    Error::Invalid(format!(
                        "static_kwargs: '{k}' should be a number, got {v:?}"
                    ))
                })
            };
            let int = || num().map(|x| x as usize);
            // `as f32` would turn 1e308 into infinity; name the value as the pickle has it.
            let float = |x: f64| -> Result<f32> {
                if x.is_finite() && (x as f32).is_infinite() {
                    return Err(Error::Invalid(format!(
                        "static_kwargs: '{k}' = {x:e} is too large for a 32-bit float"
                    )));
                }
                Ok(x as f32)
            };
            let expect = |want: &KwValue| -> Result<()> {
                if v.loosely_equals(want) {
                    Ok(())
                } else {
                    Err(Error::Invalid(format!(
                        "static_kwargs: '{k}' = {v:?} is not supported (only {want:?})"
                    )))
                }
            };
            match k.as_str() {
                "resolution" => c.resolution = int()?,
                "num_channels" => c.num_channels = int()?,
                "latent_size" => c.latent_size = int()?,
                "dlatent_size" => c.dlatent_size = int()?,
                "label_size" => c.label_size = int()?,
                "mapping_layers" => c.mapping_layers = int()?,
                "mapping_fmaps" => c.mapping_fmaps = int()?,
                "mapping_lrmul" => c.mapping_lrmul = float(num()?)?,
                "fmap_base" => c.fmap_base = int()?,
                "fmap_decay" => c.fmap_decay = float(num()?)?,
                "fmap_max" => c.fmap_max = int()?,
                "mbstd_group_size" => c.mbstd_group_size = int()?,
                "mbstd_num_features" => c.mbstd_num_features = int()?,
                "truncation_psi" => {
                    if let Some(x) = v.as_f64() {
                        c.truncation_psi = float(x)?
                    }
                }
                // The release truncates layers `i < cutoff`: None (no `where` at all) and values
                // <= 0 truncate none, which is cutoff 0 here.
                "truncation_cutoff" => {
                    c.truncation_cutoff = match v {
                        KwValue::None => 0,
                        _ => num()?.max(0.0) as usize,
                    }
                }
                "dlatent_avg_beta" => {
                    if let Some(x) = v.as_f64() {
                        c.dlatent_avg_beta = float(x)?
                    }
                }
                "style_mixing_prob" => {
                    if let Some(x) = v.as_f64() {
                        c.style_mixing_prob = float(x)?
                    }
                }
                "fused_scale" => {
                    c.fused_scale = match v {
                        KwValue::Str(s) if s == "auto" => FusedScale::Auto,
                        KwValue::Bool(true) => FusedScale::On,
                        KwValue::Bool(false) => FusedScale::Off,
                        _ => {
                            return Err(Error::Invalid(format!(
                                "static_kwargs: fused_scale = {v:?}"
                            )))
                        }
                    }
                }
                "mapping_nonlinearity" | "nonlinearity" => expect(&KwValue::Str("lrelu".into()))?,
                "use_wscale" | "use_styles" | "const_input_layer" | "use_noise"
                | "use_instance_norm" | "normalize_latents" => expect(&KwValue::Bool(true))?,
                "use_pixel_norm" => expect(&KwValue::Bool(false))?,
                "blur_filter" => expect(&KwValue::List(vec![
                    KwValue::Num(1.0),
                    KwValue::Num(2.0),
                    KwValue::Num(1.0),
                ]))?,
                "dlatent_broadcast"
                | "randomize_noise"
                | "structure"
                | "is_training"
                | "is_validation"
                | "is_template_graph"
                | "force_clean_graph"
                | "dtype"
                | "truncation_psi_val"
                | "truncation_cutoff_val"
                | "components"
                | "func_name" => {}
                _ => {}
            }
        }
        c.validate()?;
        Ok(c)
    }
}

/// A value of an official `static_kwargs` entry.
#[derive(Clone, Debug, PartialEq)]
pub enum KwValue {
    None,
    Bool(bool),
    Num(f64),
    Str(String),
    List(Vec<KwValue>),
    Other(String),
}

impl KwValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            KwValue::Num(x) => Some(*x),
            KwValue::Bool(b) => Some(*b as u8 as f64),
            _ => None,
        }
    }

    fn loosely_equals(&self, o: &KwValue) -> bool {
        match (self, o) {
            (KwValue::Num(a), KwValue::Num(b)) => a == b,
            (KwValue::Num(a), KwValue::Bool(b)) | (KwValue::Bool(b), KwValue::Num(a)) => {
                *a == (*b as u8 as f64)
            }
            (KwValue::List(a), KwValue::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.loosely_equals(y))
            }
            _ => self == o,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cutoff_of(v: KwValue) -> Result<usize> {
        Config::from_static_kwargs(&[("truncation_cutoff".into(), v)]).map(|c| c.truncation_cutoff)
    }

    /// The release truncates layers `i < truncation_cutoff`, and not at all when it is None.
    #[test]
    fn truncation_cutoff_from_static_kwargs() {
        assert_eq!(cutoff_of(KwValue::Num(8.0)).unwrap(), 8);
        assert_eq!(cutoff_of(KwValue::Num(4.0)).unwrap(), 4);
        assert_eq!(cutoff_of(KwValue::None).unwrap(), 0);
        assert_eq!(cutoff_of(KwValue::Num(-3.0)).unwrap(), 0);
        let e = cutoff_of(KwValue::Str("all".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncation_cutoff"), "{e}");
    }
}
