//! Named parameters with the official variable names, shapes and initialization.
//!
//! Names are the official full names without the network prefix (`G_mapping/Dense0/weight`,
//! `G_synthesis/4x4/Const/const`, `dlatent_avg`, `4x4/Dense1/bias`); files add `G/`, `Gs/`, `D/`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::gpu::tensor::view_align;
use crate::gpu::{Gpu, Tensor};
use crate::nn::config::Config;
use crate::nn::flat::{self, Chunk};
use crate::tape::Var;

/// How a variable starts (`docs/network.md`, "Equalized learning rate").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Normal(f32),
    Zeros,
    Ones,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    pub trainable: bool,
}

impl ParamSpec {
    fn new(name: impl Into<String>, shape: &[usize], init: Init, trainable: bool) -> Self {
        ParamSpec {
            name: name.into(),
            shape: shape.to_vec(),
            init,
            trainable,
        }
    }
}

/// Values on the host, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

pub type HostWeights = BTreeMap<String, HostTensor>;

/// Tensor `name` of `t`, checked: present (else an error naming `source` and `what` the file
/// should be), of `shape`, all finite.
pub fn require_tensor<'a>(
    t: &'a HostWeights,
    name: &str,
    shape: &[usize],
    source: &str,
    what: &str,
) -> Result<&'a HostTensor> {
    let v = t.get(name).ok_or_else(|| {
        Error::Invalid(format!(
            "{source}: tensor '{name}' is missing (is this {what}?)"
        ))
    })?;
    if v.shape != shape || v.data.len() != shape.iter().product::<usize>() {
        return Err(Error::Invalid(format!(
            "{source}: tensor '{name}' has shape {:?}, {what} has {shape:?}",
            v.shape
        )));
    }
    if v.data.iter().any(|x| !x.is_finite()) {
        return Err(Error::Invalid(format!(
            "{source}: tensor '{name}' holds NaN or infinite values"
        )));
    }
    Ok(v)
}

/// A PyTorch conv weight `[O, I, KH, KW]` as this crate's HWIO `[KH, KW, I, O]`, each output
/// channel `o` multiplied by `scale(o)` (a folded batch norm; `|_| 1.0` for none).
pub fn oihw_to_hwio(
    w: &[f32],
    [o, i, kh, kw]: [usize; 4],
    scale: impl Fn(usize) -> f64,
) -> Vec<f32> {
    let mut hwio = vec![0f32; kh * kw * i * o];
    for oi in 0..o {
        let s = scale(oi);
        for ci in 0..i {
            for a in 0..kh {
                for b in 0..kw {
                    let v = w[((oi * i + ci) * kh + a) * kw + b] as f64 * s;
                    hwio[((a * kw + b) * i + ci) * o + oi] = v as f32;
                }
            }
        }
    }
    hwio
}

/// Synthesis layer `i` -> its scope (`4x4/Const`, `4x4/Conv`, `8x8/Conv0_up`, `8x8/Conv1`, ...).
pub fn layer_scope(i: usize) -> String {
    match i {
        0 => "4x4/Const".into(),
        1 => "4x4/Conv".into(),
        _ => {
            let r = i / 2 + 2;
            let s = 1usize << r;
            format!(
                "{s}x{s}/{}",
                if i.is_multiple_of(2) {
                    "Conv0_up"
                } else {
                    "Conv1"
                }
            )
        }
    }
}

/// Channels produced by synthesis layer `i`: nf(1) at 4x4, nf(r-1) at side 2^r.
pub fn layer_channels(cfg: &Config, i: usize) -> usize {
    cfg.nf(i / 2 + 1)
}

/// Side of synthesis layer `i`.
pub fn layer_side(i: usize) -> usize {
    1 << (i / 2 + 2)
}

/// Every variable of the generator (`G_style` with its mapping and synthesis components).
pub fn generator_specs(cfg: &Config) -> Vec<ParamSpec> {
    let mut v = Vec::new();
    let lr = cfg.mapping_lrmul;
    let mut fan_in = cfg.latent_size;
    if cfg.label_size > 0 {
        // The label embedding, used as stored (no equalized-lr scale); the first dense layer
        // then sees `[z, y]`.
        v.push(ParamSpec::new(
            "G_mapping/LabelConcat/weight",
            &[cfg.label_size, cfg.latent_size],
            Init::Normal(1.0),
            true,
        ));
        fan_in += cfg.latent_size;
    }
    for l in 0..cfg.mapping_layers {
        let out = if l + 1 == cfg.mapping_layers {
            cfg.dlatent_size
        } else {
            cfg.mapping_fmaps
        };
        v.push(ParamSpec::new(
            format!("G_mapping/Dense{l}/weight"),
            &[fan_in, out],
            Init::Normal(1.0 / lr),
            true,
        ));
        v.push(ParamSpec::new(
            format!("G_mapping/Dense{l}/bias"),
            &[out],
            Init::Zeros,
            true,
        ));
        fan_in = out;
    }
    let syn = "G_synthesis";
    for i in 0..cfg.num_layers() {
        let scope = layer_scope(i);
        let c = layer_channels(cfg, i);
        if i == 0 {
            v.push(ParamSpec::new(
                format!("{syn}/{scope}/const"),
                &[1, c, 4, 4],
                Init::Ones,
                true,
            ));
        } else {
            let cin = if i % 2 == 0 {
                layer_channels(cfg, i - 1)
            } else {
                c
            };
            v.push(ParamSpec::new(
                format!("{syn}/{scope}/weight"),
                &[3, 3, cin, c],
                Init::Normal(1.0),
                true,
            ));
        }
        v.push(ParamSpec::new(
            format!("{syn}/{scope}/Noise/weight"),
            &[c],
            Init::Zeros,
            true,
        ));
        v.push(ParamSpec::new(
            format!("{syn}/{scope}/bias"),
            &[c],
            Init::Zeros,
            true,
        ));
        v.push(ParamSpec::new(
            format!("{syn}/{scope}/StyleMod/weight"),
            &[cfg.dlatent_size, 2 * c],
            Init::Normal(1.0),
            true,
        ));
        v.push(ParamSpec::new(
            format!("{syn}/{scope}/StyleMod/bias"),
            &[2 * c],
            Init::Zeros,
            true,
        ));
    }
    let last = cfg.num_layers() - 1;
    v.push(ParamSpec::new(
        format!("{syn}/ToRGB_lod0/weight"),
        &[1, 1, layer_channels(cfg, last), cfg.num_channels],
        Init::Normal(1.0),
        true,
    ));
    v.push(ParamSpec::new(
        format!("{syn}/ToRGB_lod0/bias"),
        &[cfg.num_channels],
        Init::Zeros,
        true,
    ));
    if cfg.progressive {
        // Lower levels of detail: ToRGB_lod{R-res} for res = R-1 .. 2, each on the output of
        // the block at side 2^res (nf(res-1) channels).
        let r = cfg.log2_res();
        for res in (2..r).rev() {
            let l = r - res;
            v.push(ParamSpec::new(
                format!("{syn}/ToRGB_lod{l}/weight"),
                &[1, 1, cfg.nf(res - 1), cfg.num_channels],
                Init::Normal(1.0),
                true,
            ));
            v.push(ParamSpec::new(
                format!("{syn}/ToRGB_lod{l}/bias"),
                &[cfg.num_channels],
                Init::Zeros,
                true,
            ));
        }
    }
    for i in 0..cfg.num_layers() {
        let s = layer_side(i);
        v.push(ParamSpec::new(
            format!("{syn}/noise{i}"),
            &[1, 1, s, s],
            Init::Normal(1.0),
            false,
        ));
    }
    v.push(ParamSpec::new(
        format!("{syn}/lod"),
        &[],
        Init::Zeros,
        false,
    ));
    v.push(ParamSpec::new(
        "dlatent_avg",
        &[cfg.dlatent_size],
        Init::Zeros,
        false,
    ));
    v
}

/// Every variable of the discriminator (`D_basic`; the lower-lod `FromRGB_lod{l}` only when
/// `cfg.progressive`; `Dense1` has one output per class when `cfg.label_size > 0`).
pub fn discriminator_specs(cfg: &Config) -> Vec<ParamSpec> {
    let mut v = Vec::new();
    let r = cfg.log2_res();
    v.push(ParamSpec::new(
        "FromRGB_lod0/weight",
        &[1, 1, cfg.num_channels, cfg.nf(r - 1)],
        Init::Normal(1.0),
        true,
    ));
    v.push(ParamSpec::new(
        "FromRGB_lod0/bias",
        &[cfg.nf(r - 1)],
        Init::Zeros,
        true,
    ));
    if cfg.progressive {
        // FromRGB_lod{R-res} for res = R-1 .. 2: images at side 2^res to nf(res-1) channels.
        for res in (2..r).rev() {
            let l = r - res;
            v.push(ParamSpec::new(
                format!("FromRGB_lod{l}/weight"),
                &[1, 1, cfg.num_channels, cfg.nf(res - 1)],
                Init::Normal(1.0),
                true,
            ));
            v.push(ParamSpec::new(
                format!("FromRGB_lod{l}/bias"),
                &[cfg.nf(res - 1)],
                Init::Zeros,
                true,
            ));
        }
    }
    for res in (3..=r).rev() {
        let s = 1usize << res;
        let (c0, c1) = (cfg.nf(res - 1), cfg.nf(res - 2));
        v.push(ParamSpec::new(
            format!("{s}x{s}/Conv0/weight"),
            &[3, 3, c0, c0],
            Init::Normal(1.0),
            true,
        ));
        v.push(ParamSpec::new(
            format!("{s}x{s}/Conv0/bias"),
            &[c0],
            Init::Zeros,
            true,
        ));
        v.push(ParamSpec::new(
            format!("{s}x{s}/Conv1_down/weight"),
            &[3, 3, c0, c1],
            Init::Normal(1.0),
            true,
        ));
        v.push(ParamSpec::new(
            format!("{s}x{s}/Conv1_down/bias"),
            &[c1],
            Init::Zeros,
            true,
        ));
    }
    let c = cfg.nf(1);
    let extra = if cfg.mbstd_group_size > 1 {
        cfg.mbstd_num_features
    } else {
        0
    };
    v.push(ParamSpec::new(
        "4x4/Conv/weight",
        &[3, 3, c + extra, c],
        Init::Normal(1.0),
        true,
    ));
    v.push(ParamSpec::new("4x4/Conv/bias", &[c], Init::Zeros, true));
    v.push(ParamSpec::new(
        "4x4/Dense0/weight",
        &[c * 16, cfg.nf(0)],
        Init::Normal(1.0),
        true,
    ));
    v.push(ParamSpec::new(
        "4x4/Dense0/bias",
        &[cfg.nf(0)],
        Init::Zeros,
        true,
    ));
    let outs = cfg.label_size.max(1);
    v.push(ParamSpec::new(
        "4x4/Dense1/weight",
        &[cfg.nf(0), outs],
        Init::Normal(1.0),
        true,
    ));
    v.push(ParamSpec::new(
        "4x4/Dense1/bias",
        &[outs],
        Init::Zeros,
        true,
    ));
    v.push(ParamSpec::new("lod", &[], Init::Zeros, false));
    v
}

/// Fresh values for `specs` with the official initialization.
pub fn init_host(specs: &[ParamSpec], seed: u64) -> HostWeights {
    let mut rng = crate::rng::seeded(seed);
    let mut out = HostWeights::new();
    for s in specs {
        let n: usize = s.shape.iter().product();
        let data = match s.init {
            Init::Zeros => vec![0.0; n],
            Init::Ones => vec![1.0; n],
            Init::Normal(std) => crate::rng::std_normal(&mut rng, n)
                .into_iter()
                .map(|v| v * std)
                .collect(),
        };
        out.insert(
            s.name.clone(),
            HostTensor {
                shape: s.shape.clone(),
                data,
            },
        );
    }
    out
}

/// Checks that `w` holds every variable of `specs` with the right shape; the error names the
/// tensor (prefixed by `net`, e.g. `Gs/`).
pub fn check_weights(specs: &[ParamSpec], w: &HostWeights, net: &str, source: &str) -> Result<()> {
    for s in specs {
        match w.get(&s.name) {
            None => {
                return Err(Error::Format {
                    path: source.into(),
                    msg: format!(
                        "variable {net}{} is missing (expected shape {:?})",
                        s.name, s.shape
                    ),
                })
            }
            Some(t) if t.shape != s.shape => {
                return Err(Error::Format {
                    path: source.into(),
                    msg: format!(
                        "variable {net}{} has shape {:?}, the config needs {:?}",
                        s.name, t.shape, s.shape
                    ),
                })
            }
            Some(t) if t.data.len() != s.shape.iter().product::<usize>() => {
                return Err(Error::Format {
                    path: source.into(),
                    msg: format!(
                        "variable {net}{} holds {} values for shape {:?}",
                        s.name,
                        t.data.len(),
                        s.shape
                    ),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// A network's variables on the GPU: trainable ones as gradient leaves, the rest constant.
/// Each is a view of one of a few flat buffers (`crate::nn::flat`), so updates of the whole
/// network (Adam, the Gs moving average) take one dispatch per buffer.
pub struct ParamSet {
    vars: BTreeMap<String, Var>,
    specs: Vec<ParamSpec>,
    chunks: Vec<Chunk>,
    flats: Vec<Tensor>,
}

impl ParamSet {
    pub fn upload(gpu: &Gpu, specs: &[ParamSpec], w: &HostWeights) -> Result<ParamSet> {
        check_weights(specs, w, "", "weights")?;
        let align = view_align(gpu);
        let max_len = (gpu.max_tensor_bytes() as usize / 4) / align * align;
        let chunks = flat::layout(specs, align, max_len.max(align));
        let mut vars = BTreeMap::new();
        let mut flats = Vec::with_capacity(chunks.len());
        for c in &chunks {
            let mut host = vec![0.0f32; c.len];
            for seg in &c.segs {
                host[seg.offset..seg.offset + seg.numel]
                    .copy_from_slice(&w[&specs[seg.spec].name].data);
            }
            let flat = Tensor::from_slice(gpu, &[c.len], &host)?;
            for seg in &c.segs {
                let s = &specs[seg.spec];
                let shape = if s.shape.is_empty() {
                    vec![1]
                } else {
                    s.shape.clone()
                };
                let tensor = flat.view(seg.offset, &shape)?;
                vars.insert(
                    s.name.clone(),
                    if s.trainable {
                        Var::param(tensor)
                    } else {
                        Var::constant(tensor)
                    },
                );
            }
            flats.push(flat);
        }
        Ok(ParamSet {
            vars,
            specs: specs.to_vec(),
            chunks,
            flats,
        })
    }

    /// The flat buffers holding the variables, with their layouts.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (&Chunk, &Tensor)> {
        self.chunks.iter().zip(&self.flats)
    }

    pub fn get(&self, name: &str) -> Result<&Var> {
        self.vars
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("network has no variable '{name}'")))
    }

    /// Replaces one variable's values (shape must match): they are copied into its place in
    /// the flat buffer, after the work recorded so far.
    pub fn set(&mut self, name: &str, v: Var) -> Result<()> {
        let old = self.get(name)?;
        if old.shape() != v.shape() {
            return Err(Error::Shape {
                op: "ParamSet::set",
                msg: format!("{name}: {:?} vs {:?}", old.shape(), v.shape()),
            });
        }
        old.value().copy_from(v.value())
    }

    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Trainable variables in spec order (for gradients and optimizers).
    pub fn trainable(&self) -> Vec<(String, Var)> {
        self.specs
            .iter()
            .filter(|s| s.trainable)
            .map(|s| (s.name.clone(), self.vars[&s.name].clone()))
            .collect()
    }

    /// Reads every variable back to the host.
    pub fn download(&self) -> Result<HostWeights> {
        let mut out = HostWeights::new();
        for s in &self.specs {
            let data = self.vars[&s.name].to_vec()?;
            out.insert(
                s.name.clone(),
                HostTensor {
                    shape: s.shape.clone(),
                    data,
                },
            );
        }
        Ok(out)
    }
}
