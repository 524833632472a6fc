//! Writing files so that nothing is lost and nothing is clobbered. Every file the crate and
//! the `stylegan` binary write (PNG, JPEG, GIF, grids, `.npy`, safetensors models and
//! snapshots, JSON) goes through [`write_atomic`], or [`write_atomic_with`] for what is too large
//! to hold in memory (dataset archives).
//!
//! - The bytes go to a new temporary file in the destination's folder, which is fsynced and
//!   then renamed over the destination, and the folder is fsynced after the rename: a crash,
//!   a kill or a full disk leaves either the old file or the new one, never half of one, and
//!   a write that returned `Ok` survives a power cut. Every error is returned (encoders that
//!   write through a `BufWriter` lose the error of its final flush on drop, which is how a
//!   full disk used to leave 0-byte PNGs behind); on error the temporary file is removed.
//! - A symlink is written through: its target is replaced and the link stays a link.
//! - Hand-written rather than `tempfile`'s `persist`: it also fsyncs the folder after the
//!   rename, writes through symlinks and refuses special files, and names its temporary file
//!   `.name.tmpPID` so a killed run's leftovers can be recognized and removed.
//! - A path that exists and is not a regular file (a directory, a FIFO, a device such as
//!   `/dev/full`, a socket) is refused: renaming over it would replace the node itself, not
//!   write to it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Symlinks followed before giving up (Linux's own limit for path resolution is 40).
const MAX_LINKS: usize = 40;

/// Replaces the content of `path` with `bytes`, atomically and durably (module docs).
/// Errors name `path` (and the symlink's target where it has one).
///
/// The temporary file is `.{name}.tmp{pid}` next to the destination (`.{name}.{k}.tmp{pid}`
/// when that name is taken), so a crash leaves at most such hidden files, never a file under
/// the destination's name.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f, shown| {
        f.write_all(bytes).map_err(|source| Error::Io {
            path: shown.to_string(),
            source,
        })
    })
}

/// [`write_atomic`] for output too large to hold in memory (a dataset archive): `fill` writes
/// the content into the temporary file, which becomes `path` only when `fill` returns `Ok`; on
/// any error (and a stop is one) the temporary file is removed and `path` is untouched.
/// `fill` gets the file and the destination's name as errors should show it.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File, &str) -> Result<()>,
) -> Result<()> {
    let target = resolve_target(path)?;
    let shown = if target == path {
        path.display().to_string()
    } else {
        format!("{} (-> {})", path.display(), target.display())
    };
    let io = |source| Error::Io {
        path: shown.clone(),
        source,
    };
    let dir = parent(&target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Invalid(format!("{shown}: not a file name")))?;
    // Replacing a file keeps its permissions (a new file gets the umask's, as `File::create`).
    let perms = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let (tmp, mut f) = create_temp(dir, &name).map_err(io)?;
    let res = fill(&mut f, &shown).and_then(|()| {
        (|| {
            if let Some(p) = perms {
                f.set_permissions(p)?;
            }
            // The data must be on disk before the rename makes it the file: otherwise a power
            // cut can leave the new name pointing at an empty or partial file.
            f.sync_all()?;
            // Closed before the rename (Windows refuses to rename an open file); on wasm a
            // File has no Drop, hence the allow.
            #[allow(clippy::drop_non_drop)]
            drop(f);
            std::fs::rename(&tmp, &target)?;
            // The rename lives in the folder: without this fsync it can be lost after `Ok`.
            sync_dir(dir)
        })()
        .map_err(io)
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Where a write to `path` must go: `path` itself, or the end of its chain of symlinks (which
/// need not exist yet). An existing destination must be a regular file.
pub fn resolve_target(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(source) => {
                return Err(Error::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let link = std::fs::read_link(&p).map_err(|source| Error::Io {
                path: p.display().to_string(),
                source,
            })?;
            p = if link.is_absolute() {
                link
            } else {
                parent(&p).join(link)
            };
            continue;
        }
        if ft.is_file() {
            return Ok(p);
        }
        let via = if p == path {
            String::new()
        } else {
            format!(" (its target {})", p.display())
        };
        return Err(Error::Invalid(format!(
            "{}{via} exists and is {}, not a regular file; refusing to replace it \
             (give the path of a regular file or of a new one)",
            path.display(),
            describe_type(&ft)
        )));
    }
    Err(Error::Invalid(format!(
        "{}: more than {MAX_LINKS} levels of symlinks",
        path.display()
    )))
}

/// What kind of file system object `ft` is, for error messages ("a FIFO (named pipe)").
pub fn describe_type(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symlink"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// The folder holding `path` ("." for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A new temporary file next to the destination. `create_new` (O_EXCL) never opens an existing
/// file, so a stale temporary file, or a symlink planted under its name, is never written
/// through; the counter keeps two writes of one process to the same path apart.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let mut tmp = dir.join(format!(".{name}.tmp{pid}"));
    loop {
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let k = COUNTER.fetch_add(1, Ordering::Relaxed);
                if k > 10_000 {
                    return Err(e);
                }
                tmp = dir.join(format!(".{name}.{k}.tmp{pid}"));
            }
            Err(e) => return Err(e),
        }
    }
}

/// fsyncs a folder, so that a rename in it is durable. Folders cannot be opened as files on
/// Windows (NTFS journals renames itself); some file systems refuse fsync on a folder, which
/// only means they give no such guarantee, so those answers are not errors.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir).and_then(|d| d.sync_all()) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
                ) =>
            {
                Ok(())
            }
            r => r,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether `a` and `b` name the same existing file, also through symlinks or hard links
/// (same device and inode on Unix; same canonical path elsewhere). A path that does not
/// exist is no file, so the answer is then `false`.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (ma.dev(), ma.ino()) == (mb.dev(), mb.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
    }
}
