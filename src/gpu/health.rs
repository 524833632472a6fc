//! Whether the device and the kernels can be trusted: a lost device and errors outside any
//! error scope are caught by callbacks and reported at the next flush or sync, as an `Error`
//! instead of a panic in wgpu's default handler; kernels that must prove themselves on a device
//! before use (the f16 conv) run their self-check once per context.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

pub(crate) struct Health {
    lost: Arc<Mutex<Option<String>>>,
    /// The first uncaptured error since the last check.
    uncaptured: Arc<Mutex<Option<String>>>,
    /// Outcomes of self-checks, by name.
    checks: RefCell<HashMap<&'static str, bool>>,
}

impl Health {
    /// Installs the device-lost callback and the uncaptured-error handler on `device`
    /// (replacing any it had).
    pub fn watch(device: &wgpu::Device) -> Health {
        let lost = Arc::new(Mutex::new(None));
        let l2 = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *l2.lock().unwrap() = Some(format!("device lost ({reason:?}): {msg}"));
        });
        let uncaptured = Arc::new(Mutex::new(None));
        let u2 = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = u2.lock().unwrap();
            if slot.is_none() {
                *slot = Some(e.to_string());
            }
        }));
        Health {
            lost,
            uncaptured,
            checks: RefCell::new(HashMap::new()),
        }
    }

    /// A device loss (for good) or the uncaptured error since the last check (taken), as an
    /// `Error`; an out-of-memory error as `Error::OutOfMemory`, which batch runners act on.
    pub fn check(&self) -> Result<()> {
        if let Some(msg) = self.lost.lock().unwrap().clone() {
            return Err(Error::Device(msg));
        }
        if let Some(msg) = self.uncaptured.lock().unwrap().take() {
            if msg.to_ascii_lowercase().contains("out of memory") {
                return Err(Error::OutOfMemory {
                    bytes: 0,
                    what: msg,
                });
            }
            return Err(Error::Device(msg));
        }
        Ok(())
    }

    /// The remembered outcome of self-check `name`, else `check`'s, remembered; an error
    /// counts as a failed check and is printed as a warning naming `adapter`.
    pub fn self_check(
        &self,
        name: &'static str,
        adapter: &str,
        check: impl FnOnce() -> Result<bool>,
    ) -> bool {
        if let Some(&ok) = self.checks.borrow().get(name) {
            return ok;
        }
        let ok = check().unwrap_or_else(|e| {
            log::warn!("self-check {name} failed on {adapter}: {e}");
            false
        });
        self.checks.borrow_mut().insert(name, ok);
        ok
    }
}

/// The error an error scope caught, if any. Natively it waits for the scope; in a browser a
/// scope resolves only after control returns to the page, so it is not waited for there and
/// errors arrive through the uncaptured-error handler instead (`Gpu::flush` reports them).
pub(crate) fn pop_error_scope(scope: wgpu::ErrorScopeGuard) -> Option<wgpu::Error> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(scope.pop())
    }
    #[cfg(target_arch = "wasm32")]
    {
        drop(scope.pop());
        None
    }
}
