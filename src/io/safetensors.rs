//! Our weight format: safetensors holding the networks' variables under their official names
//! prefixed by the network (`G/`, `D/`, `Gs/`, e.g. `Gs/G_synthesis/4x4/Const/const`), in the
//! official layouts (HWIO, `[in, out]`), with the config as JSON in the metadata.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::nn::config::Config;
use crate::nn::params::{HostTensor, HostWeights};

pub const FORMAT_TAG: &str = "stylegan-wgpu";

/// What a model file holds, on the host: the config, the networks by prefix (`G`, `D`, `Gs`),
/// and any extra metadata (training state uses it). [`crate::model::Model`] is the handle users
/// hold; this is its content.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    pub config: Config,
    pub nets: BTreeMap<String, HostWeights>,
    pub metadata: BTreeMap<String, String>,
}

fn fmt_err(path: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        path: path.into(),
        msg: msg.into(),
    }
}

/// Serializes `m` to safetensors bytes. The config is validated first: JSON has no NaN or
/// infinity (serde writes them as `null`), so a bad value would make a file that cannot be
/// read back.
pub fn to_bytes(m: &Checkpoint) -> Result<Vec<u8>> {
    m.config.validate()?;
    let mut bufs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (net, w) in &m.nets {
        for (name, t) in w {
            bufs.push((
                format!("{net}/{name}"),
                t.shape.clone(),
                bytemuck::cast_slice(&t.data).to_vec(),
            ));
        }
    }
    let views: Vec<(String, TensorView)> = bufs
        .iter()
        .map(|(n, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Invalid(format!("safetensors: {e}")))?;
    let mut meta: HashMap<String, String> = m.metadata.clone().into_iter().collect();
    meta.insert("format".into(), FORMAT_TAG.into());
    meta.insert(
        "config".into(),
        serde_json::to_string(&m.config)
            .map_err(|e| Error::Invalid(format!("config: cannot serialize: {e}")))?,
    );
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| Error::Invalid(format!("safetensors: {e}")))
}

/// Writes `m` atomically ([`write_atomic`]).
pub fn save(path: &Path, m: &Checkpoint) -> Result<()> {
    let bytes = to_bytes(m).map_err(|e| fmt_err(&path.display().to_string(), e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Parses safetensors bytes (`path` only names the source in errors).
pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Checkpoint> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| fmt_err(path, format!("not a valid safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| fmt_err(path, format!("bad header: {e}")))?;
    let mut metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let cfg_json = metadata.remove("config").ok_or_else(|| {
        fmt_err(
            path,
            "no 'config' in the metadata (not written by stylegan-wgpu?)",
        )
    })?;
    let config = parse_config(&cfg_json).map_err(|msg| fmt_err(path, msg))?;
    config
        .validate()
        .map_err(|e| fmt_err(path, e.to_string()))?;
    metadata.remove("format");
    let mut nets: BTreeMap<String, HostWeights> = BTreeMap::new();
    for (name, view) in st.iter() {
        let (net, var) = name.split_once('/').ok_or_else(|| {
            fmt_err(
                path,
                format!("tensor '{name}' has no network prefix (G/, D/, Gs/)"),
            )
        })?;
        let data = view_to_f32(name, &view, path)?;
        nets.entry(net.to_string()).or_default().insert(
            var.to_string(),
            HostTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(Checkpoint {
        config,
        nets,
        metadata,
    })
}

/// A tensor's values as f32 (F32 as stored, F64 rounded); other dtypes are an error naming
/// the tensor.
fn view_to_f32(name: &str, view: &TensorView, path: &str) -> Result<Vec<f32>> {
    match view.dtype() {
        Dtype::F32 => Ok(bytemuck::pod_collect_to_vec(view.data())),
        Dtype::F64 => Ok(bytemuck::pod_collect_to_vec::<u8, f64>(view.data())
            .into_iter()
            .map(|v| v as f32)
            .collect()),
        d => Err(fmt_err(
            path,
            format!("tensor '{name}' has dtype {d:?}; only F32/F64 are supported"),
        )),
    }
}

/// Parses plain named tensors (any names, no config needed): the counterpart of
/// [`tensors_to_bytes`], e.g. Inception weights converted from pytorch-fid's checkpoint.
pub fn tensors_from_bytes(bytes: &[u8], path: &str) -> Result<Vec<(String, HostTensor)>> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| fmt_err(path, format!("not a valid safetensors file: {e}")))?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.iter() {
        let data = view_to_f32(name, &view, path)?;
        out.push((
            name.to_string(),
            HostTensor {
                shape: view.shape().to_vec(),
                data,
            },
        ));
    }
    Ok(out)
}

/// The config JSON of the metadata. Older versions wrote a non-finite float as `null`; that
/// is named as such rather than left to serde's "invalid type: null" at a column.
fn parse_config(json: &str) -> std::result::Result<Config, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("config metadata: {e}"))?;
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            if v.is_null() {
                return Err(format!(
                    "config: {k} is null (a NaN or infinity when the file was written)"
                ));
            }
            // Every float of the config is an f32: a larger number would silently become
            // infinity, so it is named here with the value as written.
            if let Some(x) = v.as_f64().filter(|x| x.is_finite() && v.is_f64()) {
                if (x as f32).is_infinite() {
                    return Err(format!("config: {k} {x:e} is too large for a 32-bit float"));
                }
            }
        }
    }
    serde_json::from_value(value).map_err(|e| format!("config metadata: {e}"))
}

pub fn load(path: &Path) -> Result<Checkpoint> {
    from_bytes(&crate::io::read_file(path)?, &path.display().to_string())
}

/// Serializes plain named f32 tensors (no config, no network prefixes), e.g. a PyTorch state
/// dict converted by `stylegan convert weights.pth out.safetensors`. `metadata` goes into the
/// header as is. Two tensors with the same name are an error.
pub fn tensors_to_bytes(
    tensors: &[(String, HostTensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if !seen.insert(name.as_str()) {
            return Err(Error::Invalid(format!(
                "safetensors: tensor '{name}' appears twice"
            )));
        }
        let v = TensorView::new(Dtype::F32, t.shape.clone(), bytemuck::cast_slice(&t.data))
            .map_err(|e| Error::Invalid(format!("safetensors: tensor '{name}': {e}")))?;
        views.push((name.clone(), v));
    }
    let meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    safetensors::tensor::serialize(views, Some(meta))
        .map_err(|e| Error::Invalid(format!("safetensors: {e}")))
}

/// Writes plain named f32 tensors ([`tensors_to_bytes`]) atomically ([`write_atomic`]).
pub fn save_tensors(
    path: &Path,
    tensors: &[(String, HostTensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes = tensors_to_bytes(tensors, metadata)
        .map_err(|e| fmt_err(&path.display().to_string(), e.to_string()))?;
    write_atomic(path, &bytes)
}
