//! Reading and writing weights, arrays and images. Every file the crate reads goes through
//! [`read_file`] and every file it writes through [`atomic::write_atomic`].

pub mod atomic;
pub mod safetensors;

pub mod dtype;
pub mod format;
pub mod frames;
pub mod images;
pub mod jsonl;
pub mod npy;
pub mod npz;
pub mod official;
pub mod pickle;
pub mod tensors;
pub mod torch_checkpoint;
mod torch_zip;

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a whole file; the error names it. Only regular files (or symlinks to one) are read:
/// a FIFO would block forever and a device such as `/dev/zero` never ends, so both, and
/// folders, sockets and other devices, are refused before anything is opened.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let not_regular = |ft: &std::fs::FileType| {
        Error::Invalid(format!(
            "{} is {}, not a regular file; only regular files are read",
            path.display(),
            atomic::describe_type(ft)
        ))
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    let mut f = std::fs::File::open(path).map_err(io)?;
    // Checked again on the open handle: the path may have been replaced since.
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    let mut buf = Vec::new();
    // A size that cannot be allocated (e.g. a sparse file of a terabyte) is an error naming
    // the file, not an abort of the process.
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    buf.try_reserve_exact(len).map_err(|_| {
        Error::Invalid(format!(
            "{}: {} bytes do not fit in memory",
            path.display(),
            meta.len()
        ))
    })?;
    f.read_to_end(&mut buf).map_err(io)?;
    Ok(buf)
}
