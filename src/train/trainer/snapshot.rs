//! Snapshots: everything a run needs to continue exactly (G, D, Gs, Adam moments, counters,
//! configs) as a [`Checkpoint`], and a trainer back from one.

use std::collections::BTreeMap;

use super::{TrainState, Trainer};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::io::safetensors::Checkpoint;
use crate::train::config::TrainConfig;

impl Trainer {
    /// Everything needed to continue exactly: G, D, Gs, Adam moments, counters, config.
    pub fn snapshot(&self) -> Result<Checkpoint> {
        let mut nets = BTreeMap::new();
        nets.insert("G".to_string(), self.g.params.download()?);
        nets.insert("D".to_string(), self.d.params.download()?);
        nets.insert("Gs".to_string(), self.gs.params.download()?);
        let (gm, gv) = self.g_opt.download()?;
        let (dm, dv) = self.d_opt.download()?;
        nets.insert("G_adam_m".to_string(), gm);
        nets.insert("G_adam_v".to_string(), gv);
        nets.insert("D_adam_m".to_string(), dm);
        nets.insert("D_adam_v".to_string(), dv);
        let mut metadata = BTreeMap::new();
        metadata.insert(
            "train_config".to_string(),
            serde_json::to_string(&self.tc).expect("serializes"),
        );
        metadata.insert(
            "train_state".to_string(),
            serde_json::to_string(&self.state).expect("serializes"),
        );
        Ok(Checkpoint {
            config: self.cfg.clone(),
            nets,
            metadata,
        })
    }

    /// Fine-tuning: a fresh trainer (step 0, zero Adam moments) whose G, D and Gs are
    /// `model`'s and whose settings are `tc`. A model without G (a generator-only file, e.g. a
    /// conversion with `--only Gs` or the embedded model) starts G as a copy of its Gs; one
    /// without D starts D from the official initialization (seed `tc.seed`, as a new run).
    pub fn fine_tune(gpu: &Gpu, model: &Checkpoint, tc: &TrainConfig) -> Result<Trainer> {
        let gs = model.nets.get("Gs").ok_or_else(|| {
            Error::Invalid(
                "the model has no network 'Gs': fine-tuning starts from a model's generator \
                 (an official pickle, or a conversion of it)"
                    .into(),
            )
        })?;
        let g = model.nets.get("G").unwrap_or(gs);
        let cfg = &model.config;
        cfg.validate()?;
        crate::nn::memory::check_weights_fit(cfg, Some(gpu.max_tensor_bytes()))?;
        let fresh_d;
        let d = match model.nets.get("D") {
            Some(d) => d,
            None => {
                fresh_d = crate::nn::params::init_host(
                    &crate::nn::params::discriminator_specs(cfg),
                    tc.seed.wrapping_add(2),
                );
                &fresh_d
            }
        };
        Trainer::from_weights(gpu, cfg, tc, g, d, gs, super::TrainState::default())
    }

    /// Continues a run from `snapshot` (as written by `snapshot`).
    pub fn resume(gpu: &Gpu, snapshot: &Checkpoint) -> Result<Trainer> {
        let meta = |k: &str| {
            snapshot.metadata.get(k).ok_or_else(|| {
                Error::Invalid(format!("snapshot has no '{k}': not a training snapshot"))
            })
        };
        let tc = TrainConfig::of_snapshot(snapshot)?;
        let state: TrainState = serde_json::from_str(meta("train_state")?)
            .map_err(|e| Error::Invalid(format!("snapshot train_state: {e}")))?;
        let net = |k: &str| {
            snapshot
                .nets
                .get(k)
                .ok_or_else(|| Error::Invalid(format!("snapshot has no network '{k}'")))
        };
        let mut t = Trainer::from_weights(
            gpu,
            &snapshot.config,
            &tc,
            net("G")?,
            net("D")?,
            net("Gs")?,
            state,
        )?;
        t.g_opt
            .upload(gpu, net("G_adam_m")?, net("G_adam_v")?, "G_adam")?;
        t.d_opt
            .upload(gpu, net("D_adam_m")?, net("D_adam_v")?, "D_adam")?;
        Ok(t)
    }
}
