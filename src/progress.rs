//! How long work tells its caller what it is doing: the training loop, the metric runner and
//! other long library calls report through a [`Progress`] and never print. The command line
//! draws bars and prints the notes; a library user may ignore them ([`Silent`]) or log them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The process-wide stop request. A front end sets it (the CLI registers it with its SIGINT /
/// SIGTERM handlers; `request_stop` from any thread); long library loops (dataset and generator
/// features, the metric runner, the classifier's training) look at it after each batch or step,
/// finish that unit, keep what they can and return `Error::Stopped` saying where they stopped.
/// The GAN training loop stops through `train::run::Observer::should_stop` instead, between
/// steps, with a snapshot.
pub fn stop_flag() -> Arc<AtomicBool> {
    static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    STOP.get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// Asks long library work to stop after its current batch or step.
pub fn request_stop() {
    stop_flag().store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn stop_requested() -> bool {
    stop_flag().load(Ordering::SeqCst)
}

/// `Error::Stopped(where_())` when a stop was requested.
pub(crate) fn check_stop(where_: impl FnOnce() -> String) -> crate::Result<()> {
    if stop_requested() {
        return Err(crate::Error::Stopped(where_()));
    }
    Ok(())
}

/// Receives the progress of long work. Every method has a do-nothing default.
pub trait Progress {
    /// A task of `total` units (images, pairs, kimg...) starts, named `label`.
    fn start(&mut self, _label: &str, _total: usize) {}
    /// `n` more units of the current task are done.
    fn advance(&mut self, _n: usize) {}
    /// How the current task is going, in a few words (e.g. the loss so far).
    fn status(&mut self, _msg: &str) {}
    /// The current task is done.
    fn finish(&mut self) {}
    /// Something the user should read (what was chosen, where a result came from).
    fn note(&mut self, _msg: &str) {}
    /// Something that went wrong without stopping the work (a cache that could not be
    /// written).
    fn warn(&mut self, _msg: &str) {}
}

/// Progress that goes nowhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Runs `work` as one task of `total` units named `label`: `work` gets the function that
/// advances it. The task finishes when `work` succeeds (a failed one is left to the error).
pub fn task<T>(
    p: &mut dyn Progress,
    label: &str,
    total: usize,
    work: impl FnOnce(&mut dyn FnMut(usize)) -> crate::Result<T>,
) -> crate::Result<T> {
    p.start(label, total);
    let out = work(&mut |n| p.advance(n))?;
    p.finish();
    Ok(out)
}
