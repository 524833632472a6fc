//! Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (what `kill` and job schedulers send).
//!
//! The first signal only sets a flag, so that the training loop can finish its step and write a
//! snapshot; a second one ends the process at once. Either way the exit status is the shell's
//! `128 + signal` (130 for SIGINT, 143 for SIGTERM), so a script can tell an interrupted run
//! from a finished one and which signal stopped it.
//!
//! On Unix the handlers are installed with `sigaction` directly rather than through `ctrlc`,
//! whose callback does not say which signal arrived. Elsewhere (Windows) `ctrlc` catches
//! Ctrl-C, reported as SIGINT.

use std::sync::atomic::{AtomicI32, Ordering};

#[cfg(unix)]
pub const SIGINT: i32 = libc::SIGINT;
#[cfg(unix)]
pub const SIGTERM: i32 = libc::SIGTERM;
#[cfg(not(unix))]
pub const SIGINT: i32 = 2;
#[cfg(not(unix))]
pub const SIGTERM: i32 = 15;

/// The first stop signal received; 0 while none has arrived.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // A signal handler may only make async-signal-safe calls: an atomic swap and `_exit`.
    if RECEIVED.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: `_exit` is async-signal-safe and never returns.
        unsafe { libc::_exit(128 + sig) };
    }
}

/// Starts catching SIGINT and SIGTERM (see the module docs).
pub fn install() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        // SAFETY: `sa` is fully initialised (zeroed, then the handler, flags and an empty
        // mask), and `on_signal` only touches an atomic and calls `_exit`.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // Restart interrupted system calls, so a signal during a file write or a GPU wait
            // does not turn into an I/O error that would lose the snapshot.
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            for sig in [SIGINT, SIGTERM] {
                if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
    }
    #[cfg(all(not(unix), not(target_arch = "wasm32")))]
    ctrlc::set_handler(|| {
        if RECEIVED.swap(SIGINT, Ordering::SeqCst) != 0 {
            std::process::exit(128 + SIGINT);
        }
    })
    .map_err(std::io::Error::other)?;
    Ok(())
}

/// The first stop signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
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
