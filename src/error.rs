//! One error type for the library. Every variant names what the user has to fix.
//!
//! `Display` already includes the OS error of `Io`, so `source()` returns nothing: reporting
//! both (as thiserror does for a field named `source`) made `{e:#}` and anyhow chains print
//! the OS error twice ("x: No such file or directory (os error 2): No such file ...").

use std::fmt;

#[derive(Debug)]
pub enum Error {
    NoAdapter(String),
    Device(String),
    OutOfMemory {
        bytes: u64,
        what: String,
    },
    Shape {
        op: &'static str,
        msg: String,
    },
    Invalid(String),
    /// `source` stays available to match on (e.g. its `kind()`); it is shown by `Display`.
    Io {
        path: String,
        source: std::io::Error,
    },
    Format {
        path: String,
        msg: String,
    },
    /// Results that came out NaN or infinite: which ones (indices into the call's inputs,
    /// ascending), out of how many, and what they are ("images", "dlatents").
    NonFinite {
        what: &'static str,
        indices: Vec<usize>,
        of: usize,
    },
    /// Long work ended early because a stop was requested (`progress::request_stop`, e.g. on
    /// SIGINT): where it stopped and what was kept.
    Stopped(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoAdapter(s) => write!(f, "no GPU adapter found{s}"),
            Error::Device(s) => write!(f, "GPU device error: {s}"),
            Error::OutOfMemory { bytes, what } => {
                write!(f, "out of GPU memory allocating {bytes} bytes for {what}")
            }
            Error::Shape { op, msg } => write!(f, "{op}: {msg}"),
            Error::Invalid(s) => write!(f, "{s}"),
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Format { path, msg } => write!(f, "{path}: {msg}"),
            Error::Stopped(s) => write!(f, "stopped on request {s}"),
            Error::NonFinite { what, indices, of } => {
                let shown: Vec<String> = indices.iter().take(8).map(|i| i.to_string()).collect();
                let more = indices.len().saturating_sub(8);
                write!(
                    f,
                    "{} of {of} {what} came out with non-finite values (NaN or infinity): number {}{}",
                    indices.len(),
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                )
            }
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Builds a shape error naming the op, e.g. `shape_err("conv2d", format!(..))`.
pub fn shape_err<T>(op: &'static str, msg: impl Into<String>) -> Result<T> {
    Err(Error::Shape {
        op,
        msg: msg.into(),
    })
}
