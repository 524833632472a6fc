//! JSON-lines logs (`log.jsonl`, `metric-<name>.jsonl`): appended in place, one line per
//! event, each line synced before the call returns. A log is not a replaceable output, so it
//! is the one kind of file not written through [`super::atomic::write_atomic`].

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Appends `line` and a newline to `path` (created when missing).
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
    writeln!(f, "{line}")
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::Invalid(format!("{}: cannot write: {e}", path.display())))
}
