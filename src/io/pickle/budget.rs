//! The memory a pickle may make the reader take, relative to the input's size.
//!
//! Checking lengths against the input is not enough: one byte of input (`)`, `]`, MEMOIZE,
//! DUP) makes one more object, stack slot or memo entry, each tens of bytes, so 16 MB of `)`
//! used to take gigabytes before anything looked at it. Every allocation the machine makes
//! from the input is therefore charged here as it happens (arena node, height, stack and mark
//! slots, memo entries, children, string and bytes payloads, and at `STOP` the tree it is
//! copied into) and the pickle is refused, at the opcode that crossed the line, once the total
//! passes [`memory_limit`]. Nothing is ever refunded, so the total is an upper bound on what
//! is live.
//!
//! Vectors grow by doubling, so the heap actually held can be up to about three times the
//! charged total for a moment (old and new buffer during a reallocation); the charges are
//! what is bounded, the heap is bounded by a small multiple of them.

use super::arena::{Node, H};
use super::machine::Machine;
use super::value::Value;
use crate::error::Result;

/// What any input may use whatever its size: the objects of an official pickle that are not
/// array data (names, shapes, `static_kwargs`, the networks' source code) are a few
/// thousand nodes and some hundred kilobytes of text, and a PyTorch state dict's pickle about
/// twenty nodes per tensor; 16 MiB holds ~150 000 nodes.
pub(super) const FLOOR: u64 = 16 << 20;

/// What each byte of input may add. Array data dominates real weight files and is held at
/// most twice: protocol 2 carries bytes as latin-1 text (`_codecs.encode`), kept as the text
/// and as the decoded bytes, each no longer than the input that held it. Twice more is left
/// for the structure around large arrays.
pub(super) const PER_INPUT_BYTE: u64 = 4;

/// The charge limit for an input of `len` bytes.
pub(super) fn memory_limit(len: usize) -> u64 {
    FLOOR.saturating_add(PER_INPUT_BYTE.saturating_mul(len as u64))
}

/// An arena node: the node, its height, and its stack slot.
pub(super) const NODE_COST: u64 = (size_of::<Node>() + size_of::<u8>() + size_of::<H>()) as u64;
/// A MARK: the saved stack's header and at least the four slots `Vec` first allocates.
pub(super) const MARK_COST: u64 = (size_of::<Vec<H>>() + 4 * size_of::<H>()) as u64;
/// A new memo key: the entry and its control byte, twice over for the hash table's spare
/// capacity (it grows by doubling and stays at most 7/8 full).
pub(super) const MEMO_COST: u64 = 2 * (size_of::<(u64, H)>() + 1) as u64;
/// A node visited when the arena is copied into the [`Value`] tree at `STOP`, and its counter.
pub(super) const VALUE_COST: u64 = (size_of::<Value>() + size_of::<u32>()) as u64;

/// The running total of charges and its limit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mem {
    pub(super) used: u64,
    pub(super) limit: u64,
    /// The input length the limit was derived from, for the error.
    pub(super) input: u64,
}

impl Mem {
    /// A limit derived from `input` bytes.
    pub(super) fn for_input(input: usize) -> Mem {
        Mem {
            used: 0,
            limit: memory_limit(input),
            input: input as u64,
        }
    }
}

impl Node {
    /// Heap bytes the node owns beyond itself.
    pub(super) fn heap_bytes(&self) -> u64 {
        let h = size_of::<H>();
        (match self {
            Node::Str(s) => s.capacity(),
            Node::Bytes(b) | Node::BigInt(b) => b.capacity(),
            Node::Tuple(v) | Node::List(v) | Node::Set(v) => v.capacity() * h,
            Node::Dict(p) => p.capacity() * 2 * h,
            Node::Global { module, name, .. } => module.capacity() + name.capacity(),
            Node::Object { class, args, .. } => {
                size_of::<(String, String)>()
                    + class.0.capacity()
                    + class.1.capacity()
                    + args.capacity() * h
            }
            Node::Array { shape, .. } => shape.capacity() * size_of::<usize>(),
            Node::None
            | Node::Bool(_)
            | Node::Int(_)
            | Node::Float(_)
            | Node::Dtype { .. }
            | Node::PersistentId(_)
            | Node::PendingArray => 0,
        }) as u64
    }
}

impl Machine<'_> {
    /// Charges `bytes` against the limit; past it, the pickle is refused at this opcode.
    pub(super) fn charge(&mut self, bytes: u64) -> Result<()> {
        match charged(self.mem, bytes) {
            Ok(m) => {
                self.mem = m;
                Ok(())
            }
            Err(m) => self.mem_err(m),
        }
    }

    pub(super) fn mem_err<T>(&self, m: Mem) -> Result<T> {
        self.err(format!(
            "the objects built so far need more than {} bytes of memory, the limit for a \
             {}-byte input ({} MiB + {} bytes per input byte); official weight files need far \
             less, so this is not a valid model file (corrupted, or made to exhaust memory)",
            m.limit,
            m.input,
            FLOOR >> 20,
            PER_INPUT_BYTE
        ))
    }
}

/// `m` with `bytes` more charged, or `Err(m)` when that passes the limit.
pub(super) fn charged(mut m: Mem, bytes: u64) -> std::result::Result<Mem, Mem> {
    m.used = m.used.saturating_add(bytes);
    if m.used > m.limit {
        Err(m)
    } else {
        Ok(m)
    }
}
