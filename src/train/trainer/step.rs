//! One training iteration ([`Trainer::step`]): the D phase, the G phase, Gs, in GPU passes
//! that fit the adapter.

use crate::autodiff::{grad_parts, sum_parts};
use crate::dist::group_rows;
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::params::ParamSet;
use crate::ops;
use crate::tape::{no_grad, Var};
use crate::train::loss::{d_loss_lod, g_loss_lod};
use crate::train::optim::{lerp_to, lerp_to_split, AdamConfig};
use crate::train::schedule::process_reals_lod;

use super::{StepLosses, Trainer};

impl Trainer {
    /// `dlatent_avg <- lerp(batch mean of w, dlatent_avg, beta)` from the summed w of a step's
    /// passes.
    fn track_dlatent_avg(&self, w_sum: &Var, n: usize) -> Result<()> {
        let mean = no_grad(|| ops::scale(w_sum, 1.0 / n as f32))?;
        lerp_to(
            self.g.params.get("dlatent_avg")?.value(),
            mean.value(),
            self.cfg.dlatent_avg_beta,
        )
    }

    /// GPU passes a step of this run's minibatch takes (1 unless its activations exceed the
    /// adapter's largest storage binding; see `passes`).
    pub fn passes_per_step(&self) -> Result<usize> {
        Ok(self.passes(self.rows.len())?.len())
    }

    /// How a minibatch of `n` is split into GPU passes: all of it when its activations fit one
    /// storage binding (`nn::memory`), else passes of whole minibatch-stddev groups. Group `m`
    /// is images `m, m + M, m + 2M, ...` (`M = n / G`); a pass of groups `m0..m1` lists them
    /// as `[m0..m1] + 0M, [m0..m1] + 1M, ...`, which is exactly how D groups the pass itself,
    /// so every image sees the same group statistics as in the whole batch.
    fn passes(&self, n: usize) -> Result<Vec<Vec<usize>>> {
        let per = crate::nn::memory::images_per_pass(&self.cfg, self.gpu.max_tensor_bytes())?;
        if per >= n {
            return Ok(vec![(0..n).collect()]);
        }
        let g = self.cfg.mbstd_group_size.min(n).max(1);
        let m = n / g;
        let groups = per / g;
        if groups == 0 {
            let bytes = crate::nn::memory::activation_bytes_per_image(&self.cfg) * g as u64;
            return Err(Error::OutOfMemory {
                bytes,
                what: format!(
                    "a minibatch-stddev group of {g} images at {r}x{r}, which must be in one GPU \
                     pass: the adapter's largest storage binding holds {} MiB (one pass fits \
                     {per} images); train with {} or on an adapter with larger bindings",
                    self.gpu.max_tensor_bytes() >> 20,
                    crate::nn::memory::cure(&self.cfg, self.gpu.max_tensor_bytes(), g as u64),
                    r = self.cfg.resolution
                ),
            });
        }
        Ok((0..m)
            .step_by(groups)
            .map(|m0| group_rows(n, g, m0, (m0 + groups).min(m)))
            .collect())
    }

    /// One iteration on a minibatch of reals `[batch(), C, R, R]` in [-1, 1] (distributed: this
    /// rank's images `[rows().len(), C, R, R]`, in `rows()` order). A minibatch whose
    /// activations do not fit the adapter's largest storage binding runs in passes
    /// (`passes`): losses and gradients are summed over them, then each optimizer steps once,
    /// so the result equals the unsplit step up to the order of the sums.
    pub fn step(&mut self, reals: &[f32]) -> Result<StepLosses> {
        self.step_labeled(reals, None)
    }

    /// `step` of a class-conditional run: `labels` holds the class of each real, in the same
    /// order. D scores the reals and the fakes made for those classes; G's fakes take classes
    /// drawn from the training set's labels (`set_training_labels`), as the release does.
    pub fn step_labeled(&mut self, reals: &[f32], labels: Option<&[u32]>) -> Result<StepLosses> {
        let n = self.sync_batch()?;
        let c = &self.cfg;
        let local = self.rows.len();
        let image = [c.num_channels, c.resolution, c.resolution];
        let image_len: usize = image.iter().product();
        if reals.len() != local * image_len {
            return Err(Error::Invalid(format!(
                "train step: reals hold {} values, expected [{local}, {}, {}, {}]",
                reals.len(),
                image[0],
                image[1],
                image[2]
            )));
        }
        match (c.is_conditional(), labels) {
            (true, Some(l)) if l.len() != local => {
                return Err(Error::Invalid(format!(
                    "train step: {} labels for {local} reals",
                    l.len()
                )))
            }
            (true, None) => return Err(crate::nn::labels::unlabelled(c)),
            (false, Some(_)) => {
                return Err(Error::Invalid(
                    "train step: labels given to an unconditional model".into(),
                ))
            }
            _ => {}
        }
        let passes = self.passes(local)?;
        let mut rng = crate::rng::seeded(crate::rng::splitmix::key(self.tc.seed, self.state.step));
        let sched = self.schedule();
        self.enter_lod(sched.lod)?;
        let lod = sched.lod as f32;
        let adam = AdamConfig {
            lr: self
                .tc
                .learning_rate_at(sched.resolution, self.state.cur_nimg),
            ..AdamConfig::default()
        };
        let t = self.state.step + 1 - self.state.opt_reset_step;
        // Each pass adds its share of the minibatch means.
        let share = 1.0 / n as f32;
        let part = |v: &Var| ops::scale(&ops::sum(v)?, share);

        // D step (reals faded to the current lod first; R1 is taken with respect to those).
        let draws = self.draw_g(&mut rng, 0, labels)?;
        let d_vars = trainable_vars(&self.d.params);
        let (mut d_grads, mut w_sum) = (Sums::default(), Sums::default());
        let (mut d_total, mut r1, mut d_real, mut d_fake) = (
            Sums::default(),
            Sums::default(),
            Sums::default(),
            Sums::default(),
        );
        for idx in &passes {
            let (fakes, ws, y) = no_grad(|| self.g_pass(&draws, idx, lod))?;
            w_sum.add(ws)?;
            let x = Tensor::from_slice(
                &self.gpu,
                &[idx.len(), image[0], image[1], image[2]],
                &rows(reals, image_len, idx),
            )?;
            let x = Var::param(
                no_grad(|| process_reals_lod(&Var::constant(x), lod))?
                    .value()
                    .clone(),
            );
            let dl = d_loss_lod(&self.d, &x, &fakes.detach(), y.as_ref(), self.tc.gamma, lod)?;
            let total = part(&dl.total)?;
            let grads = grad_parts(
                std::slice::from_ref(&total),
                &[ones(&self.gpu)?],
                &d_vars,
                false,
            )?;
            d_grads.add_all(grads)?;
            d_total.add(total.detach())?;
            no_grad(|| -> Result<()> {
                r1.add(part(&dl.r1.detach())?)?;
                d_real.add(part(&dl.d_real.detach())?)?;
                d_fake.add(part(&dl.d_fake.detach())?)
            })?;
        }
        let mut d_sums = [
            d_total.one()?,
            r1.one()?,
            d_real.one()?,
            d_fake.one()?,
            w_sum.one()?,
        ];
        self.all_reduce(&mut d_grads.all, &d_vars, &mut d_sums)?;
        self.track_dlatent_avg(&d_sums[4], n)?;
        if self.tc.freeze_d > 0 {
            // A variable without a gradient keeps its value and moments (`AdamState::step`).
            for ((name, _), g) in self.d.params.trainable().iter().zip(&mut d_grads.all) {
                if self.tc.d_frozen(&self.cfg, name) {
                    g.clear();
                }
            }
        }
        self.d_opt.step(&self.d.params, &d_grads.all, &adam, t)?;
        drop(d_grads);

        // G step.
        let draws = self.draw_g(&mut rng, 1, None)?;
        let g_vars = trainable_vars(&self.g.params);
        let (mut g_grads, mut w_sum, mut g_total) =
            (Sums::default(), Sums::default(), Sums::default());
        for idx in &passes {
            let (fakes, ws, y) = self.g_pass(&draws, idx, lod)?;
            w_sum.add(ws)?;
            let (_, gl) = g_loss_lod(&self.d, &fakes, y.as_ref(), lod)?;
            let total = part(&gl)?;
            let grads = grad_parts(
                std::slice::from_ref(&total),
                &[ones(&self.gpu)?],
                &g_vars,
                false,
            )?;
            g_grads.add_all(grads)?;
            g_total.add(total.detach())?;
        }
        let mut g_sums = [g_total.one()?, w_sum.one()?];
        self.all_reduce(&mut g_grads.all, &g_vars, &mut g_sums)?;
        self.track_dlatent_avg(&g_sums[1], n)?;
        self.g_opt.step(&self.g.params, &g_grads.all, &adam, t)?;
        drop(g_grads);

        // Gs <- lerp(G, Gs, beta); non-trainables (noise maps, dlatent_avg) are copied. G and
        // Gs have the same layout, so one dispatch per flat buffer does every variable.
        let beta = self.tc.ema_beta(n);
        for ((gc, g), (gsc, gs)) in self.g.params.chunks().zip(self.gs.params.chunks()) {
            if gc != gsc {
                return Err(Error::Invalid(
                    "G and Gs lay out their variables differently".into(),
                ));
            }
            lerp_to_split(gs, g, beta, gc.trainable_end)?;
        }
        self.state.step += 1;
        self.state.cur_nimg += n as u64;
        self.sync_batch()?;
        self.gpu.flush()?;
        let [g_loss, _] = g_sums;
        let [d_loss, r1, d_real, d_fake, _] = d_sums;
        Ok(StepLosses {
            g_loss,
            d_loss,
            r1,
            d_real,
            d_fake,
        })
    }
}

/// Rows `idx` of `data`, rows of `len` values, in that order.
pub(super) fn rows<T: Copy>(data: &[T], len: usize, idx: &[usize]) -> Vec<T> {
    idx.iter()
        .flat_map(|&i| data[i * len..(i + 1) * len].iter().copied())
        .collect()
}

fn trainable_vars(p: &ParamSet) -> Vec<Var> {
    p.trainable().into_iter().map(|(_, v)| v).collect()
}

/// Sums of the passes of a step: one value, or one per variable. A variable's gradient is
/// kept as the parts autodiff gave (`grad_parts`, added by the optimizer in its update) while
/// there is one pass; each further pass adds its sum to the sum so far, as one part.
#[derive(Default)]
struct Sums {
    all: Vec<Vec<Var>>,
}

impl Sums {
    fn add(&mut self, v: Var) -> Result<()> {
        self.add_all(vec![vec![v]])
    }

    fn add_all(&mut self, vs: Vec<Vec<Var>>) -> Result<()> {
        if self.all.is_empty() {
            self.all = vs;
            return Ok(());
        }
        for (acc, v) in self.all.iter_mut().zip(vs) {
            if v.is_empty() {
                continue;
            }
            if acc.is_empty() {
                *acc = v;
                continue;
            }
            let (a, v) = (sum_parts(std::mem::take(acc))?, sum_parts(v)?);
            *acc = vec![no_grad(|| ops::add(&a, &v))?];
        }
        Ok(())
    }

    /// The single summed value.
    fn one(&self) -> Result<Var> {
        match self.all.first() {
            Some(parts) if !parts.is_empty() => sum_parts(parts.clone()),
            _ => Err(Error::Invalid(
                "train step: a minibatch without passes".into(),
            )),
        }
    }
}

fn ones(gpu: &Gpu) -> Result<Var> {
    Ok(Var::constant(Tensor::from_slice(gpu, &[1], &[1.0])?))
}
