//! Compiled pipelines kept across runs (wgpu's `PipelineCache`, Vulkan only): a run that starts
//! with a warm cache skips the driver's shader compilation, which dominates a short run. The
//! file lives under the user's cache directory (`Policy::pipeline_cache`), one per adapter and
//! driver (`wgpu::util::pipeline_cache_key`), and is written atomically when the context that
//! compiled new pipelines goes away.
//!
//! A cache file can be truncated, corrupted, or come from another driver or wgpu version: it
//! is wrapped in our own header with the payload's length and checksum, and wgpu checks the
//! rest (device, driver, version). Anything that does not check out is ignored, never fatal:
//! the run compiles from scratch and writes a fresh cache.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"SGWPCv01";
/// Magic, payload length (u64 LE), FNV-1a 64 of the payload (u64 LE).
const HEADER: usize = 24;
/// Larger files are not read: a pipeline cache of this crate's kernels is a few MiB.
const MAX_BYTES: u64 = 512 << 20;

fn fnv1a(data: &[u8]) -> u64 {
    crate::hash::fnv1a(crate::hash::FNV_START, data)
}

/// The payload of a cache file, when its header checks out.
fn unwrap(bytes: &[u8]) -> Option<&[u8]> {
    let (head, payload) = (bytes.get(..HEADER)?, bytes.get(HEADER..)?);
    let len = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let sum = u64::from_le_bytes(head[16..24].try_into().ok()?);
    (&head[..8] == MAGIC && len == payload.len() as u64 && sum == fnv1a(payload)).then_some(payload)
}

fn wrap(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The context's pipeline cache and the file it is saved to.
pub(crate) struct DiskCache {
    path: PathBuf,
    pub cache: wgpu::PipelineCache,
    /// Whether the file held usable data at start.
    pub warm: bool,
    /// Pipelines compiled through the cache since it was opened.
    pub compiled: Cell<usize>,
}

impl DiskCache {
    /// Opens the cache for `info` under `dir` (the device must have `PIPELINE_CACHE`); `None`
    /// when the adapter's backend keeps no pipeline caches.
    pub fn open(device: &wgpu::Device, info: &wgpu::AdapterInfo, dir: &Path) -> Option<DiskCache> {
        let key = wgpu::util::pipeline_cache_key(info)?;
        let path = dir.join(format!("{key}.bin"));
        let bytes = std::fs::metadata(&path)
            .ok()
            .filter(|m| m.is_file() && m.len() <= MAX_BYTES)
            .and_then(|_| std::fs::read(&path).ok());
        let data = bytes.as_deref().and_then(unwrap);
        // SAFETY: `data` is what `PipelineCache::get_data` returned in an earlier run (our
        // header's length and checksum match); wgpu then checks its own header (device,
        // driver, version) and, with `fallback`, ignores data it cannot use.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("stylegan pipeline cache"),
                data,
                fallback: true,
            })
        };
        Some(DiskCache {
            path,
            cache,
            warm: data.is_some(),
            compiled: Cell::new(0),
        })
    }

    /// Writes the cache when pipelines were compiled since it was opened (atomically: a
    /// temporary file renamed over the old one).
    pub fn save(&self) -> Result<()> {
        if self.compiled.get() == 0 {
            return Ok(());
        }
        let Some(data) = self.cache.get_data() else {
            return Ok(());
        };
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| Error::Io { path, source }
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        // Contexts of one process (tests run many) and other processes may save at once: each
        // writes its own temporary file, and the last rename wins, whole.
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .path
            .with_extension(format!("tmp{}-{n}", std::process::id()));
        let write = std::fs::write(&tmp, wrap(&data))
            .map_err(io(&tmp))
            .and_then(|_| std::fs::rename(&tmp, &self.path).map_err(io(&self.path)));
        match write {
            Ok(()) => self.compiled.set(0),
            Err(_) => {
                std::fs::remove_file(&tmp).ok();
            }
        }
        write
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_catches_truncation_and_corruption() {
        let payload = b"pipeline cache bytes".to_vec();
        let file = wrap(&payload);
        assert_eq!(unwrap(&file), Some(&payload[..]));
        assert_eq!(unwrap(&file[..file.len() - 1]), None, "truncated");
        let mut flipped = file.clone();
        flipped[HEADER + 3] ^= 1;
        assert_eq!(unwrap(&flipped), None, "corrupted");
        assert_eq!(unwrap(b"WGPUPLCH something else entirely"), None, "foreign");
        assert_eq!(unwrap(&[]), None);
    }
}
