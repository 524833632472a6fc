//! The synthesis network `w -> image` (`../shared/STYLEGAN.md`, "Synthesis network"), one
//! function per block kind, with the official variable names (`G_synthesis/{s}x{s}/Conv1/...`).
//!
//! Every conv uses the equalized-learning-rate scale `gain / sqrt(fan_in)` folded into the
//! kernel's `alpha`, with fan_in taken from the stored 3x3 (or 1x1) weight, also for the fused
//! up-conv whose 4x4 kernel is derived from that 3x3 weight.

use crate::error::{shape_err, Result};
use crate::graph::Var;
use crate::nn::config::Config;
use crate::nn::params::{layer_channels, layer_scope, layer_side, ParamSet};
use crate::ops;

const SYN: &str = "G_synthesis";

fn param<'a>(params: &'a ParamSet, scope: &str, name: &str) -> Result<&'a Var> {
    params.get(&format!("{SYN}/{scope}/{name}"))
}

/// Equalized-lr scale of a conv with gain sqrt(2) and a `k x k x cin` fan-in.
fn conv_alpha(k: usize, cin: usize) -> f32 {
    std::f32::consts::SQRT_2 / ((k * k * cin) as f32).sqrt()
}

/// Checks `w: [N, num_layers, dlatent_size]` and returns N.
pub fn check_dlatents(cfg: &Config, w: &Var) -> Result<usize> {
    let ws = w.shape();
    let (l, d) = (cfg.num_layers(), cfg.dlatent_size);
    if ws.len() != 3 || ws[1] != l || ws[2] != d {
        return shape_err(
            "synthesis",
            format!("w must be [N, num_layers = {l}, dlatent_size = {d}], got {ws:?}"),
        );
    }
    Ok(ws[0])
}

/// `[N, L, D]` -> L tensors `[N, D]`, the style input of each layer.
pub fn split_dlatents(w: &Var) -> Result<Vec<Var>> {
    let ws = w.shape().to_vec();
    if ws.len() != 3 {
        return shape_err("split_dlatents", format!("w must be [N, L, D], got {ws:?}"));
    }
    (0..ws[1])
        .map(|i| ops::reshape(&ops::slice_channels(w, i, 1)?, &[ws[0], ws[2]]))
        .collect()
}

/// Epilogue of synthesis layer `i`: noise * strength + bias, lrelu 0.2 (one kernel), then
/// instance norm and the style modulation from `w_i: [N, D]` (the AdaIN kernel).
pub fn layer_epilogue(params: &ParamSet, i: usize, x: &Var, noise: Option<&Var>, w_i: &Var) -> Result<Var> {
    let scope = layer_scope(i);
    let strength = param(params, &scope, "Noise/weight")?;
    let bias = param(params, &scope, "bias")?;
    let x = ops::epilogue(x, noise, strength, bias, 1.0, 0.2)?;
    let style = ops::dense(
        w_i,
        param(params, &scope, "StyleMod/weight")?,
        Some(param(params, &scope, "StyleMod/bias")?),
        1.0,
        1.0,
    )?;
    ops::adain(&x, &style)
}

/// The 4x4 block: learned constant tiled over the batch -> epilogue 0 -> conv3x3 -> epilogue 1.
pub fn block_4x4(cfg: &Config, params: &ParamSet, n: usize, ws: &[Var], noise: &[Option<Var>]) -> Result<Var> {
    let c = layer_channels(cfg, 0);
    let cst = param(params, &layer_scope(0), "const")?;
    let x = ops::broadcast_to(cst, &[n, c, 4, 4])?;
    let x = layer_epilogue(params, 0, &x, noise[0].as_ref(), &ws[0])?;
    let scope = layer_scope(1);
    let x = ops::conv2d(&x, param(params, &scope, "weight")?, conv_alpha(3, c))?;
    layer_epilogue(params, 1, &x, noise[1].as_ref(), &ws[1])
}

/// The block at side `2^r` (r >= 3): `Conv0_up` (up-conv, fused or not, then blur) ->
/// epilogue 2r-4; `Conv1` (conv3x3) -> epilogue 2r-3.
pub fn block_up(cfg: &Config, params: &ParamSet, r: usize, x: &Var, ws: &[Var], noise: &[Option<Var>]) -> Result<Var> {
    let side = 1usize << r;
    let (i0, i1) = (2 * r - 4, 2 * r - 3);
    let cin = x.shape()[1];
    let scope0 = layer_scope(i0);
    let w0 = param(params, &scope0, "weight")?;
    let alpha0 = conv_alpha(3, cin);
    let y = if cfg.fused_up(side) {
        ops::conv_up2_fused(x, w0, alpha0)?
    } else {
        ops::conv2d(&ops::upsample2(x, 1.0)?, w0, alpha0)?
    };
    let y = ops::blur(&y)?;
    let y = layer_epilogue(params, i0, &y, noise[i0].as_ref(), &ws[i0])?;
    let c = y.shape()[1];
    let y = ops::conv2d(&y, param(params, &layer_scope(i1), "weight")?, conv_alpha(3, c))?;
    layer_epilogue(params, i1, &y, noise[i1].as_ref(), &ws[i1])
}

/// `ToRGB_lod0`: conv1x1 to `num_channels` with gain 1, + bias, no activation.
pub fn to_rgb(params: &ParamSet, x: &Var) -> Result<Var> {
    let cin = x.shape()[1];
    let w = params.get(&format!("{SYN}/ToRGB_lod0/weight"))?;
    let b = params.get(&format!("{SYN}/ToRGB_lod0/bias"))?;
    let y = ops::conv2d(x, w, 1.0 / (cin as f32).sqrt())?;
    ops::bias_add(&y, b, 1.0)
}

/// Checks one noise map per layer, each `[N, 1, s, s]` or `[1, 1, s, s]` (or absent).
pub fn check_noise(cfg: &Config, n: usize, noise: &[Option<Var>]) -> Result<()> {
    let l = cfg.num_layers();
    if noise.len() != l {
        return shape_err(
            "synthesis",
            format!("{} noise maps given, the network has {l} layers", noise.len()),
        );
    }
    for (i, nz) in noise.iter().enumerate() {
        if let Some(nz) = nz {
            let s = layer_side(i);
            let ns = nz.shape();
            if ns.len() != 4 || (ns[0] != n && ns[0] != 1) || ns[1] != 1 || ns[2] != s || ns[3] != s {
                return shape_err(
                    "synthesis",
                    format!("noise map {i} must be [{n}, 1, {s}, {s}] or [1, 1, {s}, {s}], got {ns:?}"),
                );
            }
        }
    }
    Ok(())
}

/// `w: [N, num_layers, dlatent_size]` -> image `[N, num_channels, resolution, resolution]`,
/// with one optional noise map per layer.
pub fn synthesis_network(cfg: &Config, params: &ParamSet, w: &Var, noise: &[Option<Var>]) -> Result<Var> {
    let n = check_dlatents(cfg, w)?;
    check_noise(cfg, n, noise)?;
    let ws = split_dlatents(w)?;
    let mut x = block_4x4(cfg, params, n, &ws, noise)?;
    for r in 3..=cfg.log2_res() {
        x = block_up(cfg, params, r, &x, &ws, noise)?;
    }
    to_rgb(params, &x)
}
