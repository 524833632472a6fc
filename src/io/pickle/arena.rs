//! The arena the machine builds objects in, and its conversion to a [`Value`] tree at `STOP`.
//!
//! Objects live in an arena and the stack and memo hold indices, because pickle mutates shared
//! objects in place (`APPENDS` on a memoized list, `BUILD` on a memoized array). Only at `STOP`
//! is the arena turned into an owned tree, and that is where a hostile file could make the
//! reader blow up: a structure that contains itself, or one that shares a node so often that
//! copying it out is exponential. The conversion therefore walks the tree once under a depth
//! limit and a budget of nodes and bytes before it copies anything.

use super::budget::{charged, Mem, VALUE_COST};
use super::globals::Callable;
use super::machine::Machine;
use super::numpy;
use super::value::Value;
use crate::error::Result;
use crate::io::dtype::DType;

/// Deepest nesting accepted (official pickles nest about 10 deep). Checked as each container
/// is built or grown ([`Machine::height_of`], [`Machine::grow`]), and again when the tree is
/// built at `STOP`, which alone sees nesting made by filling a container after it was put
/// inside another (its parents' recorded heights are not updated) and self-references.
pub(super) const MAX_DEPTH: usize = 100;

/// An index into the arena.
pub(super) type H = usize;

/// An object under construction; children are arena indices.
pub(super) enum Node {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<H>),
    List(Vec<H>),
    Dict(Vec<(H, H)>),
    Set(Vec<H>),
    Global {
        module: String,
        name: String,
        kind: Callable,
    },
    Object {
        class: (String, String),
        args: Vec<H>,
        state: Option<H>,
    },
    Dtype {
        dtype: DType,
        big_endian: bool,
    },
    /// A persistent id (PyTorch's reference to a tensor storage outside the pickle); only
    /// read with [`Profile::Torch`](super::machine::Profile::Torch).
    PersistentId(H),
    /// `_reconstruct(ndarray, ...)` before the `BUILD` that gives it data.
    PendingArray,
    /// `data` is a `Bytes` node of exactly `product(shape) * itemsize` bytes.
    Array {
        dtype: DType,
        big_endian: bool,
        shape: Vec<usize>,
        fortran: bool,
        data: H,
    },
}

impl Node {
    /// A short name of the kind of object, for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Node::None => "None",
            Node::Bool(_) => "bool",
            Node::Int(_) | Node::BigInt(_) => "int",
            Node::Float(_) => "float",
            Node::Str(_) => "str",
            Node::Bytes(_) => "bytes",
            Node::Tuple(_) => "tuple",
            Node::List(_) => "list",
            Node::Dict(_) => "dict",
            Node::Set(_) => "set",
            Node::Global { .. } => "global",
            Node::Object { .. } => "object",
            Node::Dtype { .. } => "numpy dtype",
            Node::PersistentId(_) => "persistent id",
            Node::PendingArray => "numpy array without data",
            Node::Array { .. } => "numpy array",
        }
    }
}

impl Machine<'_> {
    /// The height a node would have in the arena (1 for a leaf), refused past [`MAX_DEPTH`]
    /// the way `STOP` counts it (the root at depth 0, so `MAX_DEPTH + 1` levels).
    pub(super) fn height_of(&self, n: &Node) -> Result<u8> {
        let h = |c: &H| self.heights[*c];
        let below = match n {
            Node::Tuple(v) | Node::List(v) | Node::Set(v) => v.iter().map(h).max(),
            Node::Dict(p) => p.iter().map(|(k, v)| h(k).max(h(v))).max(),
            Node::Object { args, state, .. } => args.iter().chain(state).map(h).max(),
            Node::Array { data, .. } => Some(h(data)),
            Node::PersistentId(p) => Some(h(p)),
            _ => None,
        };
        self.check_height(below.unwrap_or(0) as usize + 1)
    }

    fn check_height(&self, height: usize) -> Result<u8> {
        if height > MAX_DEPTH + 1 {
            return self.err(format!(
                "structure nested deeper than {MAX_DEPTH} levels (or self-referencing)"
            ));
        }
        Ok(height as u8)
    }

    /// Records that container `h` gains `children` (APPEND, SETITEMS, ADDITEMS, BUILD),
    /// charging `bytes` for them and raising its height.
    pub(super) fn grow(
        &mut self,
        h: H,
        children: impl Iterator<Item = H>,
        bytes: usize,
    ) -> Result<()> {
        self.charge(bytes as u64)?;
        let below = children.map(|c| self.heights[c]).max().unwrap_or(0);
        let height = self.check_height(below as usize + 1)?;
        self.heights[h] = self.heights[h].max(height);
        Ok(())
    }

    /// Replaces node `h` in place (BUILD on an array), charging what the new node owns.
    pub(super) fn replace(&mut self, h: H, n: Node) -> Result<()> {
        let height = self.height_of(&n)?;
        self.charge(n.heap_bytes())?;
        self.heights[h] = self.heights[h].max(height);
        self.nodes[h] = n;
        Ok(())
    }

    /// Turns the arena below `root` into an owned tree. Two passes: the first counts how
    /// often each node is reached (with depth and size limits), so the second can move the
    /// big byte buffers out on their last use instead of copying them.
    pub(super) fn finish(mut self, root: H) -> Result<(Value, Mem)> {
        self.charge((self.nodes.len() * size_of::<u32>()) as u64)?;
        let mut visits = vec![0u32; self.nodes.len()];
        let mut budget = Budget {
            nodes: 4 * self.nodes.len() as u64 + 100_000,
            bytes: 2 * self.data.len() as u64 + (1 << 20),
            mem: self.mem,
        };
        self.count(root, 0, &mut visits, &mut budget)?;
        Ok((self.materialize(root, &mut visits)?, budget.mem))
    }

    fn count(&self, h: H, depth: usize, visits: &mut [u32], budget: &mut Budget) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.err(format!(
                "structure nested deeper than {MAX_DEPTH} levels (or self-referencing)"
            ));
        }
        if budget.nodes == 0 {
            return self.err("structure expands to too many objects (shared references)");
        }
        budget.nodes -= 1;
        visits[h] += 1;
        // The tree is built while the arena still exists: every visit makes a `Value`, and
        // every visit after the first copies the node's payload (the last one moves it).
        let copied = if visits[h] > 1 {
            self.nodes[h].heap_bytes()
        } else {
            0
        };
        budget.mem = match charged(budget.mem, VALUE_COST + copied) {
            Ok(m) => m,
            Err(m) => return self.mem_err(m),
        };
        let d = depth + 1;
        match &self.nodes[h] {
            Node::Bytes(b) => {
                if budget.bytes < b.len() as u64 {
                    return self.err("structure expands to too many bytes (shared references)");
                }
                budget.bytes -= b.len() as u64;
            }
            Node::Str(s) => {
                if budget.bytes < s.len() as u64 {
                    return self.err("structure expands to too many bytes (shared references)");
                }
                budget.bytes -= s.len() as u64;
            }
            Node::BigInt(b) => budget.bytes = budget.bytes.saturating_sub(b.len() as u64),
            Node::Tuple(v) | Node::List(v) | Node::Set(v) => {
                for &c in v {
                    self.count(c, d, visits, budget)?;
                }
            }
            Node::Dict(p) => {
                for &(k, v) in p {
                    self.count(k, d, visits, budget)?;
                    self.count(v, d, visits, budget)?;
                }
            }
            Node::Object { args, state, .. } => {
                for &c in args {
                    self.count(c, d, visits, budget)?;
                }
                if let Some(s) = state {
                    self.count(*s, d, visits, budget)?;
                }
            }
            Node::Array { data, .. } => self.count(*data, d, visits, budget)?,
            Node::PersistentId(p) => self.count(*p, d, visits, budget)?,
            Node::PendingArray => {
                return self.err("numpy array was never given its data (missing BUILD)")
            }
            _ => {}
        }
        Ok(())
    }

    fn materialize(&mut self, h: H, visits: &mut [u32]) -> Result<Value> {
        visits[h] -= 1;
        let last = visits[h] == 0;
        let take = |n: &mut Node| {
            if last {
                std::mem::replace(n, Node::None)
            } else {
                n.shallow_clone()
            }
        };
        let node = take(&mut self.nodes[h]);
        Ok(match node {
            Node::None => Value::None,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Int(i),
            Node::BigInt(b) => Value::BigInt(b),
            Node::Float(f) => Value::Float(f),
            Node::Str(s) => Value::Str(s),
            Node::Bytes(b) => Value::Bytes(b),
            Node::Tuple(v) => Value::Tuple(self.all(&v, visits)?),
            Node::List(v) => Value::List(self.all(&v, visits)?),
            Node::Set(v) => Value::Set(self.all(&v, visits)?),
            Node::Dict(p) => {
                let mut out = Vec::with_capacity(p.len());
                for (k, v) in p {
                    let k = self.materialize(k, visits)?;
                    let v = self.materialize(v, visits)?;
                    out.push((k, v));
                }
                Value::Dict(out)
            }
            Node::Global { module, name, .. } => Value::Global(module, name),
            Node::Object { class, args, state } => Value::Object {
                class,
                args: self.all(&args, visits)?,
                state: match state {
                    Some(s) => Some(Box::new(self.materialize(s, visits)?)),
                    None => None,
                },
            },
            Node::Dtype { dtype, .. } => Value::Dtype(dtype),
            Node::PersistentId(p) => Value::PersistentId(Box::new(self.materialize(p, visits)?)),
            Node::PendingArray => {
                return self.err("numpy array was never given its data (missing BUILD)")
            }
            Node::Array {
                dtype,
                big_endian,
                shape,
                fortran,
                data,
            } => {
                let Value::Bytes(bytes) = self.materialize(data, visits)? else {
                    return self.err("array data should be bytes");
                };
                Value::NdArray(numpy::ndarray(dtype, big_endian, shape, fortran, bytes))
            }
        })
    }

    fn all(&mut self, v: &[H], visits: &mut [u32]) -> Result<Vec<Value>> {
        v.iter().map(|&c| self.materialize(c, visits)).collect()
    }
}

/// What is left of the nodes and bytes the tree may expand to, and the machine's memory
/// charges carried on into the tree.
struct Budget {
    nodes: u64,
    bytes: u64,
    mem: Mem,
}

impl Node {
    /// A copy for a node reached more than once; only ever called on nodes that `count`
    /// accepted, so the copies are bounded by the budget.
    fn shallow_clone(&self) -> Node {
        match self {
            Node::None => Node::None,
            Node::Bool(b) => Node::Bool(*b),
            Node::Int(i) => Node::Int(*i),
            Node::BigInt(b) => Node::BigInt(b.clone()),
            Node::Float(f) => Node::Float(*f),
            Node::Str(s) => Node::Str(s.clone()),
            Node::Bytes(b) => Node::Bytes(b.clone()),
            Node::Tuple(v) => Node::Tuple(v.clone()),
            Node::List(v) => Node::List(v.clone()),
            Node::Dict(p) => Node::Dict(p.clone()),
            Node::Set(v) => Node::Set(v.clone()),
            Node::Global { module, name, kind } => Node::Global {
                module: module.clone(),
                name: name.clone(),
                kind: *kind,
            },
            Node::Object { class, args, state } => Node::Object {
                class: class.clone(),
                args: args.clone(),
                state: *state,
            },
            Node::Dtype { dtype, big_endian } => Node::Dtype {
                dtype: *dtype,
                big_endian: *big_endian,
            },
            Node::PendingArray => Node::PendingArray,
            Node::PersistentId(p) => Node::PersistentId(*p),
            Node::Array {
                dtype,
                big_endian,
                shape,
                fortran,
                data,
            } => Node::Array {
                dtype: *dtype,
                big_endian: *big_endian,
                shape: shape.clone(),
                fortran: *fortran,
                data: *data,
            },
        }
    }
}
