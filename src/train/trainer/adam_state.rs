//! The optimizer state of one network: Adam's first and second moments per trainable
//! variable, stepped, reset (progressive training) and moved to and from snapshots.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::params::{HostTensor, HostWeights, ParamSet};
use crate::tape::Var;
use crate::train::optim::{adam_step, AdamConfig, AdamSlot};

/// Adam's moments of every trainable variable of one network.
pub(super) struct AdamState {
    slots: Vec<AdamSlot>,
    names: Vec<String>,
}

impl AdamState {
    pub(super) fn new(p: &ParamSet) -> Result<AdamState> {
        let tr = p.trainable();
        Ok(AdamState {
            slots: tr
                .iter()
                .map(|(_, v)| AdamSlot::zeros(v.value()))
                .collect::<Result<_>>()?,
            names: tr.into_iter().map(|(n, _)| n).collect(),
        })
    }

    pub(super) fn step(
        &self,
        p: &ParamSet,
        grads: &[Option<Var>],
        c: &AdamConfig,
        t: u64,
    ) -> Result<()> {
        for ((name, slot), g) in self.names.iter().zip(&self.slots).zip(grads) {
            if let Some(g) = g {
                adam_step(p.get(name)?.value(), g.value(), slot, c, t)?;
            }
        }
        Ok(())
    }

    /// Zeroes the moments (the official `reset_optimizer_state`).
    pub(super) fn reset(&mut self) -> Result<()> {
        for s in self.slots.iter_mut() {
            *s = AdamSlot::zeros(&s.m)?;
        }
        Ok(())
    }

    pub(super) fn download(&self) -> Result<(HostWeights, HostWeights)> {
        let (mut m, mut v) = (HostWeights::new(), HostWeights::new());
        for (name, s) in self.names.iter().zip(&self.slots) {
            m.insert(
                name.clone(),
                HostTensor {
                    shape: s.m.shape().to_vec(),
                    data: s.m.to_vec()?,
                },
            );
            v.insert(
                name.clone(),
                HostTensor {
                    shape: s.v.shape().to_vec(),
                    data: s.v.to_vec()?,
                },
            );
        }
        Ok((m, v))
    }

    pub(super) fn upload(
        &mut self,
        gpu: &Gpu,
        m: &HostWeights,
        v: &HostWeights,
        what: &str,
    ) -> Result<()> {
        for (name, s) in self.names.iter().zip(self.slots.iter_mut()) {
            let get = |w: &HostWeights, k: &str| {
                w.get(name)
                    .filter(|t| t.shape == s.m.shape())
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "snapshot: optimizer state {what}_{k}/{name} missing or misshapen"
                        ))
                    })
                    .cloned()
            };
            let (mt, vt) = (get(m, "m")?, get(v, "v")?);
            s.m = Tensor::from_slice(gpu, &mt.shape, &mt.data)?;
            s.v = Tensor::from_slice(gpu, &vt.shape, &vt.data)?;
        }
        Ok(())
    }
}
