//! The zip container of `torch.save` (PyTorch >= 1.6), read within bounds set by the file's
//! own size.
//!
//! A general-purpose zip library trusts the end record more than an untrusted file deserves:
//! the `zip` crate reserves about 200 bytes per entry the end record declares before reading
//! any (13.5 MiB for a 70 KB file declaring 65535 entries), and when the directory fails to
//! parse it retries with any earlier `PK\5\6` in the file, so what it allocates depends on
//! bytes anywhere in the file. This reader:
//!
//! - takes the last end record only (and its zip64 record when the locator precedes it), with
//!   no fallback;
//! - requires the directory to lie inside the file, before the end record, and the declared
//!   entry count to fit the directory at 46 bytes (the fixed part of an entry) each, so the
//!   index it builds is a small multiple of the directory's size;
//! - requires every entry's data to lie inside the file; stored entries (all `torch.save`
//!   writes) are borrowed, never copied;
//! - inflates a deflated entry only up to its declared size, which must be under the caller's
//!   limit, and fails on one byte more;
//! - checks the CRC-32 of every entry it reads.
//!
//! Only what PyTorch writes is supported: one disk, stored or deflated entries, no encryption;
//! zip64 records and extra fields are read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use crate::error::{Error, Result};

const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
const EOCD64_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
/// The fixed part of a directory entry; each entry takes at least this much directory.
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
const EOCD_LEN: usize = 22;
const EOCD64_LEN: usize = 56;
const LOCATOR_LEN: usize = 20;

/// The entries of a zip held in memory, by name.
pub(crate) struct TorchZip<'a> {
    data: &'a [u8],
    path: &'a str,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

struct Entry {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    size: u64,
    local: u64,
}

/// Little-endian fields at an offset, `None` past the end.
fn le<const N: usize>(d: &[u8], at: usize) -> Option<[u8; N]> {
    d.get(at..at.checked_add(N)?)?.try_into().ok()
}
fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    le(d, at).map(u16::from_le_bytes)
}
fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    le(d, at).map(u32::from_le_bytes)
}
fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    le(d, at).map(u64::from_le_bytes)
}

impl<'a> TorchZip<'a> {
    /// Reads the directory of the zip `data`; `path` names it in errors.
    pub(crate) fn parse(data: &'a [u8], path: &'a str) -> Result<TorchZip<'a>> {
        let err = |msg: String| fmt_err(path, format!("bad zip archive: {msg}"));
        let eocd = find_eocd(data).ok_or_else(|| err("no end of central directory".into()))?;
        let mut count = u16_at(data, eocd + 10).unwrap_or(0) as u64;
        let mut cd_size = u32_at(data, eocd + 12).unwrap_or(0) as u64;
        let mut cd_offset = u32_at(data, eocd + 16).unwrap_or(0) as u64;
        // The directory must end before whichever end record comes first.
        let mut dir_end = eocd as u64;
        if eocd >= LOCATOR_LEN && u32_at(data, eocd - LOCATOR_LEN) == Some(EOCD64_LOCATOR_SIG) {
            let rec = u64_at(data, eocd - LOCATOR_LEN + 8).unwrap_or(u64::MAX);
            let fits = rec
                .checked_add(EOCD64_LEN as u64)
                .is_some_and(|e| e <= (eocd - LOCATOR_LEN) as u64);
            let rec = rec as usize;
            if !fits || u32_at(data, rec) != Some(EOCD64_SIG) {
                return Err(err("zip64 end record missing or out of place".into()));
            }
            count = u64_at(data, rec + 32).unwrap_or(u64::MAX);
            cd_size = u64_at(data, rec + 40).unwrap_or(u64::MAX);
            cd_offset = u64_at(data, rec + 48).unwrap_or(u64::MAX);
            dir_end = rec as u64;
        }
        let cd_end = cd_offset.checked_add(cd_size).filter(|&e| e <= dir_end);
        let Some(cd_end) = cd_end else {
            return Err(err(format!(
                "central directory ({cd_size} bytes at {cd_offset}) does not fit in the {} \
                 bytes before its end record",
                dir_end
            )));
        };
        if count.saturating_mul(CENTRAL_LEN as u64) > cd_size {
            return Err(err(format!(
                "the end record declares {count} entries but the {cd_size}-byte directory \
                 has room for at most {}",
                cd_size / CENTRAL_LEN as u64
            )));
        }
        let mut entries = Vec::with_capacity(count as usize);
        let mut by_name = HashMap::with_capacity(count as usize);
        let dir = &data[cd_offset as usize..cd_end as usize];
        let mut pos = 0usize;
        for i in 0..count as usize {
            let (e, next) = central_entry(dir, pos)
                .ok_or_else(|| err(format!("directory entry {i} is bad")))?;
            pos = next;
            if by_name.insert(e.name.clone(), entries.len()).is_some() {
                return Err(err(format!("entry {} appears twice", e.name)));
            }
            entries.push(e);
        }
        Ok(TorchZip {
            data,
            path,
            entries,
            by_name,
        })
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The contents of entry `name`, refused when they would be more than `limit` bytes:
    /// borrowed from the file when stored, inflated when deflated.
    pub(crate) fn read(&self, name: &str, limit: u64) -> Result<Cow<'a, [u8]>> {
        let err = |msg: String| fmt_err(self.path, format!("zip entry {name}: {msg}"));
        let Some(&i) = self.by_name.get(name) else {
            return Err(err("not in the archive".into()));
        };
        let e = &self.entries[i];
        if e.flags & 1 != 0 {
            return Err(err("encrypted entries are not supported".into()));
        }
        if e.size > limit {
            return Err(fmt_err(
                self.path,
                format!(
                    "zip entry {name} claims {} bytes, more than the file could hold",
                    e.size
                ),
            ));
        }
        let d = self.data;
        let local = usize::try_from(e.local).unwrap_or(usize::MAX);
        if u32_at(d, local) != Some(LOCAL_SIG) {
            return Err(err("local header missing".into()));
        }
        let name_len = u16_at(d, local + 26).unwrap_or(0) as u64;
        let extra_len = u16_at(d, local + 28).unwrap_or(0) as u64;
        let start = e.local + LOCAL_LEN as u64 + name_len + extra_len;
        let Some(raw) = start
            .checked_add(e.compressed)
            .filter(|&end| end <= d.len() as u64)
            .map(|end| &d[start as usize..end as usize])
        else {
            return Err(err(format!(
                "its {} bytes of data run past the end of the file (truncated file?)",
                e.compressed
            )));
        };
        let out: Cow<'a, [u8]> = match e.method {
            0 if e.compressed == e.size => Cow::Borrowed(raw),
            0 => {
                return Err(err(format!(
                    "stored with {} bytes, its header says {}",
                    e.compressed, e.size
                )))
            }
            8 => {
                let mut out = Vec::with_capacity(e.size as usize);
                // One byte more than declared, to notice data longer than the header says.
                flate2::read::DeflateDecoder::new(raw)
                    .take(e.size + 1)
                    .read_to_end(&mut out)
                    .map_err(|x| err(format!("bad deflate data: {x}")))?;
                if out.len() as u64 != e.size {
                    return Err(err(format!(
                        "{} bytes of data, its header says {}",
                        out.len(),
                        e.size
                    )));
                }
                Cow::Owned(out)
            }
            m => return Err(err(format!("compression method {m} is not supported"))),
        };
        let mut crc = flate2::Crc::new();
        crc.update(&out);
        if crc.sum() != e.crc {
            return Err(err("CRC-32 mismatch (corrupted file?)".into()));
        }
        Ok(out)
    }
}

fn fmt_err(path: &str, msg: String) -> Error {
    Error::Format {
        path: path.to_string(),
        msg,
    }
}

/// The last end record whose comment fits in the file.
fn find_eocd(d: &[u8]) -> Option<usize> {
    let last = d.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(u16::MAX as usize);
    (first..=last).rev().find(|&p| {
        u32_at(d, p) == Some(EOCD_SIG)
            && p + EOCD_LEN + u16_at(d, p + 20).unwrap_or(u16::MAX) as usize <= d.len()
    })
}

/// The directory entry at `pos` of `dir` and where the next one starts.
fn central_entry(dir: &[u8], pos: usize) -> Option<(Entry, usize)> {
    if u32_at(dir, pos)? != CENTRAL_SIG {
        return None;
    }
    let name_len = u16_at(dir, pos + 28)? as usize;
    let extra_len = u16_at(dir, pos + 30)? as usize;
    let comment_len = u16_at(dir, pos + 32)? as usize;
    let name_at = pos + CENTRAL_LEN;
    let name = dir.get(name_at..name_at + name_len)?;
    let extra = dir.get(name_at + name_len..name_at + name_len + extra_len)?;
    let next = name_at + name_len + extra_len + comment_len;
    if next > dir.len() {
        return None;
    }
    let mut e = Entry {
        name: String::from_utf8_lossy(name).into_owned(),
        flags: u16_at(dir, pos + 8)?,
        method: u16_at(dir, pos + 10)?,
        crc: u32_at(dir, pos + 16)?,
        compressed: u32_at(dir, pos + 20)? as u64,
        size: u32_at(dir, pos + 24)? as u64,
        local: u32_at(dir, pos + 42)? as u64,
    };
    zip64_extra(extra, &mut e)?;
    Some((e, next))
}

/// The zip64 extra field (id 1): 64-bit values, in this order, for those of size, compressed
/// size and local header offset that are 0xFFFFFFFF.
fn zip64_extra(mut extra: &[u8], e: &mut Entry) -> Option<()> {
    while extra.len() >= 4 {
        let id = u16_at(extra, 0)?;
        let len = u16_at(extra, 2)? as usize;
        let body = extra.get(4..4 + len)?;
        if id == 1 {
            let mut at = 0;
            for field in [&mut e.size, &mut e.compressed, &mut e.local] {
                if *field == u32::MAX as u64 {
                    *field = u64_at(body, at)?;
                    at += 8;
                }
            }
        }
        extra = &extra[4 + len..];
    }
    Some(())
}
