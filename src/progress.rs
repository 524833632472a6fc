//! How long work tells its caller what it is doing: the training loop, the metric runner and
//! other long library calls report through a [`Progress`] and never print. The command line
//! draws bars and prints the notes; a library user may ignore them ([`Silent`]) or log them.

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
