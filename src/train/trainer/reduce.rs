//! Summing a step's phases over the ranks of a distributed run (`crate::dist`).

use std::time::Instant;

use super::Trainer;
use crate::autodiff::sum_parts;
use crate::error::Result;
use crate::gpu::Tensor;
use crate::tape::Var;

impl Trainer {
    /// Sums a phase's results over the ranks: its gradients (the parts of each, added first;
    /// none: zeros of the variable's shape) and its summed scalars, read back as one buffer,
    /// all-reduced once and uploaded as one. Nothing happens in a single process.
    pub(super) fn all_reduce(
        &mut self,
        grads: &mut [Vec<Var>],
        vars: &[Var],
        sums: &mut [Var],
    ) -> Result<()> {
        if self.comm.size() == 1 {
            return Ok(());
        }
        let mut tensors = grads
            .iter()
            .zip(vars)
            .map(|(g, v)| match g.is_empty() {
                false => Ok(sum_parts(g.clone())?.value().clone()),
                true => Tensor::zeros(&self.gpu, v.shape()),
            })
            .collect::<Result<Vec<_>>>()?;
        // Finish the phase's GPU work first, so that the times below are the transfer's own.
        self.gpu.sync()?;
        let t0 = Instant::now();
        tensors.extend(sums.iter().map(|v| v.value().clone()));
        let mut buf = Tensor::read_concat(&self.gpu, &tensors.iter().collect::<Vec<_>>())?;
        let t1 = Instant::now();
        // A one-value all-reduce as a barrier: what follows times the all-reduce alone.
        self.comm.any(false)?;
        let t_ready = Instant::now();
        self.comm.all_reduce_sum(&mut buf)?;
        let t2 = Instant::now();
        let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
        let mut back = Tensor::from_slices(&self.gpu, &shapes, &buf)?.into_iter();
        for g in grads.iter_mut() {
            *g = back.next().map(Var::constant).into_iter().collect();
        }
        for v in sums.iter_mut() {
            *v = Var::constant(back.next().expect("one tensor per sum"));
        }
        self.gpu.flush()?;
        let st = &mut self.comm_stats;
        st.calls += 1;
        st.bytes += buf.len() as u64 * 4;
        st.wait_seconds += (t_ready - t1).as_secs_f64();
        st.reduce_seconds += (t2 - t_ready).as_secs_f64();
        st.transfer_seconds += ((t1 - t0) + t2.elapsed()).as_secs_f64();
        Ok(())
    }
}
