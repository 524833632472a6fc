//! Official `(G, D, Gs)` pickles converted to our `ModelFile` (networks `G`, `D`, `Gs` under
//! their official full variable names). Nothing in the pickle is executed.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::io::official::parse_official_pickle;
use crate::io::safetensors::ModelFile;

pub fn from_official_pickle_bytes(bytes: &[u8], path: &str) -> Result<ModelFile> {
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
    Ok(ModelFile {
        config,
        nets,
        metadata,
    })
}
