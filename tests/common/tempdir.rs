//! Scratch directories for tests: `tempfile`'s, kept when the test fails (for a look at what
//! was written) and removed otherwise.

use std::path::PathBuf;

/// A fresh directory under the system temp dir (`.0` is its path).
pub struct TempDir(pub PathBuf, Option<tempfile::TempDir>);

impl TempDir {
    /// `<tmp>/stylegan-<test crate>-<name>-<random>`: unique, so tests running in parallel
    /// never share one.
    pub fn new(name: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("stylegan-{}-{name}-", env!("CARGO_CRATE_NAME")))
            .tempdir()
            .expect("a temporary directory");
        TempDir(dir.path().to_path_buf(), Some(dir))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let (true, Some(dir)) = (std::thread::panicking(), self.1.take()) {
            let kept = dir.keep();
            eprintln!("kept {} for a look", kept.display());
        }
    }
}
