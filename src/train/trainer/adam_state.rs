//! The optimizer state of one network: Adam's first and second moments, laid out like the
//! network's flat parameter buffers (`nn::flat`), stepped with one dispatch per buffer, reset
//! (progressive training) and moved to and from snapshots by variable name.

use crate::autodiff::sum_parts;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::flat::{self, Chunk};
use crate::nn::params::{HostTensor, HostWeights, ParamSet};
use crate::tape::Var;
use crate::train::optim::{adam_range_parts, AdamConfig, AdamSlot};

/// Adam's moments of the trainable variables in one flat buffer, and the buffer the step's
/// gradients are gathered into: `parts` copies of the chunk's layout, the k-th holding each
/// variable's k-th gradient part (`autodiff::grad_parts`), which the update adds left to right.
/// Where a variable has fewer parts, the rest of its slots hold -0.0 (`x + -0 = x` for every
/// x), written only when they held something else.
struct FlatSlot {
    chunk: Chunk,
    slot: AdamSlot,
    grad: Tensor,
    parts: usize,
    /// `neutral[s][k]`: segment `s`'s slot `k` holds -0.0.
    neutral: Vec<Vec<bool>>,
}

impl FlatSlot {
    /// Makes room for `parts` gradient parts (a buffer of -0.0, refilled as they arrive).
    fn ensure_parts(&mut self, gpu: &Gpu, parts: usize) -> Result<()> {
        if parts <= self.parts {
            return Ok(());
        }
        let len = self.chunk.len;
        self.grad = Tensor::from_slice(gpu, &[parts * len], &vec![-0.0; parts * len])?;
        self.parts = parts;
        self.neutral = vec![vec![true; parts]; self.chunk.segs.len()];
        Ok(())
    }
}

/// Adam's moments of every trainable variable of one network.
pub(super) struct AdamState {
    flats: Vec<FlatSlot>,
    /// Name and shape of each trainable variable, in spec order (the order of the gradients
    /// `step` takes), with its buffer and its segment's index there.
    vars: Vec<(String, Vec<usize>, usize, usize)>,
    /// -0.0 for the largest variable, copied into the gradient slots a variable does not fill.
    neg_zero: Tensor,
    /// Learning-rate multiplier per variable, by spec index (1 unless `set_lr_mul` says).
    lr_mul: Vec<f32>,
    /// AdamW's decoupled weight decay per variable, by spec index (0 unless `set_decay` says).
    decay: Vec<f32>,
}

impl AdamState {
    pub(super) fn new(p: &ParamSet) -> Result<AdamState> {
        let mut flats = Vec::new();
        let mut vars = Vec::new();
        let mut largest = 1;
        let mut gpu = None;
        for (k, (chunk, values)) in p.chunks().enumerate() {
            let zeros = || Tensor::zeros(values.gpu(), &[chunk.len]);
            for (j, seg) in chunk.segs.iter().enumerate() {
                if seg.offset >= chunk.trainable_end {
                    continue;
                }
                let spec = &p.specs()[seg.spec];
                // Scalars are stored as [1].
                let shape = if spec.shape.is_empty() {
                    vec![1]
                } else {
                    spec.shape.clone()
                };
                largest = largest.max(seg.numel);
                vars.push((spec.name.clone(), shape, k, j));
            }
            flats.push(FlatSlot {
                chunk: chunk.clone(),
                slot: AdamSlot {
                    m: zeros()?,
                    v: zeros()?,
                },
                grad: zeros()?,
                parts: 1,
                neutral: vec![vec![false]; chunk.segs.len()],
            });
            gpu = Some(values.gpu().clone());
        }
        // Spec order, as `ParamSet::trainable` lists the variables.
        vars.sort_by_key(|v| flats[v.2].chunk.segs[v.3].spec);
        let neg_zero = match gpu {
            Some(g) => Tensor::from_slice(&g, &[largest], &vec![-0.0; largest])?,
            None => return Err(Error::Invalid("Adam: a network without variables".into())),
        };
        Ok(AdamState {
            flats,
            vars,
            neg_zero,
            lr_mul: vec![1.0; p.specs().len()],
            decay: vec![0.0; p.specs().len()],
        })
    }

    /// Each variable's learning rate times `mul(name)`: the variables of one multiplier that
    /// lie together in a buffer still take one dispatch.
    pub(super) fn set_lr_mul(&mut self, p: &ParamSet, mul: impl Fn(&str) -> f32) {
        self.lr_mul = p.specs().iter().map(|s| mul(&s.name)).collect();
    }

    /// Each variable's decoupled weight decay (`AdamConfig::decay`): `decay(name)`.
    pub(super) fn set_decay(&mut self, p: &ParamSet, decay: impl Fn(&str) -> f32) {
        self.decay = p.specs().iter().map(|s| decay(&s.name)).collect();
    }

    /// One update of every variable with a gradient. `grads[i]` are the parts of variable i's
    /// gradient (`ParamSet::trainable` order) in the order `autodiff::grad_parts` gives them;
    /// they are copied into the gradient slots, then each buffer's runs of variables with a
    /// gradient (all of them, unless some got none) take one dispatch each, which also adds
    /// the parts. A variable without a gradient keeps its value and moments.
    pub(super) fn step(
        &mut self,
        p: &ParamSet,
        grads: &[Vec<Var>],
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
        let gpu = self.neg_zero.gpu().clone();
        // As many slots as the most parts a variable has, as far as the adapter's largest
        // buffer holds them; a variable with more parts adds its first ones beforehand.
        let max_values = gpu.max_tensor_bytes() as usize / 4;
        for (k, f) in self.flats.iter_mut().enumerate() {
            let most = self
                .vars
                .iter()
                .zip(grads)
                .filter(|(v, _)| v.2 == k)
                .map(|(_, g)| g.len())
                .max()
                .unwrap_or(1);
            f.ensure_parts(&gpu, most.min((max_values / f.chunk.len).max(1)))?;
        }
        let mut present = vec![false; p.specs().len()];
        for ((_, shape, k, j), parts) in self.vars.iter().zip(grads) {
            if parts.is_empty() {
                continue;
            }
            let f = &mut self.flats[*k];
            let parts = &fold_parts(parts, f.parts)?;
            let seg = &f.chunk.segs[*j];
            present[seg.spec] = true;
            for q in 0..f.parts {
                let dst = f.grad.view(q * f.chunk.len + seg.offset, shape)?;
                match parts.get(q) {
                    Some(g) => {
                        dst.copy_from(g.value())?;
                        f.neutral[*j][q] = false;
                    }
                    None if !f.neutral[*j][q] => {
                        dst.copy_from(&self.neg_zero.view(0, &[seg.numel])?)?;
                        f.neutral[*j][q] = true;
                    }
                    None => {}
                }
            }
        }
        for (f, (_, values)) in self.flats.iter().zip(p.chunks()) {
            let key = |s: &flat::Segment| {
                present[s.spec]
                    .then(|| (self.lr_mul[s.spec].to_bits(), self.decay[s.spec].to_bits()))
            };
            for (range, (mul, decay)) in flat::runs_by(&f.chunk, key) {
                let c = AdamConfig {
                    lr: c.lr * f32::from_bits(mul),
                    decay: f32::from_bits(decay),
                    ..*c
                };
                adam_range_parts(values, &f.grad, f.parts, &f.slot, &c, t, range)?;
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
        for (name, shape, k, j) in &self.vars {
            let seg = &self.flats[*k].chunk.segs[*j];
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
        for (name, shape, k, j) in &self.vars {
            let seg = &self.flats[*k].chunk.segs[*j];
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

/// `parts` as at most `slots` parts with the same left-to-right sum: the first ones added
/// (in order) into one.
fn fold_parts(parts: &[Var], slots: usize) -> Result<Vec<Var>> {
    if parts.len() <= slots {
        return Ok(parts.to_vec());
    }
    let head = parts.len() - slots.max(1) + 1;
    let mut out = vec![sum_parts(parts[..head].to_vec())?];
    out.extend_from_slice(&parts[head..]);
    Ok(out)
}
