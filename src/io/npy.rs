//! Reading and writing numpy `.npy` files (format versions 1, 2 and 3).
//!
//! Latents and reference activations are exchanged with the official TensorFlow code as `.npy`.
//! Reading converts every supported numeric dtype to f32 because that is what the GPU computes
//! in. The file is untrusted: every size taken from the header is checked against the bytes
//! actually present before anything is allocated from it.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::dtype::{ByteOrder, DType};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// A dense C-order array. `shape == []` is a scalar holding one element.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn fmt_err<T>(path: &str, msg: impl Into<String>) -> Result<T> {
    Err(Error::Format {
        path: path.to_string(),
        msg: msg.into(),
    })
}

/// The element type of a `.npy` file. The data is read as little-endian, so a multi-byte type
/// must say so; numpy writes `'<'` (or `'|'` for one-byte types) on every little-endian machine.
fn parse_descr(descr: &str, path: &str) -> Result<DType> {
    let unsupported = |why: &str| fmt_err(path, format!("unsupported dtype {descr:?}: {why}"));
    let (dt, order) = match DType::parse(descr) {
        Ok(parsed) => parsed,
        Err(why) => return unsupported(why),
    };
    // '=' is native order; numpy never writes it, and this reader assumes little-endian data.
    let ok = match order {
        ByteOrder::Little => true,
        ByteOrder::Native => cfg!(target_endian = "little"),
        ByteOrder::Big | ByteOrder::NotApplicable | ByteOrder::Unmarked => dt.itemsize() == 1,
    };
    if !ok {
        return unsupported("only little-endian data is supported");
    }
    Ok(dt)
}

/// Values of the Python-literal header dictionary that matter to us.
#[derive(Debug)]
enum Lit {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
    Other,
}

/// A tiny parser for the `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` header
/// that numpy writes with `repr`. It only needs to accept what numpy produces, but it must
/// reject anything else without panicking.
struct HeaderParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl HeaderParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Option<String> {
        self.ws();
        let q = *self.s.get(self.i)?;
        if q != b'\'' && q != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = start + self.s[start..].iter().position(|&c| c == q)?;
        self.i = end + 1;
        Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
    }

    fn value(&mut self) -> Option<Lit> {
        self.ws();
        match *self.s.get(self.i)? {
            b'\'' | b'"' => self.string().map(Lit::Str),
            b'(' => {
                self.i += 1;
                let mut dims = Vec::new();
                loop {
                    if self.eat(b')') {
                        return Some(Lit::Tuple(dims));
                    }
                    self.ws();
                    let start = self.i;
                    while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                        self.i += 1;
                    }
                    let digits = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                    dims.push(digits.parse().ok()?);
                    // Python 2 era files wrote long ints as `3L`.
                    self.eat(b'L');
                    if self.eat(b',') {
                        continue;
                    }
                    return if self.eat(b')') {
                        Some(Lit::Tuple(dims))
                    } else {
                        None
                    };
                }
            }
            _ => {
                let rest = &self.s[self.i..];
                for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
                    if rest.starts_with(word) {
                        self.i += word.len();
                        return Some(Lit::Bool(v));
                    }
                }
                // Structured dtypes put a list here; skip to the next top-level separator.
                let mut depth = 0i32;
                while let Some(&c) = self.s.get(self.i) {
                    match c {
                        b'[' | b'(' | b'{' => depth += 1,
                        b']' | b')' | b'}' if depth > 0 => depth -= 1,
                        b',' | b'}' if depth == 0 => break,
                        _ => {}
                    }
                    self.i += 1;
                }
                Some(Lit::Other)
            }
        }
    }

    fn dict(&mut self) -> Option<Vec<(String, Lit)>> {
        if !self.eat(b'{') {
            return None;
        }
        let mut out = Vec::new();
        loop {
            if self.eat(b'}') {
                return Some(out);
            }
            let k = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            let v = self.value()?;
            out.push((k, v));
            if !self.eat(b',') {
                return if self.eat(b'}') { Some(out) } else { None };
            }
        }
    }
}

/// Parses an in-memory `.npy` file. `path` is only used in error messages.
pub fn read_npy_bytes(bytes: &[u8], path: &str) -> Result<NpyArray> {
    let (dt, shape, data_start) = parse_npy(bytes, path)?;
    // Safe to allocate now: `parse_npy` checked that numel * size bytes are really present.
    let data = dt.le_to_f32(&bytes[data_start..]);
    Ok(NpyArray { shape, data })
}

/// The element type, shape and data offset of an in-memory `.npy` file, after checking that
/// the data after the header is exactly what the shape and type need.
pub(crate) fn parse_npy(bytes: &[u8], path: &str) -> Result<(DType, Vec<usize>, usize)> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return fmt_err(path, "not a .npy file (bad magic; expected \\x93NUMPY)");
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return fmt_err(path, "truncated .npy header");
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => {
            return fmt_err(
                path,
                format!("unsupported .npy format version {major}.{minor}"),
            )
        }
    };
    let data_start = match header_start.checked_add(header_len) {
        Some(e) if e <= bytes.len() => e,
        _ => {
            return fmt_err(
                path,
                format!(
                    "truncated .npy header: says {header_len} bytes, file has {}",
                    bytes.len() - header_start
                ),
            )
        }
    };
    let header = &bytes[header_start..data_start];
    let mut p = HeaderParser { s: header, i: 0 };
    let Some(dict) = p.dict() else {
        return fmt_err(
            path,
            format!(
                "cannot parse .npy header {:?}",
                String::from_utf8_lossy(header)
            ),
        );
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in dict {
        match (k.as_str(), v) {
            ("descr", Lit::Str(s)) => descr = Some(s),
            ("descr", _) => return fmt_err(path, "unsupported dtype: structured arrays"),
            ("fortran_order", Lit::Bool(b)) => fortran = Some(b),
            ("shape", Lit::Tuple(t)) => shape = Some(t),
            ("fortran_order" | "shape", _) => {
                return fmt_err(path, format!("malformed .npy header field {k:?}"))
            }
            _ => {}
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return fmt_err(
            path,
            "the .npy header lacks 'descr', 'fortran_order' or 'shape'",
        );
    };
    if fortran {
        return fmt_err(
            path,
            "Fortran-order arrays are not supported; save with np.ascontiguousarray",
        );
    }
    let dt = parse_descr(&descr, path)?;
    let numel = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let nbytes = numel.and_then(|n| n.checked_mul(dt.itemsize()));
    let (Some(numel), Some(nbytes)) = (numel, nbytes) else {
        return fmt_err(path, format!("shape {shape:?} is too large"));
    };
    let avail = bytes.len() - data_start;
    if avail < nbytes {
        return fmt_err(
            path,
            format!(
                "truncated data: shape {shape:?} of {descr} needs {nbytes} bytes, file has {avail}"
            ),
        );
    }
    if avail > nbytes {
        return fmt_err(
            path,
            format!(
                "shape/data-size mismatch: shape {shape:?} of {descr} needs {nbytes} bytes, \
                 file has {avail}"
            ),
        );
    }
    debug_assert_eq!(avail, numel * dt.itemsize());
    Ok((dt, shape, data_start))
}

/// Reads a `.npy` file from disk.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = crate::io::read_file(path)?;
    read_npy_bytes(&bytes, &name)
}

/// Encodes an f32 array as `.npy` bytes (version 1, or 2 if the header would not fit).
pub fn npy_bytes(shape: &[usize], data: &[f32]) -> Result<Vec<u8>> {
    check_len(shape, data.len())?;
    let le = data.iter().flat_map(|v| v.to_le_bytes());
    Ok(encode(shape, "<f4", data.len() * 4, le))
}

/// Encodes an f64 array as `.npy` bytes (numpy's default float, which statistics such as
/// pytorch-fid's `mu` and `sigma` use).
pub fn npy_bytes_f64(shape: &[usize], data: &[f64]) -> Result<Vec<u8>> {
    check_len(shape, data.len())?;
    let le = data.iter().flat_map(|v| v.to_le_bytes());
    Ok(encode(shape, "<f8", data.len() * 8, le))
}

fn check_len(shape: &[usize], len: usize) -> Result<()> {
    let numel = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if numel != Some(len) {
        return Err(Error::Invalid(format!(
            "npy: shape {shape:?} does not match {len} values"
        )));
    }
    Ok(())
}

/// The header for `shape` of `descr`, then the data's `nbytes` little-endian bytes.
fn encode(shape: &[usize], descr: &str, nbytes: usize, le: impl Iterator<Item = u8>) -> Vec<u8> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // numpy pads so that the data starts on a 64-byte boundary, ending the header with '\n'.
    // The padded header (at most 64 bytes longer) must fit v1's u16 length field.
    let v1 = header.len() + 64 <= u16::MAX as usize;
    let prefix = if v1 { 10 } else { 12 };
    let pad = (64 - (prefix + header.len() + 1) % 64) % 64;
    header.extend(std::iter::repeat_n(' ', pad));
    header.push('\n');
    let mut out = Vec::with_capacity(prefix + header.len() + nbytes);
    out.extend_from_slice(MAGIC);
    if v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend(le);
    out
}

/// Writes an f32 array as `.npy`. The file is written under a temporary name next to `path`
/// and renamed into place, so readers never see a half-written file.
pub fn write_npy(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    let path = path.as_ref();
    let bytes = npy_bytes(shape, data)?;
    super::atomic::write_atomic(path, &bytes)
}
