//! An opened dataset: the options it is opened with, the rules its images must follow
//! (sizes, channels, resizing), and whether it is decoded up front or lazily.
//!
//! Every header is checked here, at open time, so that a bad image stops a run before training
//! starts rather than hours into it.

use super::decode::{decode_into, decode_many, probe};
use super::fmt_err;
use super::idx::open_idx;
use super::labels::{labels_for, parse_dataset_json, subfolder_classes};
use super::source::{
    folder_dataset_json, folder_entries, read_entry, zip_dataset_json, zip_entries, Entry, Source,
};
use super::transform::Transform;
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::path::Path;

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
    /// Changes made to the images that the user may not expect (non-square IDX images padded,
    /// small images upscaled by `resolution`), one sentence each, for the caller to show.
    pub warnings: Vec<String>,
}

/// How to open a dataset.
#[derive(Clone, Debug)]
pub struct DataOptions {
    /// Fit every image to this power-of-two resolution (by `transform`, centre-cropping by
    /// default). `None`: images must already be square, power-of-two and all the same size,
    /// unless `transform` is [`Transform::Pad`], which then pads to the next power of two of the
    /// largest image.
    pub resolution: Option<usize>,
    /// How images are fitted to `resolution`. `None`: [`Transform::CenterCrop`] when a
    /// resolution is given, except for IDX files, whose images are padded to a power of two
    /// first (28 -> 32) and then resized. `center-crop` and `center-crop-wide` need a
    /// resolution.
    pub transform: Option<Transform>,
    /// Use only the first `n` images (in sorted path order; with `classes`, the first `n` of
    /// those classes).
    pub max_images: Option<usize>,
    /// Keep only the images of these classes (the dataset must have labels); they keep their
    /// class numbers.
    pub classes: Option<Vec<u32>>,
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
            transform: None,
            max_images: None,
            grayscale: None,
            memory_limit: 2 << 30,
            classes: None,
        }
    }
}

/// Where the pixels of a dataset are.
pub(super) enum Storage {
    /// `len * channels * res * res` bytes, image-major, CHW within an image.
    Memory(Vec<u8>),
    /// Decoded on demand.
    Lazy(Vec<Entry>),
}

/// An opened dataset: images of `channels x resolution x resolution` u8 pixels.
pub struct Dataset {
    pub(super) info: DatasetInfo,
    pub(super) storage: Storage,
    /// How lazily decoded images are fitted to the resolution; `None`: they already have it.
    pub(super) fit: Option<Transform>,
    /// One class per image, when the source has labels for every image.
    pub(super) labels: Option<Vec<u32>>,
    /// The name of each class, where the source names them (one subfolder per class).
    pub(super) class_names: Option<Vec<String>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset").field("info", &self.info).finish()
    }
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
        if let Some(classes) = &opts.classes {
            let all = DataOptions {
                classes: None,
                max_images: None,
                ..opts.clone()
            };
            return Self::open_source(src, &all)?.select_classes(classes, opts.max_images);
        }
        if let Some(r) = opts.resolution {
            check_target_resolution(r)?;
        }
        match (opts.transform, opts.resolution) {
            (Some(t), Some(r)) => t.check(r)?,
            (Some(t @ (Transform::CenterCrop | Transform::CenterCropWide { .. })), None) => {
                return Err(Error::Invalid(format!(
                    "the {t} transform needs a target resolution (`--resize N`); pad alone does not"
                )))
            }
            _ => {}
        }
        if opts.max_images == Some(0) {
            return Err(Error::Invalid("max_images must be at least 1".into()));
        }
        match src {
            Source::Idx(p) => open_idx(p, opts),
            Source::Folder(p) => open_entries(
                folder_entries(p)?,
                format!("folder {}", p.display()),
                folder_dataset_json(p)?,
                opts,
            ),
            Source::Zip(p) => open_entries(
                zip_entries(p)?,
                format!("zip {}", p.display()),
                zip_dataset_json(p)?,
                opts,
            ),
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
                warnings: Vec::new(),
            },
            storage: Storage::Memory(data),
            fit: None,
            labels: None,
            class_names: None,
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
                decode_into(&entries[i].name, &bytes, &self.info, self.fit, &mut out)?;
                Ok(Cow::Owned(out))
            }
        }
    }

    /// Images `start..start + n` as consecutive u8 CHW images; a lazy dataset decodes them on
    /// several threads.
    pub fn images(&self, start: usize, n: usize) -> Result<Cow<'_, [u8]>> {
        let end = start
            .checked_add(n)
            .filter(|&e| e <= self.info.len && n > 0);
        let Some(end) = end else {
            return Err(Error::Invalid(format!(
                "images {start}..{start}+{n} out of range for a dataset of {} images",
                self.info.len
            )));
        };
        let b = self.image_bytes();
        match &self.storage {
            Storage::Memory(d) => Ok(Cow::Borrowed(&d[start * b..end * b])),
            Storage::Lazy(entries) => {
                let refs: Vec<&Entry> = entries[start..end].iter().collect();
                let mut out = vec![0u8; n * b];
                decode_many(&refs, &self.info, self.fit, &mut out)?;
                Ok(Cow::Owned(out))
            }
        }
    }

    /// The class of every image, in order, when the source labels every one: an IDX label
    /// file beside the images, a `dataset.json` in stylegan2-ada's format, or one subfolder
    /// per class (module `labels`). `None` for unlabelled data.
    pub fn labels(&self) -> Option<&[u32]> {
        self.labels.as_deref()
    }

    /// Classes of a labelled dataset: the largest class + 1 (0 without labels).
    pub fn num_classes(&self) -> usize {
        self.labels
            .as_ref()
            .and_then(|l| l.iter().max())
            .map_or(0, |&m| m as usize + 1)
    }

    /// The names of the classes where the source has them (subfolder names).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The images of `classes` only (at most `max` of them, in order), keeping their labels.
    fn select_classes(mut self, classes: &[u32], max: Option<usize>) -> Result<Dataset> {
        let source = self.info.source.clone();
        let labels = self.labels.take().ok_or_else(|| {
            Error::Invalid(format!(
                "--classes: {source} has no class labels (an IDX label file, dataset.json or one \
                 subfolder per class)"
            ))
        })?;
        let keep: Vec<usize> = (0..labels.len())
            .filter(|&i| classes.contains(&labels[i]))
            .take(max.unwrap_or(usize::MAX))
            .collect();
        if keep.is_empty() {
            return Err(Error::Invalid(format!(
                "--classes {classes:?}: {source} has no image of these classes (its classes are \
                 0-{})",
                labels.iter().max().copied().unwrap_or(0)
            )));
        }
        let per = self.image_bytes();
        self.storage = match self.storage {
            Storage::Memory(d) => Storage::Memory(
                keep.iter()
                    .flat_map(|&i| d[i * per..(i + 1) * per].iter().copied())
                    .collect(),
            ),
            Storage::Lazy(e) => Storage::Lazy(keep.iter().map(|&i| e[i].clone()).collect()),
        };
        self.labels = Some(keep.iter().map(|&i| labels[i]).collect());
        self.info.len = keep.len();
        self.info.source = format!("{source} (classes {classes:?})");
        Ok(self)
    }

    /// This dataset with a class for every image (and optionally their names), e.g. for
    /// in-memory data; an error when the counts differ.
    pub fn with_labels(mut self, labels: Vec<u32>, names: Option<Vec<String>>) -> Result<Dataset> {
        if labels.len() != self.info.len {
            return Err(Error::Invalid(format!(
                "{} labels for the {} images of {}",
                labels.len(),
                self.info.len,
                self.info.source
            )));
        }
        self.labels = Some(labels);
        self.class_names = names;
        Ok(self)
    }

    /// The name (path) of image `i` for folders and zips; `None` for IDX / in-memory data.
    pub fn image_name(&self, i: usize) -> Option<&str> {
        match &self.storage {
            Storage::Lazy(e) => e.get(i).map(|e| e.name.as_str()),
            Storage::Memory(_) => None,
        }
    }
}

/// Scans headers (sizes, gray vs colour), validates them, drops what `center-crop-wide`
/// drops, reads the labels, then decodes eagerly if small enough.
fn open_entries(
    mut entries: Vec<Entry>,
    source: String,
    labels_json: Option<(String, Vec<u8>)>,
    opts: &DataOptions,
) -> Result<Dataset> {
    // Classes from subfolders are numbered over the whole dataset, so that `max_images` does
    // not renumber them.
    let folder_classes = match &labels_json {
        None => subfolder_classes(&entries),
        Some(_) => None,
    };
    if let Some(m) = opts.max_images {
        entries.truncate(m);
    }
    let fit = match (opts.transform, opts.resolution) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => Some(Transform::CenterCrop),
        (None, None) => None,
    };
    let mut first: Option<(String, u32, u32)> = None;
    let mut any_color = false;
    let mut zip = None;
    let mut dims = Vec::with_capacity(entries.len());
    for e in &entries {
        let bytes = read_entry(e, Some(&mut zip))?;
        let (w, h, gray) = probe(&e.name, &bytes)?;
        any_color |= !gray;
        dims.push((w as usize, h as usize));
        if fit.is_some() {
            continue;
        }
        match &first {
            None => {
                if w != h || w < 4 || !w.is_power_of_two() {
                    return Err(fmt_err(
                        &e.name,
                        format!(
                            "image is {w}x{h}; without a target resolution images must be \
                             square with a power-of-two side >= 4 (a resolution, `--resize N`, \
                             crops and resizes them; `--transform pad` pads them)"
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
                             same size (or a target resolution: `--resize N`)"
                        ),
                    ));
                }
            }
        }
    }
    let resolution = match (opts.resolution, &first) {
        (Some(r), _) => r,
        (None, Some((_, w, _))) => *w as usize,
        // Only `pad` gets here without a resolution (`open_source` refused the others).
        (None, None) => {
            let largest = dims.iter().map(|&(w, h)| w.max(h)).max().unwrap_or(4);
            largest
                .checked_next_power_of_two()
                .unwrap_or(largest)
                .max(4)
        }
    };
    let mut warnings = Vec::new();
    if let Some(t @ Transform::CenterCropWide { .. }) = fit {
        let before = entries.len();
        let mut kept = dims.iter().map(|&(w, h)| t.keeps(w, h, resolution));
        entries.retain(|_| kept.next().unwrap_or(false));
        let dropped = before - entries.len();
        if entries.is_empty() {
            return Err(fmt_err(
                &source,
                format!(
                    "{t} at {resolution} drops every image (each is narrower than \
                     {resolution} or too tall a crop would be needed), as dataset_tool.py does"
                ),
            ));
        }
        if dropped > 0 {
            warnings.push(format!(
                "{dropped} of {before} images are dropped by {t} at resolution {resolution} \
                 (narrower than {resolution}, or their centre rows too few), as dataset_tool.py \
                 drops them"
            ));
        }
    }
    let channels = match opts.grayscale {
        Some(true) => 1,
        Some(false) => 3,
        None if any_color => 3,
        None => 1,
    };
    if fit == Some(Transform::CenterCrop) {
        let small: Vec<(usize, usize, usize)> = (dims.iter().enumerate())
            .filter(|(_, &(w, h))| w.min(h) < resolution)
            .map(|(i, &(w, h))| (i, w, h))
            .collect();
        if let Some(&(i, w, h)) = small.first() {
            // Upscaling invents no detail: the network learns blurry images, which a user
            // asking for a resolution (or holding a stray thumbnail) should know about.
            warnings.push(format!(
                "{} of {} images are smaller than --resize {resolution} and are upscaled \
                 (the first: {}, {w}x{h})",
                small.len(),
                entries.len(),
                entries[i].name
            ));
        }
    }
    let labels = match labels_json {
        None => folder_classes.as_ref().map(|names| {
            entries
                .iter()
                .map(|e| {
                    let dir = e.rel.split('/').next().unwrap_or("");
                    names.iter().position(|n| n == dir).unwrap_or(0) as u32
                })
                .collect()
        }),
        Some((jname, bytes)) => match parse_dataset_json(&jname, &bytes)? {
            None => None,
            Some(map) => {
                let names: Vec<&str> = entries.iter().map(|e| e.rel.as_str()).collect();
                let (labels, warning) = labels_for(&jname, &map, &names);
                warnings.extend(warning);
                labels
            }
        },
    };
    let mut info = DatasetInfo {
        len: entries.len(),
        channels,
        resolution,
        source,
        in_memory: false,
        warnings,
    };
    let n = channels * resolution * resolution;
    let total = entries.len().saturating_mul(n);
    if total <= opts.memory_limit {
        let mut data = vec![0u8; total];
        let refs: Vec<&Entry> = entries.iter().collect();
        decode_many(&refs, &info, fit, &mut data)?;
        info.in_memory = true;
        return Ok(Dataset {
            info,
            storage: Storage::Memory(data),
            fit,
            labels,
            class_names: folder_classes,
        });
    }
    Ok(Dataset {
        info,
        storage: Storage::Lazy(entries),
        fit,
        labels,
        class_names: folder_classes,
    })
}
