//! What a context has done: dispatches, submits, named tallies of kernel choices, and the
//! buffer pool's memory, for tests, benchmarks and the training log.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::gpu::pool::Pool;

/// Counters of the context (see `Gpu::stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    /// Kernel dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted.
    pub submits: u64,
    /// Bytes held by live tensors now, and at most since the last `reset_peak_memory`.
    pub live_bytes: u64,
    pub peak_bytes: u64,
    /// Bytes of GPU buffers the pool owns (live + idle).
    pub allocated_bytes: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    dispatches: Cell<u64>,
    submits: Cell<u64>,
    /// How often each kind of work ran, by name.
    tallies: RefCell<HashMap<&'static str, u64>>,
}

impl Counters {
    pub fn dispatched(&self) {
        self.dispatches.set(self.dispatches.get() + 1);
    }

    pub fn submitted(&self) {
        self.submits.set(self.submits.get() + 1);
    }

    pub fn tally(&self, what: &'static str) {
        *self.tallies.borrow_mut().entry(what).or_insert(0) += 1;
    }

    /// Every tally, sorted by name.
    pub fn tallies(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self
            .tallies
            .borrow()
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        v.sort();
        v
    }

    pub fn stats(&self, pool: &Pool) -> GpuStats {
        GpuStats {
            dispatches: self.dispatches.get(),
            submits: self.submits.get(),
            live_bytes: pool.live_bytes,
            peak_bytes: pool.peak_bytes,
            allocated_bytes: pool.allocated_bytes,
        }
    }
}
