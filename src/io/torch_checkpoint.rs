//! PyTorch checkpoints (`torch.save(model.state_dict(), "x.pth")`), read without Python and
//! without running anything: e.g. pytorch-fid's Inception weights
//! `pt_inception-2015-12-05-6726825d.pth`.
//!
//! Both of `torch.save`'s formats are read:
//!
//! - the zip format (PyTorch >= 1.6): `<root>/data.pkl` is the pickled state dict and
//!   `<root>/data/<key>` holds each storage's raw little-endian bytes (`<root>/byteorder`, when
//!   present, says `little` or `big`);
//! - the legacy format (`_use_new_zipfile_serialization=False`, and every file before 1.6):
//!   five pickles one after the other (the magic number `0x1950a86a20f9469cfc6c`, the protocol
//!   version 1001, a `sys_info` dict, the state dict, the sorted list of storage keys) followed
//!   by each storage in that order as an i64 element count and the raw bytes.
//!
//! The pickle goes through the crate's whitelisting pickle machine with PyTorch's profile:
//! the only globals it may load are `torch._utils._rebuild_tensor_v2`, the `torch.*Storage`
//! types and `collections.OrderedDict`, and storages are referenced by persistent ids
//! `('storage', storage_type, key, location, numel[, view_metadata])`. Every other global is
//! refused when loaded, before anything could call it.
//!
//! Tensors may be views into a storage at an offset (several tensors may share one storage)
//! but must be contiguous (row-major strides); a non-contiguous tensor is an error naming it.
//! Float (f32) storages are read as they are; double, half and bfloat16 are rounded to f32, and
//! integer and bool storages (e.g. BatchNorm's `num_batches_tracked`, an int64) are converted
//! to f32 (exact up to 2^24). Complex and quantized storages are refused.
//!
//! The input is untrusted: every length and count is checked against the file before anything
//! is allocated from it (the zip container by `torch_zip`, whose index is a small multiple of
//! the directory's size and whose stored entries are borrowed, not copied), the pickles'
//! objects are charged against a limit derived from the file's size (see
//! [`crate::io::pickle`]), the f32 output is bounded by a multiple of the file size (see
//! [`MAX_OUTPUT_PER_FILE_BYTE`]), and every error names the file and, where there is one, the
//! tensor's name.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::dtype::DType;
use crate::io::pickle::{parse_torch_pickle, TorchBudget, Value};
use crate::io::torch_zip::TorchZip;
use crate::nn::params::HostTensor;

/// The f32 values all tensors together may expand to, per byte of the file. A checkpoint's
/// tensors normally hold at most one value per 2 bytes (f16) of file; one-byte storages, and
/// several tensors viewing the same storage (tied weights), can hold more, but an output more
/// than 4 values per file byte can only come from a file built to exhaust memory.
pub const MAX_OUTPUT_PER_FILE_BYTE: u64 = 4;

/// The legacy format's magic number, as pickled (a LONG1 of 10 little-endian bytes).
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const LEGACY_PROTOCOL: i64 = 1001;

/// A state dict: tensors by name, in the checkpoint's order, all converted to f32.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateDict {
    pub tensors: Vec<(String, HostTensor)>,
}

impl StateDict {
    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The names, in the checkpoint's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|(n, _)| n.as_str())
    }
}

/// Which of `torch.save`'s formats a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorchFormat {
    Zip,
    Legacy,
}

/// The format `bytes` look like, or `None` when they are neither (a zip starts with `PK\3\4`;
/// a legacy checkpoint with a pickle PROTO opcode and the LONG1 magic number).
pub fn sniff_format(bytes: &[u8]) -> Option<TorchFormat> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Some(TorchFormat::Zip);
    }
    // PROTO n, LONG1 10 <magic>
    if bytes.len() >= 14
        && bytes[0] == 0x80
        && bytes[2] == 0x8a
        && bytes[3] == 10
        && bytes[4..14] == LEGACY_MAGIC
    {
        return Some(TorchFormat::Legacy);
    }
    None
}

/// Reads a PyTorch checkpoint (either format) through [`crate::io::read_file`].
pub fn read_torch_checkpoint(path: impl AsRef<Path>) -> Result<StateDict> {
    let path = path.as_ref();
    let bytes = crate::io::read_file(path)?;
    parse_torch_checkpoint(&bytes, &path.display().to_string())
}

/// [`read_torch_checkpoint`] on bytes in memory; `path` names them in errors.
pub fn parse_torch_checkpoint(bytes: &[u8], path: &str) -> Result<StateDict> {
    match sniff_format(bytes) {
        Some(TorchFormat::Zip) => parse_zip(bytes, path),
        Some(TorchFormat::Legacy) => parse_legacy(bytes, path),
        None => Err(fmt_err(
            path,
            "not a PyTorch checkpoint: neither a zip archive (torch.save since PyTorch 1.6) nor \
             a legacy checkpoint (no magic number)",
        )),
    }
}

fn fmt_err(path: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_string(),
        msg: msg.into(),
    }
}

/// A storage's element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Elem {
    Numpy(DType),
    BF16,
}

impl Elem {
    fn from_storage_type(name: &str) -> std::result::Result<Elem, String> {
        Ok(Elem::Numpy(match name {
            "FloatStorage" => DType::F4,
            "DoubleStorage" => DType::F8,
            "HalfStorage" => DType::F2,
            "BFloat16Storage" => return Ok(Elem::BF16),
            "LongStorage" => DType::I8,
            "IntStorage" => DType::I4,
            "ShortStorage" => DType::I2,
            "CharStorage" => DType::I1,
            "ByteStorage" => DType::U1,
            "BoolStorage" => DType::Bool,
            n => {
                return Err(format!(
                    "storage type torch.{n} is not supported (only float, double, half, \
                     bfloat16, integer and bool storages are converted to f32)"
                ))
            }
        }))
    }

    fn itemsize(self) -> usize {
        match self {
            Elem::Numpy(d) => d.itemsize(),
            Elem::BF16 => 2,
        }
    }

    /// Little-endian elements to f32.
    fn to_f32(self, data: &[u8]) -> Vec<f32> {
        match self {
            Elem::Numpy(d) => d.le_to_f32(data),
            Elem::BF16 => data
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
        }
    }
}

/// A storage named by a persistent id: where its bytes are and what type they are.
struct StorageRef {
    key: String,
    elem: Elem,
    /// Element count from the persistent id.
    numel: u64,
}

/// Where storages' bytes come from: the zip entries or the legacy file's tail.
trait Storages {
    /// The little-endian bytes of storage `key`, exactly `numel * itemsize` of them.
    fn bytes(&mut self, s: &StorageRef) -> Result<&[u8]>;
}

fn parse_zip(bytes: &[u8], path: &str) -> Result<StateDict> {
    let zip = TorchZip::parse(bytes, path)?;
    // The archive's root folder is `archive` for current PyTorch, the file's stem for older
    // versions; it is whatever folder holds data.pkl.
    let pkl_names: Vec<String> = zip
        .names()
        .filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .map(str::to_string)
        .collect();
    let pkl_name = match pkl_names.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(fmt_err(
                path,
                "zip archive has no data.pkl: not a PyTorch checkpoint",
            ))
        }
        _ => {
            return Err(fmt_err(
                path,
                format!("zip archive has several data.pkl ({pkl_names:?})"),
            ))
        }
    };
    let root = pkl_name[..pkl_name.len() - "data.pkl".len()].to_string();
    let file_len = bytes.len() as u64;
    let pkl = zip.read(&pkl_name, file_len)?;
    let order_name = format!("{root}byteorder");
    let big_endian = if zip.contains(&order_name) {
        match &*zip.read(&order_name, 16)? {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(fmt_err(
                    path,
                    format!(
                        "{root}byteorder says '{}', expected 'little' or 'big'",
                        String::from_utf8_lossy(other)
                    ),
                ))
            }
        }
    } else {
        false
    };
    let mut budget = TorchBudget {
        file_len: bytes.len(),
        used: 0,
    };
    let (value, _) = parse_torch_pickle(&pkl, &format!("{path} ({pkl_name})"), &mut budget)?;
    drop(pkl);
    let mut storages = ZipStorages {
        zip,
        root,
        path,
        file_len,
        cache: HashMap::new(),
        swap: big_endian,
        read_budget: file_len.saturating_mul(MAX_OUTPUT_PER_FILE_BYTE),
    };
    build_state_dict(&value, &mut storages, path, file_len)
}

struct ZipStorages<'a> {
    zip: TorchZip<'a>,
    root: String,
    path: &'a str,
    file_len: u64,
    /// Storages read so far: borrowed from the file when stored (as PyTorch writes them),
    /// owned when inflated or byte-swapped.
    cache: HashMap<String, Cow<'a, [u8]>>,
    swap: bool,
    /// Bytes the storages may still be copied into: a re-zipped (deflated) archive is read
    /// too, and must not expand without bound.
    read_budget: u64,
}

impl Storages for ZipStorages<'_> {
    fn bytes(&mut self, s: &StorageRef) -> Result<&[u8]> {
        if !self.cache.contains_key(&s.key) {
            let name = format!("{}data/{}", self.root, s.key);
            if !self.zip.contains(&name) {
                return Err(fmt_err(
                    self.path,
                    format!("storage '{}' is missing (no zip entry {name})", s.key),
                ));
            }
            let limit = self.file_len.min(self.read_budget);
            let mut b = self.zip.read(&name, limit)?;
            if self.swap {
                // A copy, within `limit` like an inflated entry (`read` checked the size).
                swap_bytes(b.to_mut(), s.elem.itemsize());
            }
            if let Cow::Owned(o) = &b {
                self.read_budget -= o.len() as u64;
            }
            self.cache.insert(s.key.clone(), b);
        }
        let b = &self.cache[&s.key];
        check_storage_len(self.path, s, b.len() as u64)?;
        Ok(b)
    }
}

fn swap_bytes(b: &mut [u8], itemsize: usize) {
    if itemsize > 1 {
        for c in b.chunks_exact_mut(itemsize) {
            c.reverse();
        }
    }
}

/// A storage must have exactly the bytes its persistent id announces.
fn check_storage_len(path: &str, s: &StorageRef, have: u64) -> Result<()> {
    let want = s.numel.checked_mul(s.elem.itemsize() as u64);
    if want != Some(have) {
        return Err(fmt_err(
            path,
            format!(
                "storage '{}' has {have} bytes, but its {} elements of {} bytes need {}",
                s.key,
                s.numel,
                s.elem.itemsize(),
                want.map_or("more than 2^64".to_string(), |w| w.to_string())
            ),
        ));
    }
    Ok(())
}

fn parse_legacy(bytes: &[u8], path: &str) -> Result<StateDict> {
    let mut pos = 0usize;
    let mut budget = TorchBudget {
        file_len: bytes.len(),
        used: 0,
    };
    let mut next = |what: &str| -> Result<Value> {
        let name = format!("{path} ({what})");
        let (v, used) = parse_torch_pickle(&bytes[pos..], &name, &mut budget)?;
        pos += used;
        Ok(v)
    };
    match next("magic number")? {
        Value::BigInt(b) if b == LEGACY_MAGIC => {}
        v => {
            return Err(fmt_err(
                path,
                format!("legacy checkpoint: wrong magic number ({})", v.kind()),
            ))
        }
    }
    match next("protocol version")? {
        Value::Int(LEGACY_PROTOCOL) => {}
        v => {
            return Err(fmt_err(
                path,
                format!(
                    "legacy checkpoint: protocol version {v:?} is not supported (only {LEGACY_PROTOCOL})"
                ),
            ))
        }
    }
    let sys_info = next("sys_info")?;
    if sys_info.get("little_endian") == Some(&Value::Bool(false)) {
        return Err(fmt_err(
            path,
            "legacy checkpoint written on a big-endian machine: not supported",
        ));
    }
    let main = next("state dict")?;
    let keys = next("storage keys")?;
    let keys: Vec<String> = match keys.as_seq() {
        Some(items) => items
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| fmt_err(path, "legacy checkpoint: a storage key is not a str"))
            })
            .collect::<Result<_>>()?,
        None => {
            return Err(fmt_err(
                path,
                format!(
                    "legacy checkpoint: storage keys should be a list, found {}",
                    keys.kind()
                ),
            ))
        }
    };
    // The storages follow in the order of the key list: an i64 element count, the bytes. Their
    // element sizes come from the persistent ids, so the offsets are found lazily, walking the
    // list as far as needed.
    let mut storages = LegacyStorages {
        data: &bytes[pos..],
        path,
        keys,
        next_key: 0,
        pos: 0,
        found: HashMap::new(),
        pending: HashMap::new(),
    };
    collect_storage_types(&main, &mut storages.pending, path)?;
    build_state_dict(&main, &mut storages, path, bytes.len() as u64)
}

struct LegacyStorages<'a> {
    data: &'a [u8],
    path: &'a str,
    keys: Vec<String>,
    next_key: usize,
    pos: usize,
    /// Byte ranges of the storages walked so far.
    found: HashMap<String, (usize, usize)>,
    /// Element size of every storage the pickle references, by key.
    pending: HashMap<String, usize>,
}

impl Storages for LegacyStorages<'_> {
    fn bytes(&mut self, s: &StorageRef) -> Result<&[u8]> {
        while !self.found.contains_key(&s.key) {
            let Some(key) = self.keys.get(self.next_key).cloned() else {
                return Err(fmt_err(
                    self.path,
                    format!(
                        "storage '{}' is not in the checkpoint's storage list",
                        s.key
                    ),
                ));
            };
            self.next_key += 1;
            let Some(&itemsize) = self.pending.get(&key) else {
                return Err(fmt_err(
                    self.path,
                    format!(
                        "storage '{key}' is listed but no tensor uses it, so its size is unknown"
                    ),
                ));
            };
            let left = self.data.len() - self.pos;
            if left < 8 {
                return Err(fmt_err(
                    self.path,
                    format!("storage '{key}': file ends before its size (truncated file?)"),
                ));
            }
            let n = i64::from_le_bytes(self.data[self.pos..self.pos + 8].try_into().unwrap());
            let nbytes = u64::try_from(n)
                .ok()
                .and_then(|n| n.checked_mul(itemsize as u64))
                .filter(|&b| b <= (left - 8) as u64);
            let Some(nbytes) = nbytes else {
                return Err(fmt_err(
                    self.path,
                    format!(
                        "storage '{key}': {n} elements of {itemsize} bytes do not fit in the \
                         {} bytes left (truncated file?)",
                        left - 8
                    ),
                ));
            };
            let start = self.pos + 8;
            self.pos = start + nbytes as usize;
            self.found.insert(key, (start, self.pos));
        }
        let (a, b) = self.found[&s.key];
        check_storage_len(self.path, s, (b - a) as u64)?;
        Ok(&self.data[a..b])
    }
}

/// Every storage referenced in the state dict, with its element size (the legacy format needs
/// them to walk the storages).
fn collect_storage_types(v: &Value, out: &mut HashMap<String, usize>, path: &str) -> Result<()> {
    match v {
        Value::PersistentId(pid) => {
            let s = storage_ref(pid, path, "?")?;
            if let Some(&prev) = out.get(&s.key) {
                if prev != s.elem.itemsize() {
                    return Err(fmt_err(
                        path,
                        format!("storage '{}' is referenced with two element types", s.key),
                    ));
                }
            }
            out.insert(s.key, s.elem.itemsize());
        }
        Value::Tuple(v) | Value::List(v) | Value::Set(v) => {
            for x in v {
                collect_storage_types(x, out, path)?;
            }
        }
        Value::Dict(p) => {
            for (k, x) in p {
                collect_storage_types(k, out, path)?;
                collect_storage_types(x, out, path)?;
            }
        }
        Value::Object { args, .. } => {
            for x in args {
                collect_storage_types(x, out, path)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Interprets a persistent id `('storage', torch.XStorage, key, location, numel[, view])`.
fn storage_ref(pid: &Value, path: &str, tensor: &str) -> Result<StorageRef> {
    let bad = |msg: String| fmt_err(path, format!("tensor '{tensor}': {msg}"));
    let Some(items) = pid.as_seq() else {
        return Err(bad(format!(
            "storage reference should be a tuple, found {}",
            pid.kind()
        )));
    };
    if !(5..=6).contains(&items.len()) || items[0].as_str() != Some("storage") {
        return Err(bad(
            "storage reference should be ('storage', type, key, location, numel)".into(),
        ));
    }
    if let Some(view) = items.get(5) {
        if *view != Value::None {
            return Err(bad(
                "storage views (legacy view_metadata) are not supported".into(),
            ));
        }
    }
    let elem = match &items[1] {
        Value::Global(m, n) if m == "torch" => Elem::from_storage_type(n).map_err(bad)?,
        v => {
            return Err(bad(format!(
                "storage type should be a torch storage class, found {}",
                v.kind()
            )))
        }
    };
    let Some(key) = items[2].as_str() else {
        return Err(bad("storage key should be a str".into()));
    };
    let numel = items[4]
        .as_i64()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad("storage size should be a non-negative int".into()))?;
    Ok(StorageRef {
        key: key.to_string(),
        elem,
        numel,
    })
}

fn ints(v: &Value, path: &str, tensor: &str, what: &str) -> Result<Vec<u64>> {
    let bad = || {
        fmt_err(
            path,
            format!("tensor '{tensor}': {what} should be a tuple of non-negative ints"),
        )
    };
    v.as_seq()
        .ok_or_else(bad)?
        .iter()
        .map(|x| {
            x.as_i64()
                .and_then(|i| u64::try_from(i).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn build_state_dict(
    root: &Value,
    storages: &mut dyn Storages,
    path: &str,
    file_len: u64,
) -> Result<StateDict> {
    let Value::Dict(pairs) = root else {
        return Err(fmt_err(
            path,
            format!(
                "the checkpoint holds a {}, not a state dict (a dict of tensors)",
                root.kind()
            ),
        ));
    };
    let mut budget = file_len.saturating_mul(MAX_OUTPUT_PER_FILE_BYTE);
    let mut out = StateDict::default();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        let Some(name) = k.as_str() else {
            return Err(fmt_err(
                path,
                format!("state dict key should be a str, found {}", k.kind()),
            ));
        };
        let t = tensor(v, storages, path, name, &mut budget)?;
        if !seen.insert(name.to_string()) {
            // A repeated key: Python keeps the last value, in the first one's place.
            let slot = out.tensors.iter_mut().find(|(n, _)| n == name);
            if let Some(slot) = slot {
                slot.1 = t;
            }
            continue;
        }
        out.tensors.push((name.to_string(), t));
    }
    Ok(out)
}

fn tensor(
    v: &Value,
    storages: &mut dyn Storages,
    path: &str,
    name: &str,
    budget: &mut u64,
) -> Result<HostTensor> {
    let bad = |msg: String| fmt_err(path, format!("tensor '{name}': {msg}"));
    let args = match v {
        Value::Object { class, args, .. }
            if class.0 == "torch._utils" && class.1 == "_rebuild_tensor_v2" =>
        {
            args
        }
        v => {
            return Err(bad(format!(
                "expected a tensor (torch._utils._rebuild_tensor_v2), found a {}",
                v.kind()
            )))
        }
    };
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
    // backward_hooks[, metadata])
    if !(4..=7).contains(&args.len()) {
        return Err(bad(format!(
            "_rebuild_tensor_v2 called with {} arguments",
            args.len()
        )));
    }
    let Value::PersistentId(pid) = &args[0] else {
        return Err(bad(format!(
            "the storage should be a persistent id, found {}",
            args[0].kind()
        )));
    };
    let s = storage_ref(pid, path, name)?;
    let offset = args[1]
        .as_i64()
        .and_then(|o| u64::try_from(o).ok())
        .ok_or_else(|| bad("storage offset should be a non-negative int".into()))?;
    let shape = ints(&args[2], path, name, "size")?;
    let stride = ints(&args[3], path, name, "stride")?;
    if shape.len() != stride.len() {
        return Err(bad(format!(
            "size {shape:?} and stride {stride:?} have different lengths"
        )));
    }
    let numel = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("size {shape:?} overflows")))?;
    if numel > 0 {
        let mut want = 1u64;
        for (&d, &st) in shape.iter().zip(&stride).rev() {
            if d != 1 && st != want {
                return Err(bad(format!(
                    "non-contiguous tensor (size {shape:?}, stride {stride:?}) is not supported; \
                     save tensor.contiguous() instead"
                )));
            }
            want *= d;
        }
    }
    let end = offset
        .checked_add(numel)
        .filter(|&e| numel == 0 || e <= s.numel)
        .ok_or_else(|| {
            bad(format!(
                "{numel} elements at offset {offset} do not fit its storage '{}' of {} elements",
                s.key, s.numel
            ))
        })?;
    if numel > *budget {
        return Err(bad(format!(
            "the tensors expand to more than {MAX_OUTPUT_PER_FILE_BYTE} values per byte of the \
             file (shared storages?); refused"
        )));
    }
    *budget -= numel;
    let data = if numel == 0 {
        Vec::new()
    } else {
        let b = storages.bytes(&s).map_err(|e| match e {
            Error::Format { path, msg } => Error::Format {
                path,
                msg: format!("tensor '{name}': {msg}"),
            },
            e => e,
        })?;
        let isz = s.elem.itemsize();
        s.elem.to_f32(&b[offset as usize * isz..end as usize * isz])
    };
    Ok(HostTensor {
        shape: shape.iter().map(|&d| d as usize).collect(),
        data,
    })
}
