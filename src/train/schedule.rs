//! The official progressive-growing schedule (`training_loop.py`): the level of detail after
//! a number of images, and the reals faded to it.

use crate::error::{Error, Result};
use crate::ops;
use crate::tape::Var;

/// Where progressive training stands: `lod` (0 = full resolution) and the resolution being
/// trained, `2^(R - floor(lod))`, which picks the learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LodSchedule {
    pub lod: f64,
    pub resolution: usize,
}

/// The official progressive schedule (`training_loop.py`, `TrainingSchedule`, with
/// `lod_initial_resolution = 4`) after `cur_nimg` images, for a network of side `2^log2_res`:
/// stages of `training_kimg` at a fixed lod, each followed by `transition_kimg` of fading
/// lod down by one, from `R - 2` to 0. In f64, as the official Python computes it.
pub fn lod_schedule(
    log2_res: usize,
    cur_nimg: u64,
    training_kimg: f64,
    transition_kimg: f64,
) -> LodSchedule {
    let kimg = cur_nimg as f64 / 1000.0;
    let phase_dur = training_kimg + transition_kimg;
    let phase_idx = if phase_dur > 0.0 {
        (kimg / phase_dur).floor()
    } else {
        0.0
    };
    let phase_kimg = kimg - phase_idx * phase_dur;
    let mut lod = log2_res as f64 - 2.0;
    lod -= phase_idx;
    if transition_kimg > 0.0 {
        lod -= (phase_kimg - training_kimg).max(0.0) / transition_kimg;
    }
    let lod = lod.max(0.0);
    let resolution = 1usize << (log2_res - (lod.floor() as usize).min(log2_res));
    LodSchedule { lod, resolution }
}

/// The official `process_reals` fade for level of detail `lod`, on full-resolution reals
/// `[N, C, R, R]`: average down to side `R / 2^floor(lod)` (2x2 boxes, what the official
/// per-lod dataset holds, without its 8-bit rounding), blend with its own 2x2 box average
/// (upscaled) by `lod - floor(lod)`, and upscale back to `R` (nearest).
pub fn process_reals_lod(x: &Var, lod: f32) -> Result<Var> {
    if lod == 0.0 {
        return Ok(x.clone());
    }
    if !lod.is_finite() || lod < 0.0 {
        return Err(Error::Invalid(format!(
            "process_reals: lod {lod} must be finite and >= 0"
        )));
    }
    let levels = lod.floor() as usize;
    let side = *x.shape().last().unwrap_or(&0);
    if side >> levels == 0 || (lod > levels as f32 && side >> levels < 2) {
        return Err(Error::Shape {
            op: "process_reals",
            msg: format!("lod {lod} is too large for reals {:?}", x.shape()),
        });
    }
    let mut y = x.clone();
    for _ in 0..levels {
        y = ops::downsample2(&y, 0.25)?;
    }
    let frac = lod - levels as f32;
    if frac > 0.0 {
        let low = ops::upsample2(&ops::downsample2(&y, 0.25)?, 1.0)?;
        y = ops::axpby(&y, &low, 1.0 - frac, frac)?;
    }
    for _ in 0..levels {
        y = ops::upsample2(&y, 1.0)?;
    }
    Ok(y)
}
