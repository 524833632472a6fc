//! Training datasets and the background batch loader.
//!
//! Three sources are accepted, told apart by [`Dataset::open`]:
//! - a folder of PNG / JPEG / GIF images, searched recursively (files are sorted by path so the
//!   image order, and hence a seeded run, does not depend on the file system);
//! - a `.zip` of such images;
//! - MNIST / Fashion-MNIST IDX3 image files (`train-images-idx3-ubyte[.gz]`, or a folder holding
//!   one). Their 28x28 digits are padded, centred, with black into 32x32 because StyleGAN needs
//!   power-of-two resolutions; labels are ignored (StyleGAN v1 is unconditional).
//!
//! Image rules. Without a `resolution` (the CLI's `--resize`) every image must be square, a power
//! of two, and the same size as the first one; the error names the offending file and both
//! sizes. With a `resolution`, non-square images are centre-cropped to a square and resized with
//! Lanczos3. Grayscale images (L / LA) give 1 channel, RGB / RGBA 3 (alpha is dropped, not
//! composited). A folder that mixes grayscale and colour images is trained in colour: the gray
//! ones are replicated to 3 channels instead of failing, since that is lossless.
//! `grayscale: Some(true)` / `Some(false)` forces 1 / 3 channels.
//!
//! Memory. Every header is read at open time, so size problems surface before training starts.
//! If the decoded dataset fits in [`DataOptions::memory_limit`] it is decoded at once (in
//! parallel) into one `u8` CHW buffer, which also surfaces corrupt files up front; larger folders
//! and zips are decoded lazily by the loader's background thread, and a corrupt file then turns
//! into an error from [`Loader::next_batch`] naming it.
//!
//! Order. [`Loader`] visits every image exactly once per epoch in an order that is a pure
//! function of `(seed, epoch)`, and the horizontal flip of an image is a pure function of
//! `(seed, position in the stream)`. The stream is therefore fully determined by the seed and the
//! number of images consumed so far, which is what [`Loader::new_at`] needs to resume a run
//! exactly. The generator is a hand-written SplitMix64 rather than `rand`'s `StdRng`, whose
//! stream is not promised to stay the same across `rand` versions.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use image::{ColorType, DynamicImage, ImageDecoder, ImageReader};
use std::borrow::Cow;
use std::fs;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// File extensions recognised as images inside folders and zips (compared case-insensitively).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif"];

/// File names looked for when a folder is given that holds IDX files.
const IDX_NAMES: &[&str] = &["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"];

/// What a dataset looks like once opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetInfo {
    /// Number of images (after `max_images`).
    pub len: usize,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Width = height of every image as delivered to the loader.
    pub resolution: usize,
    /// Human-readable description, e.g. `folder /data/faces` or `idx /x/train-images-idx3-ubyte.gz`.
    pub source: String,
    /// Whether the whole dataset was decoded into memory at open time.
    pub in_memory: bool,
}

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

/// How to open a dataset.
#[derive(Clone, Debug)]
pub struct DataOptions {
    /// Resize every image to this power-of-two resolution (centre-cropping non-square images).
    /// `None`: images must already be square, power-of-two and all the same size.
    pub resolution: Option<usize>,
    /// Use only the first `n` images (in sorted path order).
    pub max_images: Option<usize>,
    /// `Some(true)`: convert everything to 1 channel; `Some(false)`: to 3 channels;
    /// `None`: 1 channel if every image is grayscale, else 3.
    pub grayscale: Option<bool>,
    /// Decode the whole dataset into memory at open time when it takes at most this many bytes
    /// (as u8 CHW); otherwise decode lazily in the loader. Default 2 GiB.
    pub memory_limit: usize,
}

impl Default for DataOptions {
    fn default() -> Self {
        DataOptions {
            resolution: None,
            max_images: None,
            grayscale: None,
            memory_limit: 2 << 30,
        }
    }
}

/// Where one image's bytes live.
#[derive(Clone, Debug)]
enum Loc {
    File(PathBuf),
    Zip { archive: PathBuf, index: usize },
}

#[derive(Clone, Debug)]
struct Entry {
    /// Shown in errors: the file path, or `archive.zip/inner/name.png`.
    name: String,
    loc: Loc,
}

enum Storage {
    /// `len * channels * res * res` bytes, image-major, CHW within an image.
    Memory(Vec<u8>),
    /// Decoded on demand.
    Lazy(Vec<Entry>),
}

/// An opened dataset: images of `channels x resolution x resolution` u8 pixels.
pub struct Dataset {
    info: DatasetInfo,
    storage: Storage,
    /// Whether lazily decoded images must be resized (a `resolution` was given).
    resize: bool,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset").field("info", &self.info).finish()
    }
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn fmt_err(name: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        path: name.to_string(),
        msg: msg.into(),
    }
}

fn is_image_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((_, ext)) => IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)),
        None => false,
    }
}

fn is_gray(c: ColorType) -> bool {
    matches!(
        c,
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16
    )
}

fn check_target_resolution(r: usize) -> Result<()> {
    if r < 4 || !r.is_power_of_two() {
        return Err(Error::Invalid(format!(
            "dataset resolution must be a power of two >= 4, got {r}"
        )));
    }
    Ok(())
}

impl Dataset {
    /// Opens a folder, zip or IDX file; see the module docs for the rules.
    pub fn open(path: &Path, opts: &DataOptions) -> Result<Dataset> {
        Self::open_source(&Source::detect(path)?, opts)
    }

    /// Opens an already-classified source.
    pub fn open_source(src: &Source, opts: &DataOptions) -> Result<Dataset> {
        if let Some(r) = opts.resolution {
            check_target_resolution(r)?;
        }
        if opts.max_images == Some(0) {
            return Err(Error::Invalid("max_images must be at least 1".into()));
        }
        match src {
            Source::Idx(p) => open_idx(p, opts),
            Source::Folder(p) => {
                let mut files = Vec::new();
                walk(p, &mut files, 0)?;
                files.sort();
                let entries = files
                    .into_iter()
                    .map(|f| Entry {
                        name: f.display().to_string(),
                        loc: Loc::File(f),
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
                open_entries(entries, format!("folder {}", p.display()), opts)
            }
            Source::Zip(p) => {
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
                        loc: Loc::Zip {
                            archive: p.clone(),
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
                open_entries(entries, format!("zip {}", p.display()), opts)
            }
        }
    }

    /// Wraps images already in memory (`len * channels * res * res` u8, CHW per image), e.g.
    /// synthetic data for tests or benchmarks.
    pub fn from_memory(
        data: Vec<u8>,
        channels: usize,
        resolution: usize,
        source: &str,
    ) -> Result<Dataset> {
        let per = channels * resolution * resolution;
        if per == 0
            || data.is_empty()
            || !data.len().is_multiple_of(per)
            || !(channels == 1 || channels == 3)
        {
            return Err(Error::Invalid(format!(
                "Dataset::from_memory: {} bytes is not a whole number of {channels}x{resolution}x{resolution} images",
                data.len()
            )));
        }
        Ok(Dataset {
            info: DatasetInfo {
                len: data.len() / per,
                channels,
                resolution,
                source: source.to_string(),
                in_memory: true,
            },
            storage: Storage::Memory(data),
            resize: false,
        })
    }

    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    pub fn len(&self) -> usize {
        self.info.len
    }

    pub fn is_empty(&self) -> bool {
        self.info.len == 0
    }

    /// Bytes of one image (`channels * resolution^2`).
    pub fn image_bytes(&self) -> usize {
        self.info.channels * self.info.resolution * self.info.resolution
    }

    /// Image `i` as u8 CHW; decodes it if the dataset is lazy.
    pub fn image(&self, i: usize) -> Result<Cow<'_, [u8]>> {
        if i >= self.info.len {
            return Err(Error::Invalid(format!(
                "image index {i} out of range for a dataset of {} images",
                self.info.len
            )));
        }
        let n = self.image_bytes();
        match &self.storage {
            Storage::Memory(d) => Ok(Cow::Borrowed(&d[i * n..(i + 1) * n])),
            Storage::Lazy(entries) => {
                let mut out = vec![0u8; n];
                let bytes = read_entry(&entries[i], None)?;
                decode_into(&entries[i].name, &bytes, &self.info, self.resize, &mut out)?;
                Ok(Cow::Owned(out))
            }
        }
    }

    /// The name (path) of image `i` for folders and zips; `None` for IDX / in-memory data.
    pub fn image_name(&self, i: usize) -> Option<&str> {
        match &self.storage {
            Storage::Lazy(e) => e.get(i).map(|e| e.name.as_str()),
            Storage::Memory(_) => None,
        }
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
fn read_entry(
    e: &Entry,
    zip: Option<&mut Option<(PathBuf, zip::ZipArchive<fs::File>)>>,
) -> Result<Vec<u8>> {
    match &e.loc {
        Loc::File(p) => fs::read(p).map_err(|err| io_err(p, err)),
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

fn reader(bytes: &[u8]) -> ImageReader<Cursor<&[u8]>> {
    // Guessing from the magic bytes cannot fail on I/O for an in-memory cursor.
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap_or_else(|_| ImageReader::new(Cursor::new(bytes)))
}

/// Reads only the header: (width, height, is grayscale).
fn probe(name: &str, bytes: &[u8]) -> Result<(u32, u32, bool)> {
    let dec = reader(bytes)
        .into_decoder()
        .map_err(|e| fmt_err(name, format!("cannot read image: {e}")))?;
    let (w, h) = dec.dimensions();
    if w == 0 || h == 0 {
        return Err(fmt_err(name, "image has zero size"));
    }
    Ok((w, h, is_gray(dec.color_type())))
}

/// Decodes one image into `out` (CHW u8), converting channels and resizing as `info` says.
fn decode_into(
    name: &str,
    bytes: &[u8],
    info: &DatasetInfo,
    resize: bool,
    out: &mut [u8],
) -> Result<()> {
    let img = reader(bytes)
        .decode()
        .map_err(|e| fmt_err(name, format!("cannot decode image: {e}")))?;
    let r = info.resolution;
    let (w, h) = (img.width() as usize, img.height() as usize);
    if !resize && (w != r || h != r) {
        // The header said otherwise at open time; the file changed since.
        return Err(fmt_err(
            name,
            format!("image is {w}x{h}, expected {r}x{r} like the rest of the dataset"),
        ));
    }
    let img = if resize && (w != r || h != r) {
        let s = w.min(h) as u32;
        let cropped = img.crop_imm((w as u32 - s) / 2, (h as u32 - s) / 2, s, s);
        if s as usize == r {
            cropped
        } else {
            cropped.resize_exact(r as u32, r as u32, FilterType::Lanczos3)
        }
    } else {
        img
    };
    write_chw(&img, info.channels, out);
    Ok(())
}

fn write_chw(img: &DynamicImage, channels: usize, out: &mut [u8]) {
    if channels == 1 {
        out.copy_from_slice(img.to_luma8().as_raw());
    } else {
        let rgb = img.to_rgb8();
        let hw = out.len() / 3;
        for (p, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            out[p] = px[0];
            out[hw + p] = px[1];
            out[2 * hw + p] = px[2];
        }
    }
}

fn worker_count(jobs: usize) -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16)
        .min(jobs)
        .max(1)
}

/// Decodes `entries` into consecutive slots of `out` on several threads; the returned error is
/// the one of the lowest-numbered failing entry, so it does not depend on thread timing.
fn decode_many(entries: &[&Entry], info: &DatasetInfo, resize: bool, out: &mut [u8]) -> Result<()> {
    let n = info.channels * info.resolution * info.resolution;
    let workers = worker_count(entries.len());
    let per = entries.len().div_ceil(workers);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(per)
            .zip(out.chunks_mut(per * n))
            .map(|(ents, buf)| {
                s.spawn(move || -> Result<()> {
                    let mut zip = None;
                    for (e, slot) in ents.iter().zip(buf.chunks_mut(n)) {
                        let bytes = read_entry(e, Some(&mut zip))?;
                        decode_into(&e.name, &bytes, info, resize, slot)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Invalid("image decoding thread panicked".into()))
                })
            })
            .collect()
    });
    results.into_iter().collect()
}

/// Scans headers (sizes, gray vs colour), validates them, then decodes eagerly if small enough.
fn open_entries(mut entries: Vec<Entry>, source: String, opts: &DataOptions) -> Result<Dataset> {
    if let Some(m) = opts.max_images {
        entries.truncate(m);
    }
    let mut first: Option<(String, u32, u32)> = None;
    let mut any_color = false;
    let mut zip = None;
    for e in &entries {
        let bytes = read_entry(e, Some(&mut zip))?;
        let (w, h, gray) = probe(&e.name, &bytes)?;
        any_color |= !gray;
        if opts.resolution.is_some() {
            continue;
        }
        match &first {
            None => {
                if w != h || w < 4 || !w.is_power_of_two() {
                    return Err(fmt_err(
                        &e.name,
                        format!(
                            "image is {w}x{h}; without --resize images must be square with a \
                             power-of-two side >= 4 (pass --resize N to crop and resize)"
                        ),
                    ));
                }
                first = Some((e.name.clone(), w, h));
            }
            Some((fname, fw, fh)) => {
                if (w, h) != (*fw, *fh) {
                    return Err(fmt_err(
                        &e.name,
                        format!(
                            "image is {w}x{h} but {fname} is {fw}x{fh}; all images must have the \
                             same size (or pass --resize N)"
                        ),
                    ));
                }
            }
        }
    }
    let resolution = match (opts.resolution, &first) {
        (Some(r), _) => r,
        (None, Some((_, w, _))) => *w as usize,
        (None, None) => unreachable!("entries is non-empty"),
    };
    let channels = match opts.grayscale {
        Some(true) => 1,
        Some(false) => 3,
        None if any_color => 3,
        None => 1,
    };
    let mut info = DatasetInfo {
        len: entries.len(),
        channels,
        resolution,
        source,
        in_memory: false,
    };
    let resize = opts.resolution.is_some();
    let n = channels * resolution * resolution;
    let total = entries.len().saturating_mul(n);
    if total <= opts.memory_limit {
        let mut data = vec![0u8; total];
        let refs: Vec<&Entry> = entries.iter().collect();
        decode_many(&refs, &info, resize, &mut data)?;
        info.in_memory = true;
        return Ok(Dataset {
            info,
            storage: Storage::Memory(data),
            resize,
        });
    }
    Ok(Dataset {
        info,
        storage: Storage::Lazy(entries),
        resize,
    })
}

/// Parses an IDX3 image file (gzip or not) and pads each image centred to a power-of-two square.
fn open_idx(p: &Path, opts: &DataOptions) -> Result<Dataset> {
    let name = p.display().to_string();
    let raw = fs::read(p).map_err(|e| io_err(p, e))?;
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| fmt_err(&name, format!("cannot gunzip: {e}")))?;
        out
    } else {
        raw
    };
    let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    if data.len() < 4 {
        return Err(fmt_err(
            &name,
            format!("IDX file too short ({} bytes)", data.len()),
        ));
    }
    let magic = word(0);
    if magic == 0x0000_0801 {
        return Err(fmt_err(
            &name,
            "this is an IDX label file; pass the images file (train-images-idx3-ubyte.gz)",
        ));
    }
    if magic != 0x0000_0803 {
        return Err(fmt_err(
            &name,
            format!("not an IDX3 u8 images file (magic {magic:#010x}, expected 0x00000803)"),
        ));
    }
    if data.len() < 16 {
        return Err(fmt_err(
            &name,
            format!("IDX header truncated ({} bytes)", data.len()),
        ));
    }
    let (count, rows, cols) = (word(4) as usize, word(8) as usize, word(12) as usize);
    let expect = count
        .checked_mul(rows)
        .and_then(|x| x.checked_mul(cols))
        .and_then(|x| x.checked_add(16));
    if expect != Some(data.len()) {
        return Err(fmt_err(
            &name,
            format!(
                "IDX header says {count} images of {rows}x{cols} ({} bytes with the header) but \
                 the data has {} bytes",
                expect.map(|e| e.to_string()).unwrap_or("too many".into()),
                data.len()
            ),
        ));
    }
    if count == 0 || rows == 0 || cols == 0 {
        return Err(fmt_err(&name, "IDX file holds no images"));
    }
    let count = opts.max_images.map_or(count, |m| m.min(count));
    // Pad (not resize) to the next power of two: 28 -> 32 keeps the digits' pixels intact.
    let side = rows.max(cols).next_power_of_two().max(4);
    let (oy, ox) = ((side - rows) / 2, (side - cols) / 2);
    let target = opts.resolution.unwrap_or(side);
    let channels = if opts.grayscale == Some(false) { 3 } else { 1 };
    let n = channels * target * target;
    let mut out = vec![0u8; count * n];
    let src_n = rows * cols;
    for (i, dst) in out.chunks_mut(n).enumerate() {
        let src = &data[16 + i * src_n..16 + (i + 1) * src_n];
        let mut padded = vec![0u8; side * side];
        for y in 0..rows {
            padded[(y + oy) * side + ox..(y + oy) * side + ox + cols]
                .copy_from_slice(&src[y * cols..(y + 1) * cols]);
        }
        let plane = if target != side {
            let img = image::GrayImage::from_raw(side as u32, side as u32, padded)
                .expect("buffer size matches");
            image::imageops::resize(&img, target as u32, target as u32, FilterType::Lanczos3)
                .into_raw()
        } else {
            padded
        };
        for c in 0..channels {
            dst[c * target * target..(c + 1) * target * target].copy_from_slice(&plane);
        }
    }
    Ok(Dataset {
        info: DatasetInfo {
            len: count,
            channels,
            resolution: target,
            source: format!("idx {name}"),
            in_memory: true,
        },
        storage: Storage::Memory(out),
        resize: false,
    })
}

// ---------------------------------------------------------------------------------------------
// Deterministic order

/// SplitMix64 finaliser: a good 64-bit mix, used both as a hash and as a counter-based PRNG.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The visiting order of epoch `epoch`: a Fisher-Yates shuffle seeded from `(seed, epoch)`.
pub fn epoch_order(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut state = mix64(mix64(seed ^ 0x005e_ed0f_da7a) ^ epoch);
    for i in (1..len).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let r = mix64(state);
        // Multiply-shift maps r to [0, i] without the bias of a modulo.
        let j = ((r as u128 * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

/// Whether the image at stream position `pos` is mirrored (when mirroring is on).
pub fn flip_at(seed: u64, pos: u64) -> bool {
    mix64(mix64(seed ^ 0xf11b_f11b_f11b) ^ pos) >> 63 == 1
}

/// The dataset index at each stream position in `start..start + count`.
fn stream_indices(len: usize, seed: u64, start: u64, count: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(count);
    let mut cached: Option<(u64, Vec<usize>)> = None;
    for pos in start..start + count as u64 {
        let (epoch, k) = (pos / len as u64, (pos % len as u64) as usize);
        if cached.as_ref().map(|(e, _)| *e != epoch).unwrap_or(true) {
            cached = Some((epoch, epoch_order(len, seed, epoch)));
        }
        out.push(cached.as_ref().unwrap().1[k]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Loader

/// Produces shuffled batches on a background thread, `prefetch` batches ahead.
pub struct Loader {
    rx: Option<Receiver<Result<Vec<f32>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    batch: usize,
    consumed: u64,
    info: DatasetInfo,
}

impl Loader {
    /// A loader starting at the beginning of epoch 0.
    pub fn new(ds: Arc<Dataset>, batch: usize, seed: u64, mirror: bool, prefetch: usize) -> Loader {
        Self::new_at(ds, batch, seed, mirror, prefetch, 0)
    }

    /// A loader whose first batch starts at stream position `start` (images consumed so far by
    /// an earlier run with the same seed): its batches equal those the earlier loader would
    /// have produced next.
    pub fn new_at(
        ds: Arc<Dataset>,
        batch: usize,
        seed: u64,
        mirror: bool,
        prefetch: usize,
        start: u64,
    ) -> Loader {
        let (tx, rx) = sync_channel(prefetch.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let info = ds.info().clone();
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("stylegan-data".into())
            .spawn(move || {
                let mut pos = start;
                while !stop2.load(Ordering::Relaxed) {
                    let r = make_batch(&ds, batch, seed, mirror, pos);
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                    pos += batch as u64;
                }
            })
            .ok();
        Loader {
            rx: Some(rx),
            stop,
            thread,
            batch,
            consumed: start,
            info,
        }
    }

    /// The next `[batch, C, R, R]` batch, values `x / 127.5 - 1` in [-1, 1].
    pub fn next_batch(&mut self) -> Result<Vec<f32>> {
        if self.batch == 0 {
            return Err(Error::Invalid(
                "data loader batch size must be at least 1".into(),
            ));
        }
        let rx = self.rx.as_ref().expect("receiver lives until drop");
        match rx.recv() {
            Ok(Ok(b)) => {
                self.consumed += self.batch as u64;
                Ok(b)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Invalid(
                "data loader thread has stopped (after an earlier error)".into(),
            )),
        }
    }

    /// Images handed out so far, counting the `start` given to [`Loader::new_at`]: pass this
    /// back to `new_at` to resume.
    pub fn position(&self) -> u64 {
        self.consumed
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }

    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks a thread waiting in `send`.
        self.rx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn make_batch(ds: &Dataset, batch: usize, seed: u64, mirror: bool, start: u64) -> Result<Vec<f32>> {
    if batch == 0 {
        return Err(Error::Invalid(
            "data loader batch size must be at least 1".into(),
        ));
    }
    let info = ds.info();
    let (c, r) = (info.channels, info.resolution);
    let n = c * r * r;
    let idx = stream_indices(info.len, seed, start, batch);
    let lazy_bytes;
    let images: Vec<&[u8]> = match &ds.storage {
        Storage::Memory(d) => idx.iter().map(|&i| &d[i * n..(i + 1) * n]).collect(),
        Storage::Lazy(entries) => {
            let refs: Vec<&Entry> = idx.iter().map(|&i| &entries[i]).collect();
            let mut buf = vec![0u8; batch * n];
            decode_many(&refs, info, ds.resize, &mut buf)?;
            lazy_bytes = buf;
            lazy_bytes.chunks(n).collect()
        }
    };
    let mut out = vec![0f32; batch * n];
    for (b, (img, dst)) in images.iter().zip(out.chunks_mut(n)).enumerate() {
        let flip = mirror && flip_at(seed, start + b as u64);
        for (srow, drow) in img.chunks(r).zip(dst.chunks_mut(r)) {
            if flip {
                for (d, s) in drow.iter_mut().zip(srow.iter().rev()) {
                    *d = *s as f32 / 127.5 - 1.0;
                }
            } else {
                for (d, s) in drow.iter_mut().zip(srow) {
                    *d = *s as f32 / 127.5 - 1.0;
                }
            }
        }
    }
    Ok(out)
}
