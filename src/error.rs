//! One error type for the library. Every variant names what the user has to fix.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    #[error("GPU device error: {0}")]
    Device(String),
    #[error("out of GPU memory allocating {bytes} bytes for {what}")]
    OutOfMemory { bytes: u64, what: String },
    #[error("{op}: {msg}")]
    Shape { op: &'static str, msg: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Format { path: String, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Builds a shape error naming the op, e.g. `shape_err("conv2d", format!(..))`.
pub fn shape_err<T>(op: &'static str, msg: impl Into<String>) -> Result<T> {
    Err(Error::Shape { op, msg: msg.into() })
}
