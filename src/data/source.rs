//! Where a dataset's images come from: telling a path's kind apart, and listing and reading
//! the images of folders and zips.
//!
//! Listing only records where each image is (an [`Entry`]); the bytes are read when the image
//! is decoded, so a large folder or zip can be opened without holding it in memory. IDX files
//! are parsed whole in `idx`, since they are one small array.

use super::labels::DATASET_JSON;
use super::{fmt_err, io_err};
use crate::error::{Error, Result};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// File extensions recognised as images inside folders and zips (compared case-insensitively).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif"];

/// File names looked for when a folder is given that holds IDX files.
const IDX_NAMES: &[&str] = &["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"];

/// The kind of a dataset path, as detected by [`Source::detect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A directory of image files (searched recursively).
    Folder(PathBuf),
    /// A `.zip` archive of image files.
    Zip(PathBuf),
    /// An IDX3 image file, gzip-compressed or not.
    Idx(PathBuf),
}

impl Source {
    /// Tells the kind of `path`: a directory holding `train-images-idx3-ubyte[.gz]` is IDX, any
    /// other directory a folder of images; a file is a zip or an IDX file by its first bytes
    /// (so a renamed file still works), falling back to its extension.
    pub fn detect(path: &Path) -> Result<Source> {
        let meta = fs::metadata(path).map_err(|e| io_err(path, e))?;
        if meta.is_dir() {
            for name in IDX_NAMES {
                let p = path.join(name);
                if p.is_file() {
                    return Ok(Source::Idx(p));
                }
            }
            return Ok(Source::Folder(path.to_path_buf()));
        }
        // A FIFO would block the open (and a device never ends): only regular files are
        // datasets, as only regular files are models.
        if !meta.is_file() {
            return Err(Error::Invalid(format!(
                "{} is {}, not a dataset: expected a folder, a .zip or an IDX3 file",
                path.display(),
                crate::io::atomic::describe_type(&meta.file_type())
            )));
        }
        let mut head = [0u8; 4];
        let n = fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| io_err(path, e))?;
        let head = &head[..n];
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if head.starts_with(b"PK") || ext == "zip" {
            Ok(Source::Zip(path.to_path_buf()))
        } else if head.starts_with(&[0x1f, 0x8b])
            || head.starts_with(&[0, 0, 8, 3])
            || ext == "gz"
            || path.to_string_lossy().contains("idx3")
        {
            Ok(Source::Idx(path.to_path_buf()))
        } else {
            Err(Error::Format {
                path: path.display().to_string(),
                msg: "not a dataset: expected a folder of images, a .zip of images, or an MNIST \
                      IDX3 images file (.gz or uncompressed)"
                    .into(),
            })
        }
    }
}

/// Where one image's bytes live.
#[derive(Clone, Debug)]
pub(super) enum Loc {
    File(PathBuf),
    Zip { archive: PathBuf, index: usize },
}

/// One image of a folder or zip dataset.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// Shown in errors: the file path, or `archive.zip/inner/name.png`.
    pub(super) name: String,
    /// The name relative to the dataset's root, `/`-separated: the key of its label in
    /// `dataset.json`.
    pub(super) rel: String,
    pub(super) loc: Loc,
}

fn is_image_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((_, ext)) => IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)),
        None => false,
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<()> {
    // Symlinks are followed, so a link to an ancestor would recurse forever.
    if depth > 64 {
        return Err(fmt_err(
            &dir.display().to_string(),
            "folders nested more than 64 deep (a symlink loop?)",
        ));
    }
    for ent in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let ent = ent.map_err(|e| io_err(dir, e))?;
        let p = ent.path();
        let name = ent.file_name().to_string_lossy().to_string();
        // Skips `.DS_Store`, `._foo.png` (macOS resource forks) and hidden folders.
        if name.starts_with('.') {
            continue;
        }
        // fs::metadata follows symlinks, so linked images and folders are included.
        let meta = fs::metadata(&p).map_err(|e| io_err(&p, e))?;
        if meta.is_dir() {
            walk(&p, out, depth + 1)?;
        } else if meta.is_file() && is_image_name(&name) {
            out.push(p);
        }
    }
    Ok(())
}

fn open_zip(p: &Path) -> Result<zip::ZipArchive<fs::File>> {
    let f = fs::File::open(p).map_err(|e| io_err(p, e))?;
    zip::ZipArchive::new(f).map_err(|e| fmt_err(&p.display().to_string(), format!("bad zip: {e}")))
}

/// Reads the raw (encoded) bytes of an entry; `zip` lets a worker reuse its open archive.
pub(super) fn read_entry(
    e: &Entry,
    zip: Option<&mut Option<(PathBuf, zip::ZipArchive<fs::File>)>>,
) -> Result<Vec<u8>> {
    match &e.loc {
        Loc::File(p) => crate::io::read_file(p),
        Loc::Zip { archive, index } => {
            let mut local = None;
            let slot = zip.unwrap_or(&mut local);
            if slot.as_ref().map(|(p, _)| p != archive).unwrap_or(true) {
                *slot = Some((archive.clone(), open_zip(archive)?));
            }
            let z = &mut slot.as_mut().unwrap().1;
            let mut f = z
                .by_index(*index)
                .map_err(|err| fmt_err(&e.name, err.to_string()))?;
            let mut buf = Vec::with_capacity(f.size() as usize);
            f.read_to_end(&mut buf)
                .map_err(|err| fmt_err(&e.name, format!("cannot read from the zip: {err}")))?;
            Ok(buf)
        }
    }
}

/// The images under a folder, searched recursively, in path order (so that a seeded run does
/// not depend on the order the file system lists them in).
pub(super) fn folder_entries(p: &Path) -> Result<Vec<Entry>> {
    let mut files = Vec::new();
    walk(p, &mut files, 0)?;
    files.sort();
    let entries = files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(p).unwrap_or(&f);
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            Entry {
                name: f.display().to_string(),
                rel: rel.join("/"),
                loc: Loc::File(f),
            }
        })
        .collect::<Vec<_>>();
    if entries.is_empty() {
        return Err(fmt_err(
            &p.display().to_string(),
            format!(
                "no images found (looked recursively for .{} files)",
                IMAGE_EXTENSIONS.join(", .")
            ),
        ));
    }
    Ok(entries)
}

/// The images in a zip, in name order.
pub(super) fn zip_entries(p: &Path) -> Result<Vec<Entry>> {
    let mut zip = open_zip(p)?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let f = zip
            .by_index(i)
            .map_err(|e| fmt_err(&p.display().to_string(), e.to_string()))?;
        let name = f.name().to_string();
        if f.is_dir() || name.starts_with("__MACOSX/") || !is_image_name(&name) {
            continue;
        }
        entries.push(Entry {
            name: format!("{}/{}", p.display(), name),
            rel: name,
            loc: Loc::Zip {
                archive: p.to_path_buf(),
                index: i,
            },
        });
    }
    if entries.is_empty() {
        return Err(fmt_err(
            &p.display().to_string(),
            format!(
                "no images in the zip (looked for .{} files)",
                IMAGE_EXTENSIONS.join(", .")
            ),
        ));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// The `dataset.json` at the root of a folder, if there is one: its name for errors and bytes.
pub(super) fn folder_dataset_json(p: &Path) -> Result<Option<(String, Vec<u8>)>> {
    let j = p.join(DATASET_JSON);
    if !j.exists() {
        return Ok(None);
    }
    Ok(Some((j.display().to_string(), crate::io::read_file(&j)?)))
}

const MAX_DATASET_JSON: u64 = 1 << 30;

/// The `dataset.json` at the root of a zip, if there is one: its name for errors and bytes.
pub(super) fn zip_dataset_json(p: &Path) -> Result<Option<(String, Vec<u8>)>> {
    let mut zip = open_zip(p)?;
    let name = format!("{}/{DATASET_JSON}", p.display());
    let mut f = match zip.by_name(DATASET_JSON) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(fmt_err(&name, e.to_string())),
    };
    // A label per image is a few dozen bytes: this is ten million images, and keeps a
    // compressed bomb from filling the memory.
    if f.size() > MAX_DATASET_JSON {
        return Err(fmt_err(
            &name,
            format!("{} bytes is too large for a labels file", f.size()),
        ));
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| fmt_err(&name, format!("cannot read from the zip: {e}")))?;
    Ok(Some((name, buf)))
}
