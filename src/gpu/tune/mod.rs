//! Autotuning: each adapter measures which of a kernel family's candidates is fastest for each
//! shape it meets, and remembers it (burn/cubecl do the same). The planners stay pure functions
//! of the shape, the adapter and the policy; the measured choice is one more input to them.
//!
//! A family with several kernels for one job (the forward conv's `subgroup`,
//! `subgroup-general`, `coop-f16`, `tiled`, `direct`) asks [`Gpu::tuned`] which candidate to
//! run: the policy's pin if it names one of them, else under `Tune::Off` the first (the fixed
//! order), else the table's choice, measuring the shape first when the table has none
//! (`measure`: a fraction of a second, plus compiling the candidates once). The table is kept
//! per context and in a file per adapter and driver (`table`), so a shape is measured once per
//! machine and version, or all at once ahead of time by `stylegan bench tune`.
//!
//! Plugging in a family takes a shape key and a way to run candidate `i`:
//!
//! ```ignore
//! let names: Vec<&str> = candidates.iter().map(|k| k.name()).collect();
//! let i = gpu.tuned("matmul", &format!("{m}x{k}x{n}"), &names, |i| {
//!     candidates[i].run(a, b).map(drop)
//! })?;
//! ```
//!
//! Results must not depend on the choice beyond float rounding: every candidate is checked
//! against the same f64 reference (and `tests/tune.rs` runs a training step on each).

#[cfg(not(target_arch = "wasm32"))]
pub mod measure;
pub mod table;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

pub use table::{CandidateTime, Identity, TuneEntry, TuneTable};

use crate::error::{Error, Result};
use crate::gpu::policy::{Policy, Tune};
use crate::gpu::Gpu;

type Key = (String, String);

/// A context's tuning state: the table (read from disk at the first question), which shapes
/// were measured by this process, and the order shapes were first asked about.
pub(crate) struct Tuner {
    identity: Identity,
    path: Option<PathBuf>,
    loaded: bool,
    entries: BTreeMap<Key, TuneEntry>,
    measured: HashSet<Key>,
    seen: Vec<Key>,
    /// Whether a failed save was already reported (once per context is enough).
    save_warned: bool,
    /// Whether the user was told that shapes are being measured (once per context).
    announced: bool,
}

impl Tuner {
    pub fn new(info: &wgpu::AdapterInfo, policy: &Policy) -> Tuner {
        let identity = Identity::of(info);
        Tuner {
            path: policy
                .tune_dir
                .as_deref()
                .map(|d| table::path_in(d, &identity)),
            identity,
            loaded: false,
            entries: BTreeMap::new(),
            measured: HashSet::new(),
            seen: Vec::new(),
            save_warned: false,
            announced: false,
        }
    }

    fn load_once(&mut self) {
        if std::mem::replace(&mut self.loaded, true) {
            return;
        }
        if let Some(path) = &self.path {
            let loaded = table::load(path, &self.identity);
            if let Some(w) = loaded.warning {
                log::warn!("{w}");
            }
            self.entries = loaded.entries;
        }
    }

    /// Says once per context, before the first measurement, why the work pauses: on lavapipe
    /// a shape costs 1-2 s (compiling every candidate), which would otherwise look like a
    /// hang or make a progress bar's first estimate minutes long.
    fn announce(&mut self, family: &str, shape: &str) {
        if std::mem::replace(&mut self.announced, true) {
            return;
        }
        let kept = match &self.path {
            Some(p) => format!("kept in {}", p.display()),
            None => "kept in memory only (STYLEGAN_TUNE_DIR=off)".to_string(),
        };
        log::info!(
            "timing the candidate kernels of shapes new to {} (first: {family} {shape}), once \
             per shape, about a second each; the choices are {kept}. STYLEGAN_TUNE=cached \
             skips this, `stylegan bench tune` does it ahead of time",
            self.identity.adapter
        );
    }

    /// Writes the file: what it holds now (another process may have added shapes), with this
    /// context's measurements over it.
    fn save(&mut self) {
        let Some(path) = &self.path else { return };
        let mut merged = table::load(path, &self.identity).entries;
        for k in &self.measured {
            if let Some(e) = self.entries.get(k) {
                merged.insert(k.clone(), e.clone());
            }
        }
        let t = TuneTable::new(self.identity.clone(), merged.into_values().collect());
        if let Err(e) = t.save(path) {
            if !std::mem::replace(&mut self.save_warned, true) {
                log::warn!("the tuning table was not saved ({e}); the next run measures again");
            }
        }
    }
}

impl Gpu {
    /// Which of `names` (the candidates of kernel family `family` that take the shape `shape`,
    /// in the family's fixed order) to run: the policy's pin for `family` if it is among them;
    /// else 0 (the fixed order's pick) under `Tune::Off` or with one candidate; else the
    /// tuning table's choice, measuring the candidates first (`run(i)` records one call of
    /// candidate `i`) when the table has no time for one of them (under `Tune::Cached`: 0,
    /// unmeasured), or under `Tune::Force` when this process has not measured the shape yet. Measuring submits and waits for the work
    /// recorded so far. In a browser, where the thread cannot wait for the GPU, the fixed order.
    pub fn tuned(
        &self,
        family: &str,
        shape: &str,
        names: &[&str],
        mut run: impl FnMut(usize) -> Result<()>,
    ) -> Result<usize> {
        if names.is_empty() {
            return Err(Error::Invalid(format!(
                "{family} {shape}: no candidate kernel takes it"
            )));
        }
        let policy = self.policy();
        if let Some(i) = policy
            .pin
            .get(family)
            .and_then(|p| names.iter().position(|n| n == p))
        {
            return Ok(i);
        }
        if policy.tune == Tune::Off || names.len() == 1 || cfg!(target_arch = "wasm32") {
            return Ok(0);
        }
        let key: Key = (family.to_string(), shape.to_string());
        {
            let mut t = self.inner.tune.borrow_mut();
            t.load_once();
            if !t.seen.contains(&key) {
                t.seen.push(key.clone());
            }
            let current = policy.tune != Tune::Force || t.measured.contains(&key);
            if let Some(i) = t
                .entries
                .get(&key)
                .filter(|_| current)
                .and_then(|e| e.choice(names))
            {
                return Ok(i);
            }
            if policy.tune == Tune::Cached {
                return Ok(0);
            }
            t.announce(family, shape);
        }
        // Not borrowed while measuring: the candidates may be ops that ask again.
        let entry = self.measure_candidates(family, shape, names, &mut run)?;
        let i = entry.choice(names).unwrap_or(0);
        let mut t = self.inner.tune.borrow_mut();
        t.entries.insert(key.clone(), entry);
        t.measured.insert(key);
        t.save();
        Ok(i)
    }

    /// [`Gpu::tuned`] as the planners use it: the chosen candidate's name, or `None` with fewer
    /// than two candidates (nothing to choose: the planner's fixed order stands).
    pub fn tuned_name<'a>(
        &self,
        family: &str,
        shape: &str,
        names: &[&'a str],
        run: impl FnMut(usize) -> Result<()>,
    ) -> Result<Option<&'a str>> {
        if names.len() < 2 {
            return Ok(None);
        }
        Ok(Some(names[self.tuned(family, shape, names, run)?]))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn measure_candidates(
        &self,
        family: &str,
        shape: &str,
        names: &[&str],
        run: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<TuneEntry> {
        measure::measure(self, family, shape, names, run)
    }

    #[cfg(target_arch = "wasm32")]
    fn measure_candidates(
        &self,
        family: &str,
        shape: &str,
        _names: &[&str],
        _run: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<TuneEntry> {
        Err(Error::Invalid(format!(
            "tuning {family} {shape}: measuring needs a thread that can wait for the GPU"
        )))
    }

    /// The tuning table's entries for the shapes this context asked about (with tuning on), in
    /// the order it first asked: what `stylegan bench tune` reports.
    pub fn tune_entries(&self) -> Vec<TuneEntry> {
        let t = self.inner.tune.borrow();
        t.seen
            .iter()
            .filter_map(|k| t.entries.get(k).cloned())
            .collect()
    }

    /// Shapes measured by this context (the rest of `tune_entries` came from the file).
    pub fn tune_measured(&self) -> usize {
        self.inner.tune.borrow().measured.len()
    }

    /// The file the tuning table is kept in (`None` when `Policy::tune_dir` is).
    pub fn tune_file(&self) -> Option<PathBuf> {
        self.inner.tune.borrow().path.clone()
    }
}
