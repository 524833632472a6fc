//! The pickle stack machine: reading opcodes and their arguments, the stack, the marks and the
//! memo.
//!
//! It follows CPython's unpickler opcode by opcode but never runs anything: loading a global
//! goes through the whitelist (`globals`), and every object is a node in the arena (`arena`).
//! Every length read from the input is checked against what remains before anything is
//! allocated from it, and every error names the file and the byte offset and name of the
//! opcode that failed.

use std::collections::HashMap;

use super::arena::{Node, H};
use super::budget::{Mem, MARK_COST, MEMO_COST, NODE_COST};
use super::value::Value;
use crate::error::{Error, Result};

/// The name `pickletools` gives an opcode, for error messages.
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

/// The unpickler's state while it runs over one input.
pub(super) struct Machine<'a> {
    pub(super) data: &'a [u8],
    path: &'a str,
    pos: usize,
    /// Offset of the opcode being executed, for errors.
    op_pos: usize,
    op: u8,
    pub(super) nodes: Vec<Node>,
    /// Height of each node (1 for a leaf), kept as nodes are built so that too deep a
    /// nesting is refused at the opcode that makes it.
    pub(super) heights: Vec<u8>,
    stack: Vec<H>,
    /// Stacks saved by MARK, as CPython's unpickler does: items above a mark are invisible
    /// to ordinary pops.
    metastack: Vec<Vec<H>>,
    memo: HashMap<u64, H>,
    /// Which globals may be loaded, and whether persistent ids are accepted.
    pub(super) profile: Profile,
    /// Memory charged so far against the limit (see `budget`).
    pub(super) mem: Mem,
}

/// What kind of pickle is being read: the whitelist of globals differs, and only PyTorch
/// checkpoints may contain persistent ids (their references to tensor storages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    /// Official StyleGAN pickles: numpy arrays, `Network`, `EasyDict`, `OrderedDict`.
    StyleGan,
    /// PyTorch state dicts: `torch._utils._rebuild_tensor_v2`, `torch.*Storage`,
    /// `collections.OrderedDict` and persistent ids; nothing else.
    Torch,
}

impl<'a> Machine<'a> {
    /// A machine over `data` that may charge up to `mem`'s limit (see `budget`).
    pub(super) fn new(data: &'a [u8], path: &'a str, profile: Profile, mem: Mem) -> Self {
        Machine {
            mem,
            heights: Vec::new(),
            profile,
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

    pub(super) fn err<T>(&self, msg: impl std::fmt::Display) -> Result<T> {
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

    /// Adds a node to the arena, charging it and checking its nesting.
    pub(super) fn alloc(&mut self, n: Node) -> Result<H> {
        let height = self.height_of(&n)?;
        self.charge(NODE_COST + n.heap_bytes())?;
        self.nodes.push(n);
        self.heights.push(height);
        Ok(self.nodes.len() - 1)
    }

    pub(super) fn push(&mut self, n: Node) -> Result<()> {
        let h = self.alloc(n)?;
        self.stack.push(h);
        Ok(())
    }

    /// Pushes an existing node again (DUP, GET); its slot is charged.
    fn push_again(&mut self, h: H) -> Result<()> {
        self.charge(size_of::<H>() as u64)?;
        self.stack.push(h);
        Ok(())
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
            Some(&h) => self.push_again(h),
            None => self.err(format!("memo index {idx} was never stored")),
        }
    }

    fn memo_put(&mut self, idx: u64) -> Result<()> {
        let h = self.top()?;
        if !self.memo.contains_key(&idx) {
            self.charge(MEMO_COST)?;
        }
        self.memo.insert(idx, h);
        Ok(())
    }

    pub(super) fn str_node(&self, h: H, what: &str) -> Result<String> {
        match &self.nodes[h] {
            Node::Str(s) => Ok(s.clone()),
            n => self.err(format!("{what} should be a str, found {}", n.kind())),
        }
    }

    pub(super) fn int_node(&self, h: H, what: &str) -> Result<i64> {
        match &self.nodes[h] {
            Node::Int(i) => Ok(*i),
            Node::Bool(b) => Ok(*b as i64),
            n => self.err(format!("{what} should be an int, found {}", n.kind())),
        }
    }

    pub(super) fn seq_node(&self, h: H, what: &str) -> Result<Vec<H>> {
        match &self.nodes[h] {
            Node::Tuple(v) | Node::List(v) => Ok(v.clone()),
            n => self.err(format!("{what} should be a tuple, found {}", n.kind())),
        }
    }

    /// Bytes of a raw-data argument. Python 2 pickles carry them as `str` (latin-1 here).
    pub(super) fn bytes_node(&mut self, h: H, what: &str) -> Result<H> {
        match &self.nodes[h] {
            Node::Bytes(_) => Ok(h),
            Node::Str(s) => {
                let b = self.latin1(s)?;
                self.alloc(Node::Bytes(b))
            }
            n => self.err(format!("{what} should be bytes, found {}", n.kind())),
        }
    }

    pub(super) fn latin1(&self, s: &str) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len());
        for c in s.chars() {
            if (c as u32) > 0xff {
                return self.err(format!("character U+{:04X} is not latin-1", c as u32));
            }
            out.push(c as u32 as u8);
        }
        Ok(out)
    }

    /// Runs to `STOP`; returns the value, the number of bytes the pickle took (PyTorch's
    /// legacy format writes several pickles one after the other) and the memory charged.
    pub(super) fn run(mut self) -> Result<(Value, usize, Mem)> {
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
                    let used = self.pos;
                    let (v, mem) = self.finish(root)?;
                    return Ok((v, used, mem));
                }
                b'(' => {
                    self.charge(MARK_COST)?;
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
                    self.push_again(h)?;
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
                b'N' => self.push(Node::None)?,
                0x88 => self.push(Node::Bool(true))?,
                0x89 => self.push(Node::Bool(false))?,
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
                    self.push(n)?;
                }
                b'L' => {
                    let l = self.line()?;
                    match l.trim().trim_end_matches('L').parse::<i64>() {
                        Ok(i) => self.push(Node::Int(i))?,
                        Err(_) => return self.err(format!("unsupported integer '{l}'")),
                    }
                }
                b'J' => {
                    let i = self.i32()? as i64;
                    self.push(Node::Int(i))?;
                }
                b'K' => {
                    let i = self.u8()? as i64;
                    self.push(Node::Int(i))?;
                }
                b'M' => {
                    let i = self.u16()? as i64;
                    self.push(Node::Int(i))?;
                }
                0x8a => {
                    let n = self.u8()? as u64;
                    let b = self.take(n)?;
                    self.push(long_node(b))?;
                }
                0x8b => {
                    let n = self.i32()?;
                    if n < 0 {
                        return self.err(format!("negative length {n}"));
                    }
                    let b = self.take(n as u64)?;
                    self.push(long_node(b))?;
                }
                b'G' => {
                    let f = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    self.push(Node::Float(f))?;
                }
                b'F' => {
                    let l = self.line()?;
                    match l.trim().parse::<f64>() {
                        Ok(f) => self.push(Node::Float(f))?,
                        Err(_) => return self.err(format!("bad float '{l}'")),
                    }
                }
                b'S' => {
                    let l = self.line()?;
                    let s = self.unquote(l)?;
                    self.push(Node::Str(s))?;
                }
                b'T' => {
                    let n = self.i32()?;
                    if n < 0 {
                        return self.err(format!("negative length {n}"));
                    }
                    let b = self.take(n as u64)?;
                    self.push(Node::Str(b.iter().map(|&c| c as char).collect()))?;
                }
                b'U' => {
                    let n = self.u8()? as u64;
                    let b = self.take(n)?;
                    self.push(Node::Str(b.iter().map(|&c| c as char).collect()))?;
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match self.op {
                        b'X' => self.u32()? as u64,
                        0x8c => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.push(Node::Str(s))?;
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match self.op {
                        b'B' => self.u32()? as u64,
                        b'C' => self.u8()? as u64,
                        _ => self.u64()?,
                    };
                    let b = self.take(n)?;
                    self.push(Node::Bytes(b.to_vec()))?;
                }
                b')' => self.push(Node::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = (self.op - 0x84) as usize;
                    if self.stack.len() < n {
                        return self.err("stack underflow");
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Node::Tuple(items))?;
                }
                b']' => self.push(Node::List(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items))?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                b'}' => self.push(Node::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Node::Dict(pairs))?;
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
                0x8f => self.push(Node::Set(Vec::new()))?,
                0x90 => {
                    let items = self.pop_mark()?;
                    let h = self.top()?;
                    if !matches!(self.nodes[h], Node::Set(_)) {
                        let k = self.nodes[h].kind();
                        return self.err(format!("ADDITEMS on a {k}"));
                    }
                    self.grow(h, items.iter().copied(), items.len() * size_of::<H>())?;
                    if let Node::Set(v) = &mut self.nodes[h] {
                        v.extend(items);
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::Set(items))?;
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
                    self.push(n)?;
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let args = self.seq_node(args, "NEWOBJ arguments")?;
                    let n = self.call(cls, args, true)?;
                    self.push(n)?;
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
                    self.push(n)?;
                }
                b'P' | b'Q' => {
                    if self.profile != Profile::Torch {
                        return self.err(
                            "persistent ids are not allowed in this pickle (only PyTorch checkpoints use them)",
                        );
                    }
                    let pid = if self.op == b'P' {
                        let l = self.line()?.to_string();
                        self.alloc(Node::Str(l))?
                    } else {
                        self.pop()?
                    };
                    self.push(Node::PersistentId(pid))?;
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
        if !matches!(self.nodes[h], Node::List(_)) {
            let k = self.nodes[h].kind();
            return self.err(format!("appending to a {k}"));
        }
        self.grow(h, items.iter().copied(), items.len() * size_of::<H>())?;
        if let Node::List(v) = &mut self.nodes[h] {
            v.extend(items);
        }
        Ok(())
    }

    fn extend_dict(&mut self, pairs: Vec<(H, H)>) -> Result<()> {
        let h = self.top()?;
        if !matches!(self.nodes[h], Node::Dict(_)) {
            let k = self.nodes[h].kind();
            return self.err(format!("setting items on a {k}"));
        }
        let children = pairs.iter().flat_map(|&(k, v)| [k, v]);
        self.grow(h, children, pairs.len() * 2 * size_of::<H>())?;
        if let Node::Dict(v) = &mut self.nodes[h] {
            v.extend(pairs);
        }
        Ok(())
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
