//! Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what `kill` and job schedulers send).
//!
//! The first signal only records which it was, so that the training loop can finish its step
//! and write a snapshot; a second one ends the process at once. Either way the exit status is
//! the shell's `128 + signal` (130 for SIGINT, 143 for SIGTERM), so a script can tell an
//! interrupted run from a finished one and which signal stopped it. signal-hook installs the
//! handlers (with SA_RESTART, so a signal during a file write or a GPU wait does not turn into
//! an I/O error that would lose the snapshot); on Windows Ctrl-C arrives as SIGINT.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::flag;

pub const SIGINT: i32 = signal_hook::consts::SIGINT;
pub const SIGTERM: i32 = signal_hook::consts::SIGTERM;

/// The first stop signal received; 0 while none has arrived.
fn first() -> &'static Arc<AtomicUsize> {
    static FIRST: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    FIRST.get_or_init(|| Arc::new(AtomicUsize::new(0)))
}

/// Starts catching SIGINT and SIGTERM (see the module docs).
pub fn install() -> std::io::Result<()> {
    let stopping = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // A signal's actions run in this order: exit when one came before, else remember it.
        flag::register_conditional_shutdown(sig, 128 + sig, stopping.clone())?;
        flag::register_usize(sig, first().clone(), sig as usize)?;
        flag::register(sig, stopping.clone())?;
    }
    Ok(())
}

/// The first stop signal received so far, if any.
pub fn received() -> Option<i32> {
    match first().load(Ordering::SeqCst) {
        0 => None,
        s => Some(s as i32),
    }
}

/// `SIGINT`, `SIGTERM` or `signal N`, for messages.
pub fn name(sig: i32) -> String {
    match sig {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        s => format!("signal {s}"),
    }
}

/// `install`, or a warning that a stop will end the command at once (losing the batch in
/// flight) when the handlers cannot be installed.
pub fn install_or_warn() {
    warn_on(install());
}

/// `install_or_warn`, and a signal also sets the library's stop request
/// (`stylegan_wgpu::progress::stop_flag`), which the library's long loops (features, metrics,
/// the classifier's training) check after each batch or step: they end there with
/// `Error::Stopped`, which `main` turns into the signal's exit status. Not for `train`, which
/// stops between steps through its observer and writes a snapshot.
pub fn install_for_library() {
    warn_on(install().and_then(|()| {
        for sig in [SIGINT, SIGTERM] {
            flag::register(sig, stylegan_wgpu::progress::stop_flag())?;
        }
        Ok(())
    }));
}

fn warn_on(r: std::io::Result<()>) {
    if let Err(e) = r {
        eprintln!(
            "warning: cannot catch SIGINT/SIGTERM ({e}): a stop will end the command at once"
        );
    }
}

/// After a long command has written what it has: when a stop signal came, says so and exits
/// with the shell's `128 + signal` status (130 SIGINT, 143 SIGTERM).
pub fn exit_if_received(what_was_written: &str) {
    if let Some(sig) = received() {
        eprintln!("interrupted by {}: {what_was_written}", name(sig));
        std::process::exit(128 + sig);
    }
}
