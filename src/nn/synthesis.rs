//! The synthesis network `w -> image` (`docs/network.md`, "Synthesis network"), one
//! function per block kind, with the official variable names (`G_synthesis/{s}x{s}/Conv1/...`).
//!
//! Every conv uses the equalized-learning-rate scale `gain / sqrt(fan_in)` folded into the
//! kernel's `alpha`, with fan_in taken from the stored 3x3 (or 1x1) weight, also for the fused
//! up-conv whose 4x4 kernel is derived from that 3x3 weight.

use crate::error::{shape_err, Result};
use crate::nn::config::Config;
use crate::nn::params::{layer_channels, layer_scope, layer_side, ParamSet};
use crate::ops;
use crate::ops::conv::Precision;
use crate::tape::Var;

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
pub fn layer_epilogue(
    params: &ParamSet,
    i: usize,
    x: &Var,
    noise: Option<&Var>,
    w_i: &Var,
) -> Result<Var> {
    let scope = layer_scope(i);
    let strength = param(params, &scope, "Noise/weight")?;
    let bias = param(params, &scope, "bias")?;
    let x = ops::epilogue(x, noise, strength, bias, 1.0, 0.2)?;
    // The style's bias rides in the epilogue kernel (slope 1: no activation) rather than
    // costing a broadcast and an add: `y + b * 1` is the same sum.
    let style = ops::bias_add(
        &ops::dense(
            w_i,
            param(params, &scope, "StyleMod/weight")?,
            None,
            1.0,
            1.0,
        )?,
        param(params, &scope, "StyleMod/bias")?,
        1.0,
    )?;
    ops::adain(&x, &style)
}

/// The 4x4 block: learned constant tiled over the batch -> epilogue 0 -> conv3x3 -> epilogue 1.
pub fn block_4x4(
    cfg: &Config,
    params: &ParamSet,
    n: usize,
    ws: &[Var],
    noise: &[Option<Var>],
    prec: Precision,
) -> Result<Var> {
    let c = layer_channels(cfg, 0);
    let cst = param(params, &layer_scope(0), "const")?;
    let x = ops::broadcast_to(cst, &[n, c, 4, 4])?;
    let x = layer_epilogue(params, 0, &x, noise[0].as_ref(), &ws[0])?;
    let scope = layer_scope(1);
    let x = ops::conv2d(&x, param(params, &scope, "weight")?, conv_alpha(3, c), prec)?;
    layer_epilogue(params, 1, &x, noise[1].as_ref(), &ws[1])
}

/// The block at side `2^r` (r >= 3): `Conv0_up` (up-conv, fused or not, then blur) ->
/// epilogue 2r-4; `Conv1` (conv3x3) -> epilogue 2r-3.
pub fn block_up(
    cfg: &Config,
    params: &ParamSet,
    r: usize,
    x: &Var,
    ws: &[Var],
    noise: &[Option<Var>],
    prec: Precision,
) -> Result<Var> {
    let side = 1usize << r;
    let (i0, i1) = (2 * r - 4, 2 * r - 3);
    let cin = x.shape()[1];
    let scope0 = layer_scope(i0);
    let w0 = param(params, &scope0, "weight")?;
    let alpha0 = conv_alpha(3, cin);
    let y = if cfg.fused_up(side) {
        ops::conv_up2_fused(x, w0, alpha0, prec)?
    } else {
        ops::conv2d(&ops::upsample2(x, 1.0)?, w0, alpha0, prec)?
    };
    let y = ops::blur(&y)?;
    let y = layer_epilogue(params, i0, &y, noise[i0].as_ref(), &ws[i0])?;
    let c = y.shape()[1];
    let y = ops::conv2d(
        &y,
        param(params, &layer_scope(i1), "weight")?,
        conv_alpha(3, c),
        prec,
    )?;
    layer_epilogue(params, i1, &y, noise[i1].as_ref(), &ws[i1])
}

/// `ToRGB_lod0`: conv1x1 to `num_channels` with gain 1, + bias, no activation.
pub fn to_rgb(params: &ParamSet, x: &Var, prec: Precision) -> Result<Var> {
    to_rgb_lod(params, x, 0, prec)
}

/// `ToRGB_lod{lod}` (the image of the block at side `2^(R - lod)`): conv1x1 to
/// `num_channels` with gain 1, + bias, no activation.
pub fn to_rgb_lod(params: &ParamSet, x: &Var, lod: usize, prec: Precision) -> Result<Var> {
    let cin = x.shape()[1];
    let w = params.get(&format!("{SYN}/ToRGB_lod{lod}/weight"))?;
    let b = params.get(&format!("{SYN}/ToRGB_lod{lod}/bias"))?;
    let y = ops::conv2d(x, w, 1.0 / (cin as f32).sqrt(), prec)?;
    ops::bias_add(&y, b, 1.0)
}

/// The official `lerp_clip(a, b, t) = a + (b - a) * clamp(t, 0, 1)` for a host-side `t`,
/// building only the side(s) that matter: `None` stands for an operand that was not computed
/// because its weight is 0.
pub fn lerp_clip(a: Option<Var>, b: Option<Var>, t: f32) -> Result<Var> {
    let t = t.clamp(0.0, 1.0);
    match (a, b) {
        (Some(a), _) if t <= 0.0 => Ok(a),
        (_, Some(b)) if t >= 1.0 => Ok(b),
        (Some(a), Some(b)) => ops::axpby(&a, &b, 1.0 - t, t),
        _ => shape_err(
            "lerp_clip",
            format!("an operand with weight > 0 at t = {t} was not computed"),
        ),
    }
}

/// Checks one noise map per layer, each `[N, 1, s, s]` or `[1, 1, s, s]` (or absent).
pub fn check_noise(cfg: &Config, n: usize, noise: &[Option<Var>]) -> Result<()> {
    let l = cfg.num_layers();
    if noise.len() != l {
        return shape_err(
            "synthesis",
            format!(
                "{} noise maps given, the network has {l} layers",
                noise.len()
            ),
        );
    }
    for (i, nz) in noise.iter().enumerate() {
        if let Some(nz) = nz {
            let s = layer_side(i);
            let ns = nz.shape();
            if ns.len() != 4 || (ns[0] != n && ns[0] != 1) || ns[1] != 1 || ns[2] != s || ns[3] != s
            {
                return shape_err(
                    "synthesis",
                    format!(
                        "noise map {i} must be [{n}, 1, {s}, {s}] or [1, 1, {s}, {s}], got {ns:?}"
                    ),
                );
            }
        }
    }
    Ok(())
}

/// `w: [N, num_layers, dlatent_size]` -> image `[N, num_channels, resolution, resolution]`,
/// with one optional noise map per layer.
pub fn synthesis_network(
    cfg: &Config,
    params: &ParamSet,
    w: &Var,
    noise: &[Option<Var>],
    prec: Precision,
) -> Result<Var> {
    synthesis_network_lod(cfg, params, w, noise, 0.0, prec)
}

/// The synthesis network at level of detail `lod` (official `structure = 'linear'`): after
/// the 4x4 block `out = ToRGB_lod{R-2}(x)`; then for each side `2^res`, with `l = R - res`,
/// `out = lerp_clip(ToRGB_lod{l}(x), upscale2d(out), lod - l)`. The output is always
/// `resolution` square; at `lod = 0` it is exactly the fixed-structure network.
///
/// Unlike the official graph, which always evaluates every block, parts whose weight in the
/// output is exactly zero (blocks above the current resolution, ToRGBs of levels faded out)
/// are not built. The output is the same, and those variables get no gradient instead of a
/// zero one, which gives the same Adam updates because training resets the optimizer state
/// whenever that set of variables changes (at every integer crossing of lod).
pub fn synthesis_network_lod(
    cfg: &Config,
    params: &ParamSet,
    w: &Var,
    noise: &[Option<Var>],
    lod: f32,
    prec: Precision,
) -> Result<Var> {
    check_dlatents(cfg, w)?;
    synthesis_layers_lod(cfg, params, &split_dlatents(w)?, noise, lod, prec)
}

/// `synthesis_network_lod` from the style input of each layer, `ws[i]: [N, dlatent_size]`,
/// as `split_dlatents` makes them. Layers may share one `Var` (several layers with the same
/// w), which skips building `[N, num_layers, dlatent_size]` and slicing it.
pub fn synthesis_layers_lod(
    cfg: &Config,
    params: &ParamSet,
    ws: &[Var],
    noise: &[Option<Var>],
    lod: f32,
    prec: Precision,
) -> Result<Var> {
    cfg.check_lod("synthesis", lod)?;
    let (l, d) = (cfg.num_layers(), cfg.dlatent_size);
    let n = ws.first().map_or(0, |w| w.shape()[0]);
    if ws.len() != l || ws.iter().any(|w| w.shape() != [n, d]) {
        let shapes: Vec<&[usize]> = ws.iter().map(|w| w.shape()).collect();
        return shape_err(
            "synthesis",
            format!("one w [N, dlatent_size = {d}] per layer ({l}) expected, got {shapes:?}"),
        );
    }
    check_noise(cfg, n, noise)?;
    let r = cfg.log2_res();
    // Fade weight of level l (side 2^(R-l)): its own image counts with 1 - t, the upscaled
    // lower-resolution output with t.
    let t = |l: usize| (lod - l as f32).clamp(0.0, 1.0);
    // need[l]: the running output after level l reaches the final image.
    let mut need = vec![false; r - 1];
    need[0] = true;
    for l in 0..r.saturating_sub(2) {
        need[l + 1] = need[l] && t(l) > 0.0;
    }
    let own_image = |l: usize| need[l] && (l == r - 2 || t(l) < 1.0);
    // The highest-resolution block whose output is used at all.
    let top = (0..=r - 2).find(|&l| own_image(l)).unwrap_or(r - 2);
    let mut x = block_4x4(cfg, params, n, ws, noise, prec)?;
    let mut out = if own_image(r - 2) {
        Some(to_rgb_lod(params, &x, r - 2, prec)?)
    } else {
        None
    };
    for res in 3..=r {
        let l = r - res;
        if l >= top {
            x = block_up(cfg, params, res, &x, ws, noise, prec)?;
        }
        let img = if own_image(l) {
            Some(to_rgb_lod(params, &x, l, prec)?)
        } else {
            None
        };
        let prev = match out {
            Some(o) if need[l] && t(l) > 0.0 => Some(ops::upsample2(&o, 1.0)?),
            _ => None,
        };
        out = if need[l] {
            Some(lerp_clip(img, prev, t(l))?)
        } else {
            None
        };
    }
    out.ok_or_else(|| crate::error::Error::Invalid("synthesis: no output".into()))
}
