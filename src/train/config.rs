//! The hyper-parameters of a run ([`TrainConfig`], stored in snapshots).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::safetensors::Checkpoint;
use crate::nn::config::Config;
use crate::train::schedule::{lod_schedule, LodSchedule};

/// Hyper-parameters of a run (stored in snapshots).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    pub batch: usize,
    /// R1 weight.
    pub gamma: f32,
    /// Learning rate; `None` = the official per-resolution rates.
    pub lr: Option<f32>,
    pub style_mixing_prob: f32,
    /// Half-life of the Gs moving average in thousands of images.
    pub g_ema_kimg: f32,
    pub seed: u64,
    pub mirror: bool,
    /// Progressive growing (official `structure = 'linear'`): start at 4x4 and fade in each
    /// higher resolution; the network config must then be progressive too.
    pub progressive: bool,
    /// Thousands of images shown per resolution before fading in the next (official 600).
    pub lod_training_kimg: f32,
    /// Thousands of images over which the next resolution fades in (official 600).
    pub lod_transition_kimg: f32,
    /// Discriminator blocks kept frozen, counted from the input: block `i` is the one at side
    /// `R / 2^i` with its FromRGB (stylegan2-ada's `--freezed`, which helps fine-tuning on small
    /// datasets). 0, the default, trains every block; at most `log2(R) - 2` (the 4x4 block,
    /// with the dense layers, always trains). Left out of snapshots when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub freeze_d: usize,
    /// Learning rate per training resolution, over `lr` and the official defaults (the
    /// release's `G_lrate_dict` / `D_lrate_dict`, one rate for both). Left out of snapshots
    /// when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub lr_per_res: BTreeMap<usize, f32>,
    /// The release's learning-rate ramp-up: the rate is scaled by
    /// `min(cur_nimg / (lr_rampup_kimg * 1000), 1)`; 0 (the default) is off. Left out of
    /// snapshots when 0.
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub lr_rampup_kimg: f32,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_f32(v: &f32) -> bool {
    *v == 0.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch: 16,
            gamma: 10.0,
            lr: None,
            style_mixing_prob: 0.9,
            g_ema_kimg: 10.0,
            seed: 0,
            mirror: false,
            progressive: false,
            lod_training_kimg: 600.0,
            lod_transition_kimg: 600.0,
            freeze_d: 0,
            lr_per_res: BTreeMap::new(),
            lr_rampup_kimg: 0.0,
        }
    }
}

/// Largest minibatch a run accepts (the CLI's `--batch` bound): its host buffers are sized
/// before the dataset is read.
pub const MAX_BATCH: usize = 4096;

impl TrainConfig {
    /// Every setting finite and in range, named as the CLI's flag: `--lr nan` or `--ema-kimg
    /// nan` would otherwise run to "training diverged" or to an all-NaN Gs.
    pub fn validate(&self) -> Result<()> {
        let bad = |flag: &str, v: f32, range: &str| {
            Err(Error::Invalid(format!("{flag} {v}: must be {range}")))
        };
        let finite_in = |v: f32, lo: f32, hi: f32| v.is_finite() && v >= lo && v <= hi;
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(Error::Invalid(format!(
                "--batch {}: must be 1 to {MAX_BATCH}",
                self.batch
            )));
        }
        if !finite_in(self.gamma, 0.0, 1e6) {
            return bad("--gamma", self.gamma, "finite, 0 to 1e6");
        }
        if let Some(lr) = self.lr {
            if !(finite_in(lr, 0.0, 10.0) && lr > 0.0) {
                return bad("--lr", lr, "finite, greater than 0 and at most 10");
            }
        }
        if !finite_in(self.style_mixing_prob, 0.0, 1.0) {
            return bad("style_mixing_prob", self.style_mixing_prob, "0 to 1");
        }
        for (&res, &lr) in &self.lr_per_res {
            let ok = finite_in(lr, 0.0, 10.0) && lr > 0.0 && res.is_power_of_two() && res >= 4;
            if !ok {
                return Err(Error::Invalid(format!(
                    "--lr-per-res {res}:{lr}: a power-of-two resolution >= 4 and a finite rate \
                     greater than 0 and at most 10"
                )));
            }
        }
        for (flag, v) in [
            ("--lr-rampup-kimg", self.lr_rampup_kimg),
            ("--ema-kimg", self.g_ema_kimg),
            ("--lod-training-kimg", self.lod_training_kimg),
            ("--lod-transition-kimg", self.lod_transition_kimg),
        ] {
            if !finite_in(v, 0.0, 1e6) {
                return bad(flag, v, "finite, 0 to 1e6");
            }
        }
        Ok(())
    }

    /// Whether `--freeze-d` keeps D's variable `name` frozen in a network of `cfg`: the
    /// FromRGB layers and the blocks of the `freeze_d` highest resolutions.
    pub fn d_frozen(&self, cfg: &Config, name: &str) -> bool {
        let r = cfg.log2_res();
        (0..self.freeze_d.min(r.saturating_sub(2))).any(|i| {
            let side = 1usize << (r - i);
            name.starts_with(&format!("{side}x{side}/"))
                || name.starts_with(&format!("FromRGB_lod{i}/"))
        })
    }

    /// The settings stored in a training snapshot (its `train_config` metadata).
    pub fn of_snapshot(snapshot: &Checkpoint) -> Result<TrainConfig> {
        let text = snapshot.metadata.get("train_config").ok_or_else(|| {
            Error::Invalid("snapshot has no 'train_config': not a training snapshot".into())
        })?;
        serde_json::from_str(text)
            .map_err(|e| Error::Invalid(format!("snapshot train_config: {e}")))
    }

    /// Official learning rate at `resolution` (FFHQ config): 0.0015 at 128, 0.002 at 256,
    /// 0.003 at 512 and 1024, else 0.001.
    pub fn learning_rate(&self, resolution: usize) -> f32 {
        if let Some(&lr) = self.lr_per_res.get(&resolution) {
            return lr;
        }
        self.lr.unwrap_or(match resolution {
            128 => 0.0015,
            256 => 0.002,
            512 | 1024 => 0.003,
            _ => 0.001,
        })
    }

    /// The learning rate of a step at `resolution` after `cur_nimg` images:
    /// `learning_rate`, ramped up over the first `lr_rampup_kimg` (the release's
    /// `lrate_rampup_kimg`), in f64 as the release computes it.
    pub fn learning_rate_at(&self, resolution: usize, cur_nimg: u64) -> f32 {
        let lr = self.learning_rate(resolution);
        if self.lr_rampup_kimg > 0.0 {
            let ramp = (cur_nimg as f64 / (self.lr_rampup_kimg as f64 * 1000.0)).min(1.0);
            return (lr as f64 * ramp) as f32;
        }
        lr
    }

    /// Level of detail and training resolution after `cur_nimg` images: the official schedule
    /// when progressive, else `lod = 0` at the full resolution.
    pub fn schedule(&self, cfg: &Config, cur_nimg: u64) -> LodSchedule {
        if self.progressive {
            lod_schedule(
                cfg.log2_res(),
                cur_nimg,
                self.lod_training_kimg as f64,
                self.lod_transition_kimg as f64,
            )
        } else {
            LodSchedule {
                lod: 0.0,
                resolution: cfg.resolution,
            }
        }
    }

    /// Gs moving-average coefficient per minibatch: `0.5^(batch / (g_ema_kimg * 1000))`.
    pub fn ema_beta(&self) -> f32 {
        if self.g_ema_kimg <= 0.0 {
            0.0
        } else {
            0.5f64.powf(self.batch as f64 / (self.g_ema_kimg as f64 * 1000.0)) as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rates_per_resolution_and_ramp_up() {
        let mut tc = TrainConfig::default();
        // The official defaults, then --lr over them, then a per-resolution rate over both.
        assert_eq!(tc.learning_rate(256), 0.002);
        tc.lr = Some(0.01);
        assert_eq!(tc.learning_rate(256), 0.01);
        tc.lr_per_res.insert(256, 0.0015);
        assert_eq!(
            (tc.learning_rate(256), tc.learning_rate(128)),
            (0.0015, 0.01)
        );
        // The release's ramp-up: linear in images over lr_rampup_kimg, then flat.
        assert_eq!(tc.learning_rate_at(256, 500), 0.0015);
        tc.lr_rampup_kimg = 2.0;
        assert_eq!(tc.learning_rate_at(256, 0), 0.0);
        assert_eq!(tc.learning_rate_at(256, 500), (0.0015f64 * 0.25) as f32);
        assert_eq!(tc.learning_rate_at(256, 4000), 0.0015);
        assert!(tc.validate().is_ok());
        tc.lr_per_res.insert(48, 0.001);
        let e = tc.validate().unwrap_err().to_string();
        assert!(e.contains("--lr-per-res 48:0.001"), "{e}");
        // Defaults stay out of snapshots (their metadata is unchanged).
        let json = serde_json::to_string(&TrainConfig::default()).unwrap();
        assert!(
            !json.contains("lr_per_res")
                && !json.contains("lr_rampup")
                && !json.contains("freeze_d"),
            "{json}"
        );
    }
}
