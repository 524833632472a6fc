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
//! Memory is bounded by the input's size, not only by its lengths: every node, stack and mark
//! slot, memo entry and payload is charged as it is made, and the pickle is refused at the
//! opcode where the total passes 16 MiB + 4 bytes per input byte (`budget`); nesting deeper
//! than 100 levels is refused at the opcode that builds it.
//!
//! One file per concern: `machine` runs the opcodes, `globals` decides which globals may be
//! loaded and what calling them builds, `numpy` interprets numpy's constructors and produces
//! [`NdArray`]s, `arena` holds the objects and turns them into the [`Value`] tree, `budget`
//! charges the memory they take, and `value` is that tree. numpy's element types ([`DType`]) are shared with the `.npy` reader.

mod arena;
mod budget;
mod globals;
mod machine;
mod numpy;
mod value;

use std::path::Path;

use crate::error::Result;
use budget::Mem;
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
    let mem = Mem::for_input(bytes.len());
    Ok(machine::Machine::new(bytes, path, Profile::StyleGan, mem)
        .run()?
        .0)
}

/// Unpickles the pickle at the start of `bytes` with PyTorch's whitelist (see
/// [`Profile::Torch`]); returns the value and how many bytes the pickle took.
///
/// Its memory limit derives from the whole checkpoint's size, `budget.file_len`: the pickle
/// is only the structure around storages kept outside it. The legacy format's five pickles
/// share one limit: `budget.used` carries the charges from one to the next.
pub(crate) fn parse_torch_pickle(
    bytes: &[u8],
    path: &str,
    budget: &mut TorchBudget,
) -> Result<(Value, usize)> {
    let mut mem = Mem::for_input(budget.file_len);
    mem.used = budget.used;
    let (v, n, mem) = machine::Machine::new(bytes, path, Profile::Torch, mem).run()?;
    budget.used = mem.used;
    Ok((v, n))
}

/// The memory limit a PyTorch checkpoint's pickles share (see [`parse_torch_pickle`]).
pub(crate) struct TorchBudget {
    pub file_len: usize,
    pub used: u64,
}
