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
//! anything is allocated, and every error is an [`Error::Format`] naming the file and the
//! byte offset of the opcode that failed.
//!
//! Internally objects live in an arena and the stack and memo hold indices, because pickle
//! mutates shared objects in place (`APPENDS` on a memoized list, `BUILD` on a memoized
//! array). The arena is turned into an owned tree at `STOP`, with limits on depth and total
//! size so self-referencing or exponentially shared structures cannot blow up.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// An unpickled value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit `i64`: little-endian two's complement bytes, as pickled.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Key/value pairs in pickle order (also `EasyDict` and `OrderedDict`).
    Dict(Vec<(Value, Value)>),
    /// `set` and `frozenset`, in pickle order.
    Set(Vec<Value>),
    /// A whitelisted global that was loaded but not called.
    Global(String, String),
    /// An instance of a whitelisted class (a `dnnlib.tflib.network.Network`): the class as
    /// (module, name), the constructor arguments and the `BUILD` state.
    Object {
        class: (String, String),
        args: Vec<Value>,
        state: Option<Box<Value>>,
    },
    /// A `numpy.dtype` object that was not used by an array.
    Dtype(DType),
    /// A numpy array or numpy scalar (shape `[]`).
    NdArray(NdArray),
}

/// The numpy element types the reader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Bool,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
    F2,
    F4,
    F8,
}

impl DType {
    /// Parses numpy's dtype string (`f4`, `<f8`, `u1`, `b1`, ...). Returns the type and
    /// whether a big-endian prefix was given.
    fn parse(s: &str) -> Option<(DType, bool)> {
        let (big, rest) = match s.as_bytes().first() {
            Some(b'>') => (true, &s[1..]),
            Some(b'<') | Some(b'|') | Some(b'=') => (false, &s[1..]),
            _ => (false, s),
        };
        let t = match rest {
            "b1" | "?" => DType::Bool,
            "i1" => DType::I1,
            "i2" => DType::I2,
            "i4" => DType::I4,
            "i8" => DType::I8,
            "u1" => DType::U1,
            "u2" => DType::U2,
            "u4" => DType::U4,
            "u8" => DType::U8,
            "f2" => DType::F2,
            "f4" => DType::F4,
            "f8" => DType::F8,
            _ => return None,
        };
        Some((t, big))
    }

    pub fn itemsize(self) -> usize {
        match self {
            DType::Bool | DType::I1 | DType::U1 => 1,
            DType::I2 | DType::U2 | DType::F2 => 2,
            DType::I4 | DType::U4 | DType::F4 => 4,
            DType::I8 | DType::U8 | DType::F8 => 8,
        }
    }

    /// numpy's name for the type (`f4`, `u1`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "b1",
            DType::I1 => "i1",
            DType::I2 => "i2",
            DType::I4 => "i4",
            DType::I8 => "i8",
            DType::U1 => "u1",
            DType::U2 => "u2",
            DType::U4 => "u4",
            DType::U8 => "u8",
            DType::F2 => "f2",
            DType::F4 => "f4",
            DType::F8 => "f8",
        }
    }
}

/// A numpy array with its data converted to little-endian, C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    pub dtype: DType,
    /// Empty for numpy scalars and 0-d arrays.
    pub shape: Vec<usize>,
    /// `product(shape) * dtype.itemsize()` bytes.
    pub data: Vec<u8>,
}

impl NdArray {
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.itemsize()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements as f32 (weights are stored as f32 whatever the file used; f8 and i8 round).
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            DType::Bool => d.iter().map(|&b| (b != 0) as u8 as f32).collect(),
            DType::U1 => d.iter().map(|&b| b as f32).collect(),
            DType::I1 => d.iter().map(|&b| b as i8 as f32).collect(),
            DType::I2 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            DType::U2 => d
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            DType::F2 => d
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            DType::I4 => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            DType::U4 => d
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            DType::F4 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            DType::I8 => d
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            DType::U8 => d
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            DType::F8 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
        }
    }
}

/// IEEE half -> single, including subnormals, infinities and NaN.
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

impl Value {
    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Global(..) => "global",
            Value::Object { .. } => "object",
            Value::Dtype(_) => "numpy dtype",
            Value::NdArray(_) => "numpy array",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The value of `key` in a dict with string keys (the last one if repeated, as Python does).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
}

/// Reads and unpickles a file (see [`parse_pickle`]).
pub fn read_pickle(path: impl AsRef<Path>) -> Result<Value> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = crate::io::read_file(path)?;
    parse_pickle(&bytes, &name)
}

/// Unpickles `bytes`; `path` only names the source in errors.
pub fn parse_pickle(bytes: &[u8], path: &str) -> Result<Value> {
    Machine::new(bytes, path).run()
}

/// Deepest nesting accepted when building the tree (official pickles nest about 10 deep);
/// also what stops self-referencing structures.
const MAX_DEPTH: usize = 100;

type H = usize;

/// Whitelisted callables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Callable {
    Network,
    Reconstruct,
    NdArrayType,
    DtypeType,
    Scalar,
    FromBuffer,
    EasyDict,
    OrderedDict,
    CodecsEncode,
    BytesType,
}

fn whitelist(module: &str, name: &str) -> Option<Callable> {
    let np_core =
        |m: &str, sub: &str| m == format!("numpy.core.{sub}") || m == format!("numpy._core.{sub}");
    Some(match (module, name) {
        ("dnnlib.tflib.network", "Network") => Callable::Network,
        (m, "_reconstruct") if np_core(m, "multiarray") => Callable::Reconstruct,
        (m, "scalar") if np_core(m, "multiarray") => Callable::Scalar,
        (m, "_frombuffer") if np_core(m, "numeric") => Callable::FromBuffer,
        ("numpy", "ndarray") => Callable::NdArrayType,
        ("numpy", "dtype") => Callable::DtypeType,
        ("dnnlib.util", "EasyDict") => Callable::EasyDict,
        ("collections", "OrderedDict") => Callable::OrderedDict,
        ("_codecs", "encode") => Callable::CodecsEncode,
        ("builtins" | "__builtin__", "bytes") => Callable::BytesType,
        _ => return None,
    })
}

enum Node {
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
    fn kind(&self) -> &'static str {
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
            Node::PendingArray => "numpy array without data",
            Node::Array { .. } => "numpy array",
        }
    }
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown",
    }
}

struct Machine<'a> {
    data: &'a [u8],
    path: &'a str,
    pos: usize,
    /// Offset of the opcode being executed, for errors.
    op_pos: usize,
    op: u8,
    nodes: Vec<Node>,
    stack: Vec<H>,
    /// Stacks saved by MARK, as CPython's unpickler does: items above a mark are invisible
    /// to ordinary pops.
    metastack: Vec<Vec<H>>,
    memo: HashMap<u64, H>,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8], path: &'a str) -> Self {
        Machine {
            data,
            path,
            pos: 0,
            op_pos: 0,
            op: 0,
            nodes: Vec::new(),
            stack: Vec::new(),
            metastack: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn err<T>(&self, msg: impl std::fmt::Display) -> Result<T> {
        Err(Error::Format {
            path: self.path.to_string(),
            msg: format!(
                "pickle byte {}: {} (opcode 0x{:02x}): {msg}",
                self.op_pos,
                opcode_name(self.op),
                self.op
            ),
        })
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return self.err(format!(
                "needs {n} bytes but only {left} remain (truncated file?)"
            ));
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    /// A newline-terminated argument of the text opcodes, without the newline.
    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return self.err("missing end of line (truncated file?)");
        };
        self.pos += n + 1;
        match std::str::from_utf8(&rest[..n]) {
            Ok(s) => Ok(s),
            Err(_) => self.err("argument is not valid UTF-8"),
        }
    }

    fn utf8(&self, b: &[u8]) -> Result<String> {
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(e) => self.err(format!("string is not valid UTF-8: {e}")),
        }
    }

    fn push(&mut self, n: Node) {
        self.nodes.push(n);
        self.stack.push(self.nodes.len() - 1);
    }

    fn pop(&mut self) -> Result<H> {
        match self.stack.pop() {
            Some(h) => Ok(h),
            None => self.err("stack underflow"),
        }
    }

    fn top(&self) -> Result<H> {
        match self.stack.last() {
            Some(&h) => Ok(h),
            None => self.err("stack underflow"),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<H>> {
        match self.metastack.pop() {
            Some(prev) => Ok(std::mem::replace(&mut self.stack, prev)),
            None => self.err("no MARK on the stack"),
        }
    }

    fn memo_get(&mut self, idx: u64) -> Result<()> {
        match self.memo.get(&idx) {
            Some(&h) => {
                self.stack.push(h);
                Ok(())
            }
            None => self.err(format!("memo index {idx} was never stored")),
        }
    }

    fn memo_put(&mut self, idx: u64) -> Result<()> {
        let h = self.top()?;
        self.memo.insert(idx, h);
        Ok(())
    }

    fn str_node(&self, h: H, what: &str) -> Result<String> {
        match &self.nodes[h] {
            Node::Str(s) => Ok(s.clone()),
            n => self.err(format!("{what} should be a str, found {}", n.kind())),
        }
    }

    fn int_node(&self, h: H, what: &str) -> Result<i64> {
        match &self.nodes[h] {
            Node::Int(i) => Ok(*i),
            Node::Bool(b) => Ok(*b as i64),
            n => self.err(format!("{what} should be an int, found {}", n.kind())),
        }
    }

    fn seq_node(&self, h: H, what: &str) -> Result<Vec<H>> {
        match &self.nodes[h] {
            Node::Tuple(v) | Node::List(v) => Ok(v.clone()),
            n => self.err(format!("{what} should be a tuple, found {}", n.kind())),
        }
    }

    /// Bytes of a raw-data argument. Python 2 pickles carry them as `str` (latin-1 here).
    fn bytes_node(&mut self, h: H, what: &str) -> Result<H> {
        match &self.nodes[h] {
            Node::Bytes(_) => Ok(h),
            Node::Str(s) => {
                let b = self.latin1(s)?;
                self.nodes.push(Node::Bytes(b));
                Ok(self.nodes.len() - 1)
            }
            n => self.err(format!("{what} should be bytes, found {}", n.kind())),
        }
    }

    fn latin1(&self, s: &str) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len());
        for c in s.chars() {
            if (c as u32) > 0xff {
                return self.err(format!("character U+{:04X} is not latin-1", c as u32));
            }
            out.push(c as u32 as u8);
        }
        Ok(out)
    }

    fn run(mut self) -> Result<Value> {
        loop {
            self.op_pos = self.pos;
            if self.pos >= self.data.len() {
                self.op = 0;
                return self.err("input ended before STOP (truncated file?)");
            }
            self.op = self.data[self.pos];
            self.pos += 1;
            match self.op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return self.err(format!("unsupported pickle protocol {p}"));
                    }
                }
                0x95 => {
                    // Framing only groups opcodes for buffered reads; a frame longer than
                    // the rest of the input already tells us the file is cut short.
                    let n = self.u64()?;
                    let left = (self.data.len() - self.pos) as u64;
                    if n > left {
                        return self.err(format!(
                            "frame of {n} bytes but only {left} remain (truncated file?)"
                        ));
                    }
                }
                b'.' => {
                    let root = self.pop()?;
                    return self.finish(root);
                }
                b'(' => {
                    let s = std::mem::take(&mut self.stack);
                    self.metastack.push(s);
                }
                b'0' => {
                    if self.stack.pop().is_none() {
                        self.pop_mark()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let h = self.top()?;
                    self.stack.push(h);
                }
                b'p' => {
                    let l = self.line()?;
                    let Ok(i) = l.trim().parse::<u64>() else {
                        return self.err(format!("bad memo index '{l}'"));
                    };
                    self.memo_put(i)?;
                }
                b'q' => {
                    let i = self.u8()? as u64;
                    self.memo_put(i)?;
                }
                b'r' => {
                    let i = self.u32()? as u64;
                    self.memo_put(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u64;
                    self.memo_put(i)?;
                }
                b'g' => {
                    let l = self.line()?;
                    let Ok(i) = l.trim().parse::<u64>() else {
                        return self.err(format!("bad memo index '{l}'"));
                    };
                    self.memo_get(i)?;
                }
                b'h' => {
                    let i = self.u8()? as u64;
                    self.memo_get(i)?;
                }
                b'j' => {
                    let i = self.u32()? as u64;
                    self.memo_get(i)?;
                }
                b'N' => self.push(Node::None),
                0x88 => self.push(Node::Bool(true)),
                0x89 => self.push(Node::Bool(false)),
                b'I' => {
                    let l = self.line()?;
                    let n = match l {
                        "00" => Node::Bool(false),
                        "01" => Node::Bool(true),
                        _ => match l.trim().parse::<i64>() {
                            Ok(i) => Node::Int(i),
                            Err(_) => return self.err(format!("bad integer '{l}'")),
                        },
                    };
                    self.push(n);
                }
                b'L' => {
                    let l = self.line()?;
                    match l.trim().trim_end_matches('L').parse::<i64>() {
                        Ok(i) => self.push(Node::Int(i)),
                        Err(_) => return self.err(format!("unsupported integer '{l}'")),
                    }
                }
                b'J' => {
                    let i = self.i32()? as i64;
                    self.push(Node::Int(i));
                }
                b'K' => {
                    let i = self.u8()? as i64;
                    self.push(Node::Int(i));
                }
                b'M' => {
                    let i = self.u16()? as i64;
                    self.push(Node::Int(i));
                }
                0x8a => {
                    let n = self.u8()? as u64;
                    let b = self.take(n)?;
                    self.push(long_node(b));
                }
                0x8b => {
                    let n = self.i32()?;
                    if n < 0 {
                        return self.err(format!("negative length {n}"));
                    }
                    let b = self.take(n as u64)?;
                    self.push(long_node(b));
                }
                b'G' => {
                    let f = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    self.push(Node::Float(f));
                }
                b'F' => {
                    let l = self.line()?;
                    match l.trim().parse::<f64>() {
                        Ok(f) => self.push(Node::Float(f)),
                        Err(_) => return self.err(format!("bad float '{l}'")),
                    }
                }
                b'S' => {
                    let l = self.line()?;
                    let s = self.unquote(l)?;
                    self.push(Node::Str(s));
                }
                b'T' => {
                    let n = self.i32()?;
                    if n < 0 {
                        return self.err(format!("negative length {n}"));
                    }
                    let b = self.take(n as u64)?;
                    self.push(Node::Str(b.iter().map(|&c| c as char).collect()));
                }
                b'U' => {
                    let n = self.u8()? as u64;
                    let b = self.take(n)?;
                    self.push(Node::Str(b.iter().map(|&c| c as char).collect()));
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match self.op {
                        b'X' => self.u32()? as u64,
                        0x8c => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.push(Node::Str(s));
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match self.op {
                        b'B' => self.u32()? as u64,
                        b'C' => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let b = self.take(n)?;
                    self.push(Node::Bytes(b.to_vec()));
                }
                b')' => self.push(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (self.op - 0x84) as usize;
                    if self.stack.len() < n {
                        return self.err("stack underflow");
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Node::Tuple(items));
                }
                b']' => self.push(Node::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                b'}' => self.push(Node::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Node::Dict(pairs));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.extend_dict(vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.extend_dict(pairs)?;
                }
                0x8f => self.push(Node::Set(Vec::new())),
                0x90 => {
                    let items = self.pop_mark()?;
                    let h = self.top()?;
                    match &mut self.nodes[h] {
                        Node::Set(v) => v.extend(items),
                        n => {
                            let k = n.kind();
                            return self.err(format!("ADDITEMS on a {k}"));
                        }
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::Set(items));
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.global(module, name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let name = self.str_node(name, "STACK_GLOBAL name")?;
                    let module = self.str_node(module, "STACK_GLOBAL module")?;
                    self.global(module, name)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let args = match &self.nodes[args] {
                        Node::Tuple(v) => v.clone(),
                        n => {
                            return self.err(format!(
                                "REDUCE arguments should be a tuple, found {}",
                                n.kind()
                            ))
                        }
                    };
                    let n = self.call(func, args, false)?;
                    self.push(n);
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let args = self.seq_node(args, "NEWOBJ arguments")?;
                    let n = self.call(cls, args, true)?;
                    self.push(n);
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    if !matches!(&self.nodes[kwargs], Node::Dict(d) if d.is_empty()) {
                        return self.err("keyword arguments to a constructor are not supported");
                    }
                    let args = self.seq_node(args, "NEWOBJ_EX arguments")?;
                    let n = self.call(cls, args, true)?;
                    self.push(n);
                }
                b'b' => {
                    let state = self.pop()?;
                    let inst = self.top()?;
                    self.build(inst, state)?;
                }
                op => {
                    let name = opcode_name(op);
                    return if name == "unknown" {
                        self.err("unknown opcode (not a pickle, or corrupted)")
                    } else {
                        self.err("opcode not supported by this reader (official StyleGAN pickles do not use it)")
                    };
                }
            }
        }
    }

    /// Protocol-0 `STRING` argument: a quoted Python 2 str literal.
    fn unquote(&self, l: &str) -> Result<String> {
        let b = l.as_bytes();
        if b.len() < 2 || b[0] != b[b.len() - 1] || (b[0] != b'\'' && b[0] != b'"') {
            return self.err("STRING argument is not quoted");
        }
        let inner = &l[1..l.len() - 1];
        let mut out = String::new();
        let mut it = inner.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('x') => {
                    let h: String = it.by_ref().take(2).collect();
                    match u8::from_str_radix(&h, 16) {
                        Ok(v) if h.len() == 2 => out.push(v as char),
                        _ => return self.err("bad \\x escape in STRING"),
                    }
                }
                Some(c) => out.push(c),
                None => return self.err("STRING ends with a backslash"),
            }
        }
        Ok(out)
    }

    fn pairs(&self, items: Vec<H>) -> Result<Vec<(H, H)>> {
        if !items.len().is_multiple_of(2) {
            return self.err("odd number of items for a dict");
        }
        Ok(items.chunks_exact(2).map(|c| (c[0], c[1])).collect())
    }

    fn extend_list(&mut self, items: Vec<H>) -> Result<()> {
        let h = self.top()?;
        match &mut self.nodes[h] {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            n => {
                let k = n.kind();
                self.err(format!("appending to a {k}"))
            }
        }
    }

    fn extend_dict(&mut self, pairs: Vec<(H, H)>) -> Result<()> {
        let h = self.top()?;
        match &mut self.nodes[h] {
            Node::Dict(v) => {
                v.extend(pairs);
                Ok(())
            }
            n => {
                let k = n.kind();
                self.err(format!("setting items on a {k}"))
            }
        }
    }

    fn global(&mut self, module: String, name: String) -> Result<()> {
        match whitelist(&module, &name) {
            Some(kind) => {
                self.push(Node::Global { module, name, kind });
                Ok(())
            }
            None => self.err(format!(
                "global '{module}.{name}' is not allowed: only numpy arrays and StyleGAN networks are read \
                 (this pickle may try to run code; nothing was executed)"
            )),
        }
    }

    /// REDUCE / NEWOBJ of a whitelisted global.
    fn call(&mut self, func: H, args: Vec<H>, newobj: bool) -> Result<Node> {
        let (module, name, kind) = match &self.nodes[func] {
            Node::Global { module, name, kind } => (module.clone(), name.clone(), *kind),
            n => return self.err(format!("calling a {}, not a class or function", n.kind())),
        };
        let qual = format!("{module}.{name}");
        if newobj
            && !matches!(
                kind,
                Callable::Network | Callable::EasyDict | Callable::OrderedDict
            )
        {
            return self.err(format!("'{qual}' cannot be instantiated with NEWOBJ"));
        }
        match kind {
            Callable::Network => Ok(Node::Object {
                class: (module, name),
                args,
                state: None,
            }),
            Callable::EasyDict | Callable::OrderedDict => match args.as_slice() {
                [] => Ok(Node::Dict(Vec::new())),
                [a] => match &self.nodes[*a] {
                    Node::Dict(p) => Ok(Node::Dict(p.clone())),
                    Node::List(items) | Node::Tuple(items) => {
                        let mut pairs = Vec::with_capacity(items.len());
                        for &it in items {
                            match &self.nodes[it] {
                                Node::Tuple(kv) | Node::List(kv) if kv.len() == 2 => {
                                    pairs.push((kv[0], kv[1]))
                                }
                                _ => {
                                    return self
                                        .err(format!("{qual}: items should be (key, value) pairs"))
                                }
                            }
                        }
                        Ok(Node::Dict(pairs))
                    }
                    n => self.err(format!("{qual}: cannot build from a {}", n.kind())),
                },
                _ => self.err(format!("{qual}: too many arguments")),
            },
            Callable::Reconstruct => {
                let ok = matches!(
                    args.first().map(|&a| &self.nodes[a]),
                    Some(Node::Global {
                        kind: Callable::NdArrayType,
                        ..
                    })
                );
                if !ok || args.len() != 3 {
                    return self.err(format!(
                        "{qual} should be called as (numpy.ndarray, shape, typecode)"
                    ));
                }
                Ok(Node::PendingArray)
            }
            Callable::NdArrayType => self.err("numpy.ndarray cannot be called directly"),
            Callable::DtypeType => {
                let Some(&a) = args.first() else {
                    return self.err("numpy.dtype needs a type string");
                };
                let s = self.str_node(a, "numpy.dtype argument")?;
                match DType::parse(&s) {
                    Some((dtype, big_endian)) => Ok(Node::Dtype { dtype, big_endian }),
                    None => self.err(format!(
                        "unsupported numpy dtype '{s}' (numeric types only)"
                    )),
                }
            }
            Callable::Scalar => {
                let [dt, raw] = args.as_slice() else {
                    return self.err(format!("{qual} should be called as (dtype, bytes)"));
                };
                let (dtype, big_endian) = self.dtype_node(*dt)?;
                let data = self.bytes_node(*raw, "numpy scalar data")?;
                self.check_len(data, dtype, &[])?;
                Ok(Node::Array {
                    dtype,
                    big_endian,
                    shape: Vec::new(),
                    fortran: false,
                    data,
                })
            }
            Callable::FromBuffer => {
                let [buf, dt, shape, order] = args.as_slice() else {
                    return self.err(format!(
                        "{qual} should be called as (buffer, dtype, shape, order)"
                    ));
                };
                let (dtype, big_endian) = self.dtype_node(*dt)?;
                let shape = self.shape_node(*shape)?;
                let fortran = match self.str_node(*order, "array order")?.as_str() {
                    "C" => false,
                    "F" => true,
                    o => return self.err(format!("unknown array order '{o}'")),
                };
                let data = self.bytes_node(*buf, "array data")?;
                self.check_len(data, dtype, &shape)?;
                Ok(Node::Array {
                    dtype,
                    big_endian,
                    shape,
                    fortran,
                    data,
                })
            }
            Callable::CodecsEncode | Callable::BytesType => {
                if kind == Callable::BytesType && args.is_empty() {
                    return Ok(Node::Bytes(Vec::new()));
                }
                let [s, enc] = args.as_slice() else {
                    return self.err(format!("{qual} should be called as (str, encoding)"));
                };
                let s = self.str_node(*s, "encoded text")?;
                let enc = self.str_node(*enc, "encoding")?;
                match enc.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
                    "latin1" | "iso88591" => Ok(Node::Bytes(self.latin1(&s)?)),
                    "utf8" => Ok(Node::Bytes(s.into_bytes())),
                    _ => self.err(format!("{qual}: unsupported encoding '{enc}'")),
                }
            }
        }
    }

    fn dtype_node(&self, h: H) -> Result<(DType, bool)> {
        match &self.nodes[h] {
            Node::Dtype { dtype, big_endian } => Ok((*dtype, *big_endian)),
            n => self.err(format!("expected a numpy dtype, found {}", n.kind())),
        }
    }

    fn shape_node(&self, h: H) -> Result<Vec<usize>> {
        let dims = self.seq_node(h, "array shape")?;
        let mut shape = Vec::with_capacity(dims.len());
        for d in dims {
            let v = self.int_node(d, "array dimension")?;
            if v < 0 {
                return self.err(format!("negative array dimension {v}"));
            }
            shape.push(v as usize);
        }
        Ok(shape)
    }

    fn check_len(&self, data: H, dtype: DType, shape: &[usize]) -> Result<()> {
        let Node::Bytes(b) = &self.nodes[data] else {
            return self.err("array data should be bytes");
        };
        let n = shape
            .iter()
            .try_fold(dtype.itemsize(), |a, &d| a.checked_mul(d));
        match n {
            Some(n) if n == b.len() => Ok(()),
            _ => self.err(format!(
                "array of shape {shape:?} and dtype {} needs {} bytes, the pickle holds {}",
                dtype.name(),
                n.map_or("too many".to_string(), |n| n.to_string()),
                b.len()
            )),
        }
    }

    fn build(&mut self, inst: H, state: H) -> Result<()> {
        match &self.nodes[inst] {
            Node::Object { .. } => {
                if let Node::Object { state: s, .. } = &mut self.nodes[inst] {
                    *s = Some(state);
                }
                Ok(())
            }
            Node::PendingArray => {
                // numpy's ndarray.__setstate__: (version, shape, dtype, is_fortran, rawdata),
                // or the same without version from very old numpy.
                let st = self.seq_node(state, "numpy array state")?;
                let st = match st.len() {
                    5 => &st[1..],
                    4 => &st[..],
                    n => return self.err(format!("numpy array state has {n} items, expected 5")),
                };
                let shape = self.shape_node(st[0])?;
                let (dtype, big_endian) = self.dtype_node(st[1])?;
                let fortran = match &self.nodes[st[2]] {
                    Node::Bool(b) => *b,
                    Node::Int(i) => *i != 0,
                    n => {
                        return self.err(format!("is_fortran should be a bool, found {}", n.kind()))
                    }
                };
                let data = self.bytes_node(st[3], "numpy array data")?;
                self.check_len(data, dtype, &shape)?;
                self.nodes[inst] = Node::Array {
                    dtype,
                    big_endian,
                    shape,
                    fortran,
                    data,
                };
                Ok(())
            }
            Node::Dtype { dtype, .. } => {
                // numpy's dtype.__setstate__: (version, byteorder, subarray, names, fields,
                // elsize, alignment, flags[, metadata]).
                let dtype = *dtype;
                let st = self.seq_node(state, "numpy dtype state")?;
                if st.len() < 2 {
                    return self.err("numpy dtype state is too short");
                }
                let order = self.str_node(st[1], "dtype byte order")?;
                let big_endian = match order.as_str() {
                    ">" => true,
                    "<" | "|" | "=" => false,
                    o => return self.err(format!("unknown byte order '{o}'")),
                };
                for &h in st.iter().skip(2).take(3) {
                    if !matches!(self.nodes[h], Node::None) {
                        return self.err("structured or sub-array numpy dtypes are not supported");
                    }
                }
                self.nodes[inst] = Node::Dtype { dtype, big_endian };
                Ok(())
            }
            Node::Dict(_) => {
                // A dict subclass (EasyDict) pickles its instance __dict__ here: attributes,
                // not items, and always empty for the official classes.
                Ok(())
            }
            n => self.err(format!("BUILD on a {}", n.kind())),
        }
    }

    /// Turns the arena below `root` into an owned tree. Two passes: the first counts how
    /// often each node is reached (with depth and size limits), so the second can move the
    /// big byte buffers out on their last use instead of copying them.
    fn finish(mut self, root: H) -> Result<Value> {
        let mut visits = vec![0u32; self.nodes.len()];
        let mut budget = Budget {
            nodes: 4 * self.nodes.len() as u64 + 100_000,
            bytes: 2 * self.data.len() as u64 + (1 << 20),
        };
        self.count(root, 0, &mut visits, &mut budget)?;
        self.materialize(root, &mut visits)
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
                let Value::Bytes(mut bytes) = self.materialize(data, visits)? else {
                    return self.err("array data should be bytes");
                };
                let size = dtype.itemsize();
                if big_endian && size > 1 {
                    bytes.chunks_exact_mut(size).for_each(|c| c.reverse());
                }
                if fortran && shape.len() > 1 {
                    bytes = fortran_to_c(&bytes, &shape, size);
                }
                Value::NdArray(NdArray {
                    dtype,
                    shape,
                    data: bytes,
                })
            }
        })
    }

    fn all(&mut self, v: &[H], visits: &mut [u32]) -> Result<Vec<Value>> {
        v.iter().map(|&c| self.materialize(c, visits)).collect()
    }
}

struct Budget {
    nodes: u64,
    bytes: u64,
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

/// LONG1/LONG4 payload: little-endian two's complement.
fn long_node(b: &[u8]) -> Node {
    if b.is_empty() {
        return Node::Int(0);
    }
    let neg = b[b.len() - 1] & 0x80 != 0;
    let ext = if neg { 0xff } else { 0 };
    // Extra high bytes that only repeat the sign still fit an i64.
    let fits = b.len() <= 8 || (b[8..].iter().all(|&x| x == ext) && ((b[7] & 0x80 != 0) == neg));
    if !fits {
        return Node::BigInt(b.to_vec());
    }
    let mut buf = [ext; 8];
    let n = b.len().min(8);
    buf[..n].copy_from_slice(&b[..n]);
    Node::Int(i64::from_le_bytes(buf))
}

/// Reorders column-major bytes into row-major.
fn fortran_to_c(src: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = vec![0u8; src.len()];
    // Fortran strides in elements: the first axis varies fastest.
    let mut fstride = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        fstride[k] = fstride[k - 1] * shape[k - 1];
    }
    let mut idx = vec![0usize; shape.len()];
    for c in 0..n {
        let f: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        out[c * size..(c + 1) * size].copy_from_slice(&src[f * size..(f + 1) * size]);
        // Advance the row-major multi-index.
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}
