//! The optimizer state of one network: Adam's first and second moments, laid out like the
//! network's flat parameter buffers (`nn::flat`), stepped with one dispatch per buffer, reset
//! (progressive training) and moved to and from snapshots by variable name.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::flat::{self, Chunk};
use crate::nn::params::{HostTensor, HostWeights, ParamSet};
use crate::tape::Var;
use crate::train::optim::{adam_range, AdamConfig, AdamSlot};

/// Adam's moments of the trainable variables in one flat buffer, and the buffer the step's
/// gradients are gathered into (its padding stays zero).
struct FlatSlot {
    chunk: Chunk,
    slot: AdamSlot,
    grad: Tensor,
}

/// Adam's moments of every trainable variable of one network.
pub(super) struct AdamState {
    flats: Vec<FlatSlot>,
    /// Name and shape of each trainable variable, in spec order (the order of the gradients
    /// `step` takes), with its buffer and segment.
    vars: Vec<(String, Vec<usize>, usize, flat::Segment)>,
}

impl AdamState {
    pub(super) fn new(p: &ParamSet) -> Result<AdamState> {
        let mut flats = Vec::new();
        let mut vars = Vec::new();
        for (k, (chunk, values)) in p.chunks().enumerate() {
            let zeros = || Tensor::zeros(values.gpu(), &[chunk.len]);
            for seg in chunk.segs.iter().filter(|s| s.offset < chunk.trainable_end) {
                let spec = &p.specs()[seg.spec];
                // Scalars are stored as [1].
                let shape = if spec.shape.is_empty() {
                    vec![1]
                } else {
                    spec.shape.clone()
                };
                vars.push((spec.name.clone(), shape, k, seg.clone()));
            }
            flats.push(FlatSlot {
                chunk: chunk.clone(),
                slot: AdamSlot {
                    m: zeros()?,
                    v: zeros()?,
                },
                grad: zeros()?,
            });
        }
        // Spec order, as `ParamSet::trainable` lists the variables.
        vars.sort_by_key(|v| v.3.spec);
        Ok(AdamState { flats, vars })
    }

    /// One update of every variable with a gradient (`grads` in `ParamSet::trainable`
    /// order): the gradients are copied into the flat gradient buffers, then each buffer's
    /// runs of variables with a gradient (all of them, unless some got none) take one
    /// dispatch each. A variable without a gradient keeps its value and moments.
    pub(super) fn step(
        &self,
        p: &ParamSet,
        grads: &[Option<Var>],
        c: &AdamConfig,
        t: u64,
    ) -> Result<()> {
        if grads.len() != self.vars.len() {
            return Err(Error::Invalid(format!(
                "Adam: {} gradients for {} variables",
                grads.len(),
                self.vars.len()
            )));
        }
        let mut present = vec![false; p.specs().len()];
        for ((_, shape, k, seg), g) in self.vars.iter().zip(grads) {
            if let Some(g) = g {
                let dst = self.flats[*k].grad.view(seg.offset, shape)?;
                dst.copy_from(g.value())?;
                present[seg.spec] = true;
            }
        }
        for (f, (_, values)) in self.flats.iter().zip(p.chunks()) {
            for range in flat::runs(&f.chunk, |s| present[s.spec]) {
                adam_range(values, &f.grad, &f.slot, c, t, range)?;
            }
        }
        Ok(())
    }

    /// Zeroes the moments (the official `reset_optimizer_state`).
    pub(super) fn reset(&mut self) -> Result<()> {
        for f in self.flats.iter_mut() {
            f.slot = AdamSlot::zeros(&f.slot.m)?;
        }
        Ok(())
    }

    pub(super) fn download(&self) -> Result<(HostWeights, HostWeights)> {
        let (mut m, mut v) = (HostWeights::new(), HostWeights::new());
        let host: Vec<(Vec<f32>, Vec<f32>)> = self
            .flats
            .iter()
            .map(|f| Ok((f.slot.m.to_vec()?, f.slot.v.to_vec()?)))
            .collect::<Result<_>>()?;
        for (name, shape, k, seg) in &self.vars {
            let part = |x: &[f32]| HostTensor {
                shape: shape.clone(),
                data: x[seg.offset..seg.offset + seg.numel].to_vec(),
            };
            m.insert(name.clone(), part(&host[*k].0));
            v.insert(name.clone(), part(&host[*k].1));
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
        let mut host: Vec<(Vec<f32>, Vec<f32>)> = self
            .flats
            .iter()
            .map(|f| (vec![0.0; f.chunk.len], vec![0.0; f.chunk.len]))
            .collect();
        for (name, shape, k, seg) in &self.vars {
            let get = |w: &'_ HostWeights, key: &str| -> Result<Vec<f32>> {
                w.get(name)
                    .filter(|t| t.shape == *shape && t.data.len() == seg.numel)
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "snapshot: optimizer state {what}_{key}/{name} missing or misshapen"
                        ))
                    })
                    .map(|t| t.data.clone())
            };
            let range = seg.offset..seg.offset + seg.numel;
            host[*k].0[range.clone()].copy_from_slice(&get(m, "m")?);
            host[*k].1[range].copy_from_slice(&get(v, "v")?);
        }
        for (f, (hm, hv)) in self.flats.iter_mut().zip(host) {
            f.slot.m = Tensor::from_slice(gpu, &[f.chunk.len], &hm)?;
            f.slot.v = Tensor::from_slice(gpu, &[f.chunk.len], &hv)?;
        }
        Ok(())
    }
}
