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
    /// The global minibatch per training resolution, over `batch` (the release's
    /// `minibatch_dict`; `batch` is its `minibatch_base`): with `progressive`, each level of
    /// detail takes its resolution's. Left out of snapshots when empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub batch_per_res: BTreeMap<usize, usize>,
    /// Learning-rate multiplier of G's noise strengths (`*/Noise/weight`), 0 to 1: below 1
    /// they follow the data more slowly than the convolutions (a candidate against the finest
    /// layer's noise over-used early in training; `assets/README.md`). 1, the default and the
    /// release's, is left out of snapshots.
    #[serde(skip_serializing_if = "is_one_f32")]
    pub noise_lrmul: f32,
    /// Decoupled weight decay of G's noise strengths (AdamW's, `AdamConfig::decay`): each G
    /// step multiplies them by `1 - lr * noise_lrmul * noise_decay` before Adam's update, so
    /// they settle where the data pushes them up as hard as the decay pulls them down (a
    /// candidate against the finest layer's mesh texture; `assets/README.md`). 0, the default
    /// and the release's, is left out of snapshots.
    #[serde(skip_serializing_if = "is_zero_f32")]
    pub noise_decay: f32,
}

fn is_one_f32(v: &f32) -> bool {
    *v == 1.0
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
            batch_per_res: BTreeMap::new(),
            noise_lrmul: 1.0,
            noise_decay: 0.0,
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
        if !finite_in(self.noise_lrmul, 0.0, 1.0) {
            return bad("--noise-lrmul", self.noise_lrmul, "finite, 0 to 1");
        }
        // A bound against typos: the step's factor 1 - lr * decay must stay well above 0.
        if !finite_in(self.noise_decay, 0.0, 100.0) {
            return bad("--noise-decay", self.noise_decay, "finite, 0 to 100");
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
        for (&res, &n) in &self.batch_per_res {
            if !(res.is_power_of_two() && res >= 4 && (1..=MAX_BATCH).contains(&n)) {
                return Err(Error::Invalid(format!(
                    "--batch-per-res {res}:{n}: a power-of-two resolution >= 4 and a minibatch \
                     of 1 to {MAX_BATCH}"
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

    /// The minibatch-stddev rule for every minibatch the run may take, in a network of `cfg`:
    /// D groups min(group, n) images, so `batch` and each `batch_per_res` entry must be 1 to
    /// the group size or a multiple of it. Errors name the flag and the entry.
    pub fn check_batches(&self, cfg: &Config) -> Result<()> {
        let group = cfg.mbstd_group_size;
        let fits = |n: usize| n >= 1 && (group <= 1 || n <= group || n.is_multiple_of(group));
        let rule = format!(
            "must be 1 to {group} or a multiple of {group} (the discriminator's minibatch-stddev \
             groups are min({group}, batch) images)"
        );
        if !fits(self.batch) {
            return Err(Error::Invalid(format!("--batch {}: {rule}", self.batch)));
        }
        for (&res, &n) in &self.batch_per_res {
            if !fits(n) {
                return Err(Error::Invalid(format!("--batch-per-res {res}:{n}: {rule}")));
            }
        }
        Ok(())
    }

    /// The global minibatch at training resolution `resolution`: its `batch_per_res` entry,
    /// else `batch` (the release's `minibatch_dict.get(res, minibatch_base)`).
    pub fn batch_at(&self, resolution: usize) -> usize {
        self.batch_per_res
            .get(&resolution)
            .copied()
            .unwrap_or(self.batch)
    }

    /// The global minibatch at `resolution` of a run shared by `ranks` processes whose
    /// discriminator groups `group` images: `batch_at`, with a `batch_per_res` entry rounded
    /// down as the release does for its GPUs (`minibatch -= minibatch % num_gpus`), and further
    /// to whole minibatch-stddev groups per rank when a rank's share is larger than one group
    /// (the release could not group it either). The release's tables are for 8 GPUs, so a
    /// table entry meets other rank counts this way; `batch` itself is taken as given (it must
    /// split evenly, `dist::shard_rows`). With one rank this is `batch_at`.
    pub fn batch_for_ranks(&self, resolution: usize, ranks: usize, group: usize) -> usize {
        let n = self.batch_at(resolution);
        if ranks <= 1 || !self.batch_per_res.contains_key(&resolution) || n < ranks {
            return n;
        }
        let local = n / ranks;
        let g = group.max(1);
        let local = if local > g { local - local % g } else { local };
        local * ranks
    }

    /// The training resolutions a run of `cfg` passes through: 4 to the network's resolution
    /// when progressive, else the network's resolution.
    pub fn resolutions(&self, cfg: &Config) -> Vec<usize> {
        if self.progressive {
            (2..=cfg.log2_res()).map(|r| 1usize << r).collect()
        } else {
            vec![cfg.resolution]
        }
    }

    /// Where the step before the one that starts at `cur_nimg` started: the minibatch changes
    /// with the resolution, so this walks the run's steps from 0 a resolution at a time (the
    /// steps within one are evenly spaced). `batch(resolution)` is the global minibatch.
    pub fn previous_step_nimg(
        &self,
        cfg: &Config,
        cur_nimg: u64,
        batch: impl Fn(usize) -> usize,
    ) -> u64 {
        let res_at = |nimg: u64| self.schedule(cfg, nimg).resolution;
        let mut pos = 0u64;
        loop {
            let res = res_at(pos);
            let b = batch(res).max(1) as u64;
            if cur_nimg <= pos {
                return cur_nimg.saturating_sub(b);
            }
            // Steps `pos + j * b`; the first at another resolution starts the next stretch.
            let last = (cur_nimg - pos).div_ceil(b);
            if res_at(pos + last * b) == res {
                return cur_nimg.saturating_sub(b);
            }
            // The resolution only grows with the images shown: bisect for the first step at
            // another one, in (0, last].
            let (mut lo, mut hi) = (0u64, last);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if res_at(pos + mid * b) == res {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let next = pos + hi * b;
            if next >= cur_nimg {
                return cur_nimg.saturating_sub(b);
            }
            pos = next;
        }
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

    /// Gs moving-average coefficient of a step on a minibatch of `minibatch` images (the
    /// step's own, which `batch_per_res` may vary): `0.5^(minibatch / (g_ema_kimg * 1000))`,
    /// the release's `G_smoothing`.
    pub fn ema_beta(&self, minibatch: usize) -> f32 {
        if self.g_ema_kimg <= 0.0 {
            0.0
        } else {
            0.5f64.powf(minibatch as f64 / (self.g_ema_kimg as f64 * 1000.0)) as f32
        }
    }

    /// The release's FFHQ schedule (`train.py`, 8 GPUs): `minibatch_base` 32 as `batch`,
    /// `minibatch_dict` `{4: 512, 8: 256, 16: 128, 32: 64, 64: 32}` as `batch_per_res` (global
    /// minibatches, rounded for other rank counts by `batch_for_ranks`) and `G_lrate_dict` =
    /// `D_lrate_dict` `{128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003}` as `lr_per_res`;
    /// every other setting the default's.
    pub fn ffhq_schedule() -> TrainConfig {
        TrainConfig {
            batch: 32,
            batch_per_res: [(4, 512), (8, 256), (16, 128), (32, 64), (64, 32)].into(),
            lr_per_res: [(128, 0.0015), (256, 0.002), (512, 0.003), (1024, 0.003)].into(),
            ..TrainConfig::default()
        }
    }

    /// A schedule preset by name (`ffhq`, `TrainConfig::ffhq_schedule`), `None` for a name
    /// that has none: the architecture presets `fmnist` and `tiny` keep the defaults.
    pub fn schedule_preset(name: &str) -> Option<TrainConfig> {
        match name {
            "ffhq" => Some(TrainConfig::ffhq_schedule()),
            _ => None,
        }
    }

    /// The minibatch and learning-rate schedule in words, e.g. `batch 32, per resolution
    /// 4:512,8:256; lr per resolution 128:0.0015` (what the flags would say).
    pub fn describe_schedule(&self) -> String {
        let mut s = format!("batch {}", self.batch);
        if !self.batch_per_res.is_empty() {
            s += &format!(", per resolution {}", res_list(&self.batch_per_res));
        }
        if let Some(lr) = self.lr {
            s += &format!("; lr {lr}");
        }
        if !self.lr_per_res.is_empty() {
            s += &format!("; lr per resolution {}", res_list(&self.lr_per_res));
        }
        s
    }
}

/// `RES:VALUE,...`, as the flags take them.
fn res_list<T: std::fmt::Display>(m: &BTreeMap<usize, T>) -> String {
    m.iter()
        .map(|(r, v)| format!("{r}:{v}"))
        .collect::<Vec<_>>()
        .join(",")
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
                && !json.contains("freeze_d")
                && !json.contains("batch_per_res")
                && !json.contains("noise_lrmul")
                && !json.contains("noise_decay"),
            "{json}"
        );
        // The noise knobs are kept when set, so --resume goes on with them.
        let tc = TrainConfig {
            noise_lrmul: 0.1,
            noise_decay: 1.0,
            ..TrainConfig::default()
        };
        let json = serde_json::to_string(&tc).unwrap();
        assert!(json.contains(r#""noise_decay":1.0"#), "{json}");
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), tc);
    }

    #[test]
    fn minibatch_per_resolution() {
        let tc = TrainConfig {
            batch: 8,
            batch_per_res: [(4, 64), (16, 2)].into(),
            ..TrainConfig::default()
        };
        assert_eq!(
            [4, 8, 16, 32].map(|r| tc.batch_at(r)),
            [64, 8, 2, 8],
            "an entry, else --batch"
        );
        assert!(tc.validate().is_ok());
        // Stored in snapshots when set, and read back.
        let json = serde_json::to_string(&tc).unwrap();
        assert!(
            json.contains(r#""batch_per_res":{"4":64,"16":2}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), tc);
        // The release's FFHQ tables, and its rounding for the number of GPUs: the tables are
        // global minibatches for 8; --batch (minibatch_base) is taken as given.
        let ffhq = TrainConfig::ffhq_schedule();
        assert_eq!(TrainConfig::schedule_preset("ffhq"), Some(ffhq.clone()));
        assert_eq!(TrainConfig::schedule_preset("fmnist"), None);
        let at =
            |ranks: usize| [4, 8, 16, 32, 64, 128, 1024].map(|r| ffhq.batch_for_ranks(r, ranks, 4));
        assert_eq!(at(1), [512, 256, 128, 64, 32, 32, 32]);
        assert_eq!(at(8), [512, 256, 128, 64, 32, 32, 32]);
        // 3 ranks: 512 -> 510 (% 3) -> 170 a rank -> 168 (whole groups of 4) -> 504; 32 at
        // 64 -> 30 -> 10 a rank -> 8 -> 24.
        assert_eq!(at(3), [504, 252, 120, 60, 24, 32, 32]);
        // 6 ranks at 64: 32 -> 30 -> 5 a rank -> 4, 24 in all; an entry below the rank count
        // is left for the split to refuse.
        assert_eq!(ffhq.batch_for_ranks(64, 6, 4), 24);
        let small = TrainConfig {
            batch_per_res: [(4, 2)].into(),
            ..TrainConfig::default()
        };
        assert_eq!(small.batch_for_ranks(4, 4, 4), 2);
        assert_eq!(
            ffhq.describe_schedule(),
            "batch 32, per resolution 4:512,8:256,16:128,32:64,64:32; lr per resolution \
             128:0.0015,256:0.002,512:0.003,1024:0.003"
        );
        assert!(ffhq.validate().is_ok());
    }

    #[test]
    fn minibatch_entries_are_checked() {
        let with = |res: usize, n: usize| TrainConfig {
            batch_per_res: [(res, n)].into(),
            ..TrainConfig::default()
        };
        for (res, n) in [(12, 4), (2, 4), (8, 0), (8, MAX_BATCH + 1)] {
            let e = with(res, n).validate().unwrap_err().to_string();
            assert!(e.contains(&format!("--batch-per-res {res}:{n}:")), "{e}");
        }
        let cfg = Config::default();
        assert!(with(8, 4).check_batches(&cfg).is_ok());
        assert!(with(8, 3).check_batches(&cfg).is_ok(), "one group of 3");
        assert!(with(8, 12).check_batches(&cfg).is_ok());
        let e = with(8, 6).check_batches(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("--batch-per-res 8:6: must be 1 to 4 or a multiple of 4"),
            "{e}"
        );
        let e = TrainConfig {
            batch: 10,
            ..TrainConfig::default()
        }
        .check_batches(&cfg)
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--batch 10: must be 1 to 4"), "{e}");
    }

    #[test]
    fn ema_beta_follows_the_minibatch() {
        let tc = TrainConfig {
            g_ema_kimg: 10.0,
            ..TrainConfig::default()
        };
        // The release's G_smoothing: 0.5 ** (minibatch / (G_smoothing_kimg * 1000)).
        assert_eq!(tc.ema_beta(32), 0.5f64.powf(32.0 / 10_000.0) as f32);
        assert_eq!(tc.ema_beta(512), 0.5f64.powf(512.0 / 10_000.0) as f32);
        assert!(tc.ema_beta(512) < tc.ema_beta(32));
        // Half-lives add up: 2 steps of 16 decay as one of 32 (to float rounding).
        assert!((tc.ema_beta(16).powi(2) - tc.ema_beta(32)).abs() < 1e-6);
    }

    /// The step before each step of a run whose minibatch changes with the resolution, found
    /// without the run's history, is the one the run took.
    #[test]
    fn previous_step_is_found_across_minibatch_changes() {
        let cfg = Config {
            resolution: 64,
            progressive: true,
            ..Config::default()
        };
        for (training, transition, per_res) in [
            (0.05, 0.05, vec![(4, 16), (8, 12), (16, 8), (32, 4)]),
            (0.037, 0.023, vec![(4, 3), (8, 16), (32, 7)]),
            (0.04, 0.0, vec![(4, 12), (16, 5)]),
            (0.05, 0.05, vec![]),
        ] {
            let tc = TrainConfig {
                batch: 2,
                progressive: true,
                lod_training_kimg: training,
                lod_transition_kimg: transition,
                batch_per_res: per_res.into_iter().collect(),
                ..TrainConfig::default()
            };
            let batch = |r: usize| tc.batch_at(r);
            let mut starts = vec![0u64];
            while *starts.last().unwrap() < 600 {
                let pos = *starts.last().unwrap();
                starts.push(pos + batch(tc.schedule(&cfg, pos).resolution) as u64);
            }
            let changes = starts
                .windows(2)
                .filter(|w| {
                    let b = |n| batch(tc.schedule(&cfg, n).resolution);
                    b(w[0]) != b(w[1])
                })
                .count();
            for w in starts.windows(2) {
                assert_eq!(
                    tc.previous_step_nimg(&cfg, w[1], batch),
                    w[0],
                    "{:?}: the step before the one at {}",
                    tc.batch_per_res,
                    w[1]
                );
            }
            assert!(
                changes >= tc.batch_per_res.len().min(1),
                "the minibatch changes {changes} times"
            );
        }
    }
}
