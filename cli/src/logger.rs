//! The library speaks through the `log` facade; the command line prints its records on stderr
//! as it prints its own lines: `warning: ...` for warnings, `note: ...` for information, above
//! the progress bar on screen.
//! Other crates' records (wgpu's) are not shown.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        m.target().starts_with("stylegan_wgpu") && m.level() <= Level::Info
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let prefix = match r.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            _ => "note",
        };
        crate::commands::progress::print_line(&format!("{prefix}: {}", r.args()));
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls do nothing).
pub fn install() {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
