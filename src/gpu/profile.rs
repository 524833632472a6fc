//! Per-kernel wall time under `STYLEGAN_PROFILE=1` ([`Policy::profile`]): the context then
//! runs every dispatch alone and waits for it, so the time between recording and completion
//! is that kernel's (and the run is slower: it measures kernels, not the whole step).
//!
//! [`Policy::profile`]: crate::gpu::Policy::profile

use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Default)]
pub(crate) struct Profile {
    /// (dispatches, seconds) by kernel family.
    kernels: RefCell<HashMap<String, (u64, f64)>>,
}

impl Profile {
    /// Charges one dispatch of `seconds` to the kernel `key` names. Kernels rendered per shape
    /// are charged to their family (the key's first two `:` fields, file and entry), so the
    /// table stays one row per kernel, not per layer.
    pub fn charge(&self, key: &str, seconds: f64) {
        let family = key.split(':').take(2).collect::<Vec<_>>().join(":");
        let mut k = self.kernels.borrow_mut();
        let e = k.entry(family).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += seconds;
    }

    /// The kernels by total wall time, with calls and share.
    pub fn report(&self) -> String {
        let prof = self.kernels.borrow();
        let mut rows: Vec<_> = prof.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let total: f64 = rows.iter().map(|r| r.1 .1).sum();
        let mut out = format!(
            "{:<44} {:>8} {:>10} {:>6}\n",
            "kernel", "calls", "seconds", "%"
        );
        for (k, (n, s)) in rows {
            out += &format!(
                "{k:<44} {n:>8} {s:>10.3} {:>5.1}%\n",
                100.0 * s / total.max(1e-12)
            );
        }
        out
    }
}
