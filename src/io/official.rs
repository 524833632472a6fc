//! The official StyleGAN weight files: a pickle of the tuple `(G, D, Gs)` of
//! `dnnlib.tflib.network.Network` objects (`docs/network.md`, "Official file format").
//!
//! Each network's pickled state is a dict with `version`, `name`, `static_kwargs`,
//! `components`, `build_module_src`, `build_func_name` and `variables`. The build source is
//! Python code: it is never looked at, let alone executed; the network is rebuilt from
//! `static_kwargs` by our own code. Variables inside a component are unscoped (`Dense3/weight`
//! in `G_mapping`); [`OfficialNet::host_weights`] adds the component's name as Network.vars
//! does (`G_mapping/Dense3/weight`), while a network's own variables stay unscoped
//! (`dlatent_avg`, `4x4/Dense1/bias`).
//!
//! Everything is kept, including what our networks do not use (progressive `ToRGB_lod1`,
//! `FromRGB_lod2`, G's own `lod`): callers pick what they need.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::pickle::{parse_pickle, Value};
use crate::io::safetensors::Checkpoint;
use crate::nn::config::{Config, KwValue};
use crate::nn::params::{HostTensor, HostWeights};

/// One network as pickled by the official code.
#[derive(Clone, Debug, PartialEq)]
pub struct OfficialNet {
    /// `G`, `D`, `G_mapping`, `G_synthesis`, ...
    pub name: String,
    pub static_kwargs: Vec<(String, KwValue)>,
    /// (key in the components dict, e.g. `mapping`, the component network).
    pub components: Vec<(String, OfficialNet)>,
    /// The network's own variables, unscoped, in file order, converted to f32.
    pub variables: Vec<(String, HostTensor)>,
}

impl OfficialNet {
    /// Every variable under its full name (components prefixed by their network name,
    /// recursively). Two variables with the same full name are an error.
    pub fn host_weights(&self) -> Result<HostWeights> {
        let mut out = HostWeights::new();
        self.flatten_into("", &mut out)?;
        Ok(out)
    }

    fn flatten_into(&self, prefix: &str, out: &mut HostWeights) -> Result<()> {
        for (name, t) in &self.variables {
            let full = format!("{prefix}{name}");
            if out.insert(full.clone(), t.clone()).is_some() {
                return Err(Error::Invalid(format!(
                    "official network {}: variable '{full}' appears twice",
                    self.name
                )));
            }
        }
        for (_, c) in &self.components {
            c.flatten_into(&format!("{prefix}{}/", c.name), out)?;
        }
        Ok(())
    }

    /// The hyper-parameters: this network's `static_kwargs`, then its components' (recursively),
    /// through [`Config::from_static_kwargs`] (later entries win).
    pub fn config(&self) -> Result<Config> {
        let mut kw = Vec::new();
        self.collect_kwargs(&mut kw);
        Config::from_static_kwargs(&kw)
    }

    fn collect_kwargs(&self, kw: &mut Vec<(String, KwValue)>) {
        kw.extend(self.static_kwargs.iter().cloned());
        for (_, c) in &self.components {
            c.collect_kwargs(kw);
        }
    }

    /// The component stored under `key` (`mapping`, `synthesis`).
    pub fn component(&self, key: &str) -> Option<&OfficialNet> {
        self.components
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| c)
    }

    /// One of the network's own variables by unscoped name.
    pub fn variable(&self, name: &str) -> Option<&HostTensor> {
        self.variables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }

    /// The progressive-growing level of detail: the network's own scalar `lod`, or else the
    /// first component's (G keeps it in `G_synthesis`). 0 for a finished network.
    pub fn lod(&self) -> Option<f32> {
        if let Some(t) = self.variable("lod") {
            return t.data.first().copied();
        }
        self.components.iter().find_map(|(_, c)| c.lod())
    }
}

/// Reads an official `(G, D, Gs)` pickle.
pub fn read_official_pickle(
    path: impl AsRef<Path>,
) -> Result<(OfficialNet, OfficialNet, OfficialNet)> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = crate::io::read_file(path)?;
    parse_official_pickle(&bytes, &name)
}

/// [`read_official_pickle`] on bytes already in memory; `path` names them in errors.
pub fn parse_official_pickle(
    bytes: &[u8],
    path: &str,
) -> Result<(OfficialNet, OfficialNet, OfficialNet)> {
    let fail = |msg: String| Error::Format {
        path: path.to_string(),
        msg,
    };
    let items = match parse_pickle(bytes, path)? {
        Value::Tuple(items) if items.len() == 3 => items,
        Value::Tuple(items) => {
            return Err(fail(format!(
                "expected the tuple (G, D, Gs), found a tuple of {} items",
                items.len()
            )))
        }
        v => {
            return Err(fail(format!(
                "expected the tuple (G, D, Gs), found a {}",
                v.kind()
            )))
        }
    };
    let mut it = items.into_iter();
    let mut next = |what: &str| network(it.next().unwrap_or(Value::None), what).map_err(&fail);
    let g = next("G")?;
    let d = next("D")?;
    let gs = next("Gs")?;
    Ok((g, d, gs))
}

/// A `Network` object -> [`OfficialNet`]; errors are messages naming `what` (`Gs/G_mapping`).
fn network(v: Value, what: &str) -> std::result::Result<OfficialNet, String> {
    let Value::Object { class, state, .. } = v else {
        return Err(format!(
            "{what}: expected a dnnlib.tflib.network.Network, found a {}",
            v.kind()
        ));
    };
    if class.1 != "Network" {
        return Err(format!(
            "{what}: expected a Network, found {}.{}",
            class.0, class.1
        ));
    }
    let Some(state) = state else {
        return Err(format!("{what}: network has no pickled state"));
    };
    let Value::Dict(pairs) = *state else {
        return Err(format!(
            "{what}: network state should be a dict, found a {}",
            state.kind()
        ));
    };
    let mut net = OfficialNet {
        name: String::new(),
        static_kwargs: Vec::new(),
        components: Vec::new(),
        variables: Vec::new(),
    };
    let mut version = None;
    for (k, v) in pairs {
        let Value::Str(key) = k else { continue };
        match key.as_str() {
            "version" => version = v.as_i64(),
            "name" => match v {
                Value::Str(s) => net.name = s,
                v => {
                    return Err(format!(
                        "{what}: name should be a str, found a {}",
                        v.kind()
                    ))
                }
            },
            "static_kwargs" => net.static_kwargs = kwargs(v, what)?,
            "components" => {
                let Value::Dict(comps) = v else {
                    return Err(format!(
                        "{what}: components should be a dict, found a {}",
                        v.kind()
                    ));
                };
                for (ck, cv) in comps {
                    let ck = match ck {
                        Value::Str(s) => s,
                        k => {
                            return Err(format!(
                                "{what}: component key should be a str, found a {}",
                                k.kind()
                            ))
                        }
                    };
                    let c = network(cv, &format!("{what}/{ck}"))?;
                    net.components.push((ck, c));
                }
            }
            "variables" => net.variables = variables(v, what)?,
            // Python source and the name of its build function: never executed, not needed.
            _ => {}
        }
    }
    match version {
        Some(2..=4) => {}
        Some(v) => {
            return Err(format!(
                "{what}: network pickle version {v} is not supported (2 to 4)"
            ))
        }
        None => return Err(format!("{what}: network state has no version")),
    }
    if net.name.is_empty() {
        return Err(format!("{what}: network state has no name"));
    }
    Ok(net)
}

fn kwargs(v: Value, what: &str) -> std::result::Result<Vec<(String, KwValue)>, String> {
    let Value::Dict(pairs) = v else {
        return Err(format!(
            "{what}: static_kwargs should be a dict, found a {}",
            v.kind()
        ));
    };
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let Value::Str(k) = k else {
            return Err(format!(
                "{what}: static_kwargs key should be a str, found a {}",
                k.kind()
            ));
        };
        out.push((k, kw_value(&v)));
    }
    Ok(out)
}

fn kw_value(v: &Value) -> KwValue {
    match v {
        Value::None => KwValue::None,
        Value::Bool(b) => KwValue::Bool(*b),
        Value::Int(i) => KwValue::Num(*i as f64),
        Value::Float(f) => KwValue::Num(*f),
        Value::Str(s) => KwValue::Str(s.clone()),
        Value::Tuple(v) | Value::List(v) => KwValue::List(v.iter().map(kw_value).collect()),
        Value::NdArray(a) if a.shape.is_empty() => KwValue::Num(a.to_f32()[0] as f64),
        Value::Global(m, n) => KwValue::Other(format!("{m}.{n}")),
        v => KwValue::Other(v.kind().to_string()),
    }
}

fn variables(v: Value, what: &str) -> std::result::Result<Vec<(String, HostTensor)>, String> {
    let items = match v {
        Value::List(v) | Value::Tuple(v) => v,
        v => {
            return Err(format!(
                "{what}: variables should be a list, found a {}",
                v.kind()
            ))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let pair = match item {
            Value::Tuple(p) | Value::List(p) if p.len() == 2 => p,
            v => {
                return Err(format!(
                    "{what}: variables[{i}] should be a (name, array) pair, found a {}",
                    v.kind()
                ))
            }
        };
        let mut p = pair.into_iter();
        let (name, value) = (
            p.next().unwrap_or(Value::None),
            p.next().unwrap_or(Value::None),
        );
        let Value::Str(name) = name else {
            return Err(format!(
                "{what}: variables[{i}] name should be a str, found a {}",
                name.kind()
            ));
        };
        let t = match value {
            Value::NdArray(a) => {
                let data = a.to_f32();
                HostTensor {
                    shape: a.shape,
                    data,
                }
            }
            // A plain Python number where numpy would give a scalar.
            Value::Float(f) => HostTensor {
                shape: vec![],
                data: vec![f as f32],
            },
            Value::Int(n) => HostTensor {
                shape: vec![],
                data: vec![n as f32],
            },
            v => {
                return Err(format!(
                    "{what}: variable '{name}' should be a numpy array, found a {}",
                    v.kind()
                ))
            }
        };
        out.push((name, t));
    }
    Ok(out)
}

/// An official `(G, D, Gs)` pickle as our [`Checkpoint`] (networks `G`, `D`, `Gs` under their
/// official full variable names, the config from `Gs`'s `static_kwargs`, D's minibatch-stddev
/// group). Nothing in the pickle is executed.
pub fn checkpoint_from_pickle(bytes: &[u8], path: &str) -> Result<Checkpoint> {
    let (g, d, gs) = parse_official_pickle(bytes, path)?;
    let fail = |msg: String| Error::Format {
        path: path.into(),
        msg,
    };
    let mut config = gs.config().map_err(|e| fail(format!("Gs: {e}")))?;
    let d_cfg = d.config().map_err(|e| fail(format!("D: {e}")))?;
    if (d_cfg.resolution, d_cfg.num_channels) != (config.resolution, config.num_channels) {
        return Err(fail(format!(
            "D is for {}x{}x{} images but Gs makes {}x{}x{}",
            d_cfg.num_channels,
            d_cfg.resolution,
            d_cfg.resolution,
            config.num_channels,
            config.resolution,
            config.resolution
        )));
    }
    config.mbstd_group_size = d_cfg.mbstd_group_size;
    for (label, net) in [("G", &g), ("Gs", &gs), ("D", &d)] {
        if let Some(lod) = net.lod() {
            if lod != 0.0 {
                return Err(fail(format!(
                    "{label} is a progressive network still growing (lod = {lod}); only finished networks (lod = 0) are supported"
                )));
            }
        }
    }
    let mut nets = BTreeMap::new();
    nets.insert("G".to_string(), g.host_weights()?);
    nets.insert("D".to_string(), d.host_weights()?);
    nets.insert("Gs".to_string(), gs.host_weights()?);
    let mut metadata = BTreeMap::new();
    metadata.insert("source".to_string(), format!("official pickle {path}"));
    Ok(Checkpoint {
        config,
        nets,
        metadata,
    })
}
