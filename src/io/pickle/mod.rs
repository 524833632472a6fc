//! A small, safe pickle reader (protocols 2-5) for the official StyleGAN weight files.
//!
//! Nothing is ever executed: the reader is a stack machine that builds a [`Value`] tree, and
//! the only globals it accepts are the handful that official pickles contain (the TensorFlow
//! `Network` class, numpy's array/dtype/scalar reconstructors, `EasyDict`, `OrderedDict`, and
//! the `_codecs.encode` trick protocol 2 uses for `bytes`). Any other global (`os.system`,
//! `builtins.eval`, ...) is an error naming it, raised when the global is *loaded*, before
//! anything could call it.
//!
//! The input is untrusted: every length is checked against the remaining input before
//! anything is allocated, and every error is an [`Error::Format`](crate::Error::Format) naming the file and the
//! byte offset of the opcode that failed.
//!
//! Internally objects live in an arena and the stack and memo hold indices, because pickle
//! mutates shared objects in place (`APPENDS` on a memoized list, `BUILD` on a memoized
//! array). The arena is turned into an owned tree at `STOP`, with limits on depth and total
//! size so self-referencing or exponentially shared structures cannot blow up.
//!
//! One file per concern: `machine` runs the opcodes, `globals` decides which globals may be
//! loaded and what calling them builds, `numpy` interprets numpy's constructors and produces
//! [`NdArray`]s, `arena` holds the objects and turns them into the [`Value`] tree, and `value`
//! is that tree. numpy's element types ([`DType`]) are shared with the `.npy` reader.

mod arena;
mod globals;
mod machine;
mod numpy;
mod value;

use std::path::Path;

use crate::error::Result;
use machine::Profile;

pub use crate::io::dtype::DType;
pub use numpy::NdArray;
pub use value::Value;

/// Reads and unpickles a file (see [`parse_pickle`]).
pub fn read_pickle(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = crate::io::read_file(path)?;
    parse_pickle(&bytes, &name)
}

/// Unpickles `bytes`; `path` only names the source in errors.
pub fn parse_pickle(bytes: &[u8], path: &str) -> Result<Value> {
    Ok(machine::Machine::new(bytes, path, Profile::StyleGan)
        .run()?
        .0)
}

/// Unpickles the pickle at the start of `bytes` with PyTorch's whitelist (see
/// [`Profile::Torch`]); returns the value and how many bytes the pickle took.
pub(crate) fn parse_torch_pickle(bytes: &[u8], path: &str) -> Result<(Value, usize)> {
    machine::Machine::new(bytes, path, Profile::Torch).run()
}
