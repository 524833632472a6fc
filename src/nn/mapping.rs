//! The mapping network `z -> w` (`docs/network.md`, "Mapping network"): pixel norm, then
//! `mapping_layers` x (equalized dense, gain sqrt(2), lrmul `mapping_lrmul`; + bias; lrelu 0.2).
//! The official code applies the activation after every layer, the last one included.
//! Conditional networks first concatenate the label embedding `y = labels @ LabelConcat`
//! (used as stored) to z, so the pixel norm and the first layer see `[z, y]`.

use crate::error::{shape_err, Result};
use crate::nn::config::Config;
use crate::nn::labels::check_labels;
use crate::nn::params::ParamSet;
use crate::ops;
use crate::tape::Var;

/// `z: [N, latent_size]` (and one-hot `labels: [N, label_size]` for a conditional network)
/// `-> w: [N, dlatent_size]` (one w per image, before broadcasting).
pub fn mapping_network(
    cfg: &Config,
    params: &ParamSet,
    z: &Var,
    labels: Option<&Var>,
) -> Result<Var> {
    let zs = z.shape();
    if zs.len() != 2 || zs[1] != cfg.latent_size {
        return shape_err(
            "mapping",
            format!(
                "z must be [N, latent_size = {}], got {zs:?}",
                cfg.latent_size
            ),
        );
    }
    check_labels("mapping", cfg, labels, zs[0])?;
    let x = match labels {
        Some(l) => {
            let e = params.get("G_mapping/LabelConcat/weight")?;
            ops::concat_channels(z, &ops::matmul(l, e, false, false, 1.0)?)?
        }
        None => z.clone(),
    };
    let mut x = ops::pixel_norm(&x)?;
    let gain = std::f32::consts::SQRT_2;
    let lrmul = cfg.mapping_lrmul;
    for l in 0..cfg.mapping_layers {
        let w = params.get(&format!("G_mapping/Dense{l}/weight"))?;
        let b = params.get(&format!("G_mapping/Dense{l}/bias"))?;
        // The bias rides in the activation kernel (scaled by lrmul there) instead of costing
        // a separate broadcast + add after the matmul.
        let y = ops::dense(&x, w, None, gain, lrmul)?;
        x = ops::bias_act(&y, b, lrmul, 0.2)?;
    }
    Ok(x)
}

/// `[N, D] -> [N, num_layers, D]`: the same w for every synthesis layer.
pub fn broadcast_dlatent(w: &Var, num_layers: usize) -> Result<Var> {
    let ws = w.shape();
    if ws.len() != 2 {
        return shape_err("broadcast_dlatent", format!("w must be [N, D], got {ws:?}"));
    }
    let (n, d) = (ws[0], ws[1]);
    ops::broadcast_to(&ops::reshape(w, &[n, 1, d])?, &[n, num_layers, d])
}
