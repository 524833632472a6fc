//! The tuning table on disk: measured times of every candidate kernel for every shape met, with
//! the choice, for one adapter and driver and one version of this crate. JSON, one file per
//! adapter and driver (`tune-<hash>.json` in `Policy::tune_dir`), replaced whole by a rename.
//!
//! A file that does not parse, or that another adapter, driver or crate version wrote, is
//! ignored with a warning naming it: kernels and their speed change between versions, and a
//! time measured on one device says nothing about another. The next measurement replaces it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// `schema` of every table file.
pub const SCHEMA: &str = "stylegan-wgpu-tune";
/// Bumped on any incompatible change of the layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Larger files are not read: a table of every shape of the largest network is a few hundred
/// KiB.
const MAX_BYTES: u64 = 16 << 20;

/// Who measured: a table is only used by the same adapter, driver and crate version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub driver_info: String,
    /// This crate's version (`CARGO_PKG_VERSION`).
    pub version: String,
}

impl Identity {
    pub fn of(info: &wgpu::AdapterInfo) -> Identity {
        Identity {
            adapter: info.name.clone(),
            backend: format!("{:?}", info.backend),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The table's file name: a hash of the adapter and driver (not the version, so that a new
    /// version replaces its predecessor's table instead of leaving it behind).
    pub fn file_name(&self) -> String {
        let mut h = crate::hash::FNV_START;
        for part in [
            &self.adapter,
            &self.backend,
            &self.driver,
            &self.driver_info,
        ] {
            h = crate::hash::fnv1a(h, part.as_bytes());
            h = crate::hash::fnv1a(h, &[0]);
        }
        format!("tune-{h:016x}.json")
    }

    /// What differs from `other`, in words (for the warning about a foreign table).
    fn difference(&self, other: &Identity) -> Option<String> {
        let fields = [
            ("adapter", &self.adapter, &other.adapter),
            ("backend", &self.backend, &other.backend),
            ("driver", &self.driver, &other.driver),
            ("driver info", &self.driver_info, &other.driver_info),
            ("crate version", &self.version, &other.version),
        ];
        let diffs: Vec<String> = fields
            .iter()
            .filter(|(_, a, b)| a != b)
            .map(|(what, a, b)| format!("{what} '{a}', not '{b}'"))
            .collect();
        (!diffs.is_empty()).then(|| diffs.join(", "))
    }
}

/// One candidate's time on one shape, milliseconds per call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateTime {
    pub name: String,
    /// Median, fastest and slowest of the timed runs.
    pub ms: f64,
    pub ms_min: f64,
    pub ms_max: f64,
    /// Timed runs: the entry's `runs`, or 1 for a candidate left after its first timing (far
    /// slower than the fastest).
    pub runs: usize,
}

/// The measurement of one shape of one kernel family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneEntry {
    /// The kernel family (`conv`; later `wgrad`, `matmul`).
    pub family: String,
    /// The family's shape key (conv: the geometry's label and the precision).
    pub shape: String,
    /// The candidate the measurement chose.
    pub chosen: String,
    /// Every candidate that ran, in the family's fixed order: the first is the fixed order's
    /// pick.
    pub candidates: Vec<CandidateTime>,
    /// Candidates that failed to run on this shape (never chosen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// Timed runs of the candidates that were close, and calls recorded into each run's one
    /// submission.
    pub runs: usize,
    pub reps: usize,
    /// Seconds the measurement took, warm-up (compiling each candidate) included.
    pub seconds: f64,
}

/// How much faster than the fixed order's pick another candidate must be to be chosen: below
/// that the difference is within the noise of a short measurement, and the fixed order (what
/// the tests run) is kept.
pub const MARGIN: f64 = 0.05;

impl TuneEntry {
    /// The candidate to run among `names` (the candidates that take the shape now, in the
    /// fixed order), by the measured times; `None` when a candidate was not measured (the
    /// policy or the adapter changed what is available), so the shape is measured again.
    pub fn choice(&self, names: &[&str]) -> Option<usize> {
        let time = |n: &str| self.candidates.iter().find(|c| c.name == n).map(|c| c.ms);
        let mut times = Vec::with_capacity(names.len());
        for &n in names {
            match time(n) {
                Some(ms) => times.push(ms),
                None if self.failed.iter().any(|f| f == n) => times.push(f64::INFINITY),
                None => return None,
            }
        }
        Some(pick(&times))
    }
}

/// The index of the candidate to run given median times in the fixed order: the fastest, if it
/// beats the first finite one (the fixed order's pick) by more than `MARGIN`; else that one.
pub fn pick(times: &[f64]) -> usize {
    let first = times.iter().position(|t| t.is_finite()).unwrap_or(0);
    let (best, t_best) = times
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, t)| t.is_finite())
        .fold((first, times.get(first).copied().unwrap_or(0.0)), |a, b| {
            if b.1 < a.1 {
                b
            } else {
                a
            }
        });
    if t_best < times.get(first).copied().unwrap_or(0.0) * (1.0 - MARGIN) {
        best
    } else {
        first
    }
}

/// A table file's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneTable {
    /// Always `SCHEMA`.
    pub schema: String,
    pub schema_version: u32,
    #[serde(flatten)]
    pub identity: Identity,
    /// Sorted by family, then shape.
    pub entries: Vec<TuneEntry>,
}

impl TuneTable {
    pub fn new(identity: Identity, entries: Vec<TuneEntry>) -> TuneTable {
        TuneTable {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            identity,
            entries,
        }
    }

    /// The entries of a table's text when it is ours, current and `identity`'s; else why not.
    pub fn parse(text: &[u8], identity: &Identity) -> std::result::Result<TuneTable, String> {
        let t: TuneTable =
            serde_json::from_slice(text).map_err(|e| format!("not a tuning table ({e})"))?;
        if t.schema != SCHEMA || t.schema_version != SCHEMA_VERSION {
            return Err(format!(
                "schema {} version {}, not {SCHEMA} version {SCHEMA_VERSION}",
                t.schema, t.schema_version
            ));
        }
        if let Some(d) = t.identity.difference(identity) {
            return Err(format!("measured on another setup: {d}"));
        }
        Ok(t)
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| crate::Error::Invalid(format!("tuning table: {e}")))
    }

    /// Writes the table to `path`, creating its folder: into a temporary file of this process
    /// and context, renamed over `path`, so that readers (other processes tune too) see the
    /// old table or the new one, whole. (`io::atomic` sits above the GPU runtime; a lost table
    /// only costs measuring again, so the rename without fsync is enough, as for the pipeline
    /// cache.)
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |p: &Path| {
            let path = p.display().to_string();
            move |source| crate::Error::Io { path, source }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        let write = std::fs::write(&tmp, self.to_json()?)
            .map_err(io(&tmp))
            .and_then(|_| std::fs::rename(&tmp, path).map_err(io(path)));
        if write.is_err() {
            std::fs::remove_file(&tmp).ok();
        }
        write
    }
}

/// What reading a table file gave.
#[derive(Debug, Default)]
pub struct Loaded {
    pub entries: BTreeMap<(String, String), TuneEntry>,
    /// Why the file was ignored (it names the file), when it was there and unusable.
    pub warning: Option<String>,
}

/// Reads the table at `path` for `identity`. A missing file gives no entries and no warning; a
/// corrupt or foreign one gives no entries and a warning naming the file.
pub fn load(path: &Path, identity: &Identity) -> Loaded {
    let ignored = |why: String| Loaded {
        entries: BTreeMap::new(),
        warning: Some(format!(
            "tuning table {} ignored: {why}; kernels are measured again and the file replaced",
            path.display()
        )),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::default(),
        Err(e) => return ignored(e.to_string()),
    };
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return ignored(format!("not a regular file of at most {MAX_BYTES} bytes"));
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return ignored(e.to_string()),
    };
    match TuneTable::parse(&bytes, identity) {
        Ok(t) => Loaded {
            entries: t
                .entries
                .into_iter()
                .map(|e| ((e.family.clone(), e.shape.clone()), e))
                .collect(),
            warning: None,
        },
        Err(why) => ignored(why),
    }
}

/// The table file for `identity` in `dir`.
pub fn path_in(dir: &Path, identity: &Identity) -> PathBuf {
    dir.join(identity.file_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_keeps_the_fixed_order_within_the_margin() {
        assert_eq!(pick(&[10.0, 9.0, 12.0]), 1);
        assert_eq!(pick(&[10.0, 9.6, 12.0]), 0);
        assert_eq!(pick(&[f64::INFINITY, 5.0, 4.0]), 2);
        assert_eq!(pick(&[f64::INFINITY, 5.0, 4.9]), 1);
        assert_eq!(pick(&[3.0]), 0);
    }

    fn entry() -> TuneEntry {
        let c = |name: &str, ms| CandidateTime {
            name: name.into(),
            ms,
            ms_min: ms,
            ms_max: ms,
            runs: 3,
        };
        TuneEntry {
            family: "conv".into(),
            shape: "s".into(),
            chosen: "b".into(),
            candidates: vec![c("a", 2.0), c("b", 1.0)],
            failed: vec!["c".into()],
            runs: 3,
            reps: 1,
            seconds: 0.1,
        }
    }

    #[test]
    fn choice_among_what_is_available_now() {
        let e = entry();
        assert_eq!(e.choice(&["a", "b"]), Some(1));
        assert_eq!(e.choice(&["a"]), Some(0));
        assert_eq!(e.choice(&["c", "a"]), Some(1));
        assert_eq!(e.choice(&["a", "d"]), None, "d was never measured");
    }
}
