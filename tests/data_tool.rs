//! The dataset converter (`data::convert_dataset`, stylegan2-ada's dataset_tool.py), the
//! transforms that fit images to a resolution (`data::Transform`), and labels (IDX label files,
//! `dataset.json`). CPU only.
//!
//! Every transform is checked against pixels worked out by hand on tiny synthetic images;
//! the archive against stylegan2-ada's layout and `dataset.json` format byte for byte.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, Luma, Rgb, RgbImage};
use stylegan_wgpu::data::{
    archive_name, convert_dataset, dataset_json, DataOptions, Dataset, Transform,
};
use stylegan_wgpu::progress::Silent;

mod common;
use common::tempdir::TempDir;

fn err_text<T: std::fmt::Debug>(r: stylegan_wgpu::Result<T>) -> String {
    let e = r.expect_err("expected an error").to_string();
    println!("  error (as expected): {e}");
    e
}

/// A gray image whose pixel (x, y) is `f(x, y)`.
fn gray(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| Luma([f(x, y)]))
}

/// Pixel (x, y) = 10 * y + x + 1: every pixel distinct and non-zero, so padding shows.
fn numbered(w: u32, h: u32) -> GrayImage {
    gray(w, h, |x, y| (10 * y + x + 1) as u8)
}

/// A `side x side` plane from rows written out by hand.
fn plane(rows: &[&[u8]]) -> Vec<u8> {
    rows.concat()
}

fn opts(resolution: Option<usize>, transform: Option<Transform>) -> DataOptions {
    DataOptions {
        resolution,
        transform,
        ..DataOptions::default()
    }
}

/// All pixels of a dataset, image after image.
fn pixels(ds: &Dataset) -> Vec<u8> {
    ds.images(0, ds.len()).unwrap().into_owned()
}

/// A folder holding `imgs` as `name -> image` PNGs.
fn folder(dir: &TempDir, sub: &str, imgs: &[(&str, DynamicImage)]) -> PathBuf {
    let root = dir.path(sub);
    for (name, img) in imgs {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        img.save(&p).unwrap();
    }
    root
}

/// An archive's entries by name: (bytes, stored uncompressed).
type Entries = HashMap<String, (Vec<u8>, bool)>;

/// The entry names of a zip in archive order, and the entries.
fn zip_entries(p: &Path) -> (Vec<String>, Entries) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    let mut names = Vec::new();
    let mut map = HashMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let stored = f.compression() == zip::CompressionMethod::Stored;
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        names.push(f.name().to_string());
        map.insert(f.name().to_string(), (b, stored));
    }
    (names, map)
}

/// An IDX3 images file of `n` images of `rows x cols`, pixel (i, y, x) = (i*37 + y*5 + x*3) %
/// 255 + 1.
fn idx_images(n: usize, rows: usize, cols: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for w in [n as u32, rows as u32, cols as u32] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    for i in 0..n {
        for y in 0..rows {
            for x in 0..cols {
                v.push(((i * 37 + y * 5 + x * 3) % 255 + 1) as u8);
            }
        }
    }
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn pad_centres_on_black_rounding_down() {
    // 3 wide, 2 high in 4x4: x offset (4-3)/2 = 0, y offset (4-2)/2 = 1.
    let img = DynamicImage::ImageLuma8(numbered(3, 2));
    let got = Transform::Pad.apply(img, 4).unwrap().to_luma8().into_raw();
    let want = plane(&[
        &[0, 0, 0, 0],
        &[1, 2, 3, 0],
        &[11, 12, 13, 0],
        &[0, 0, 0, 0],
    ]);
    assert_eq!(got, want);

    // Larger than the side: 8x4 of one value shrinks to 4x2 (aspect kept) and is centred.
    let img = DynamicImage::ImageLuma8(gray(8, 4, |_, _| 200));
    let got = Transform::Pad.apply(img, 4).unwrap().to_luma8().into_raw();
    let want = plane(&[&[0; 4], &[200; 4], &[200; 4], &[0; 4]]);
    assert_eq!(got, want);

    // Through a folder without a resolution: 28x28 and 20x30 images pad to the next power of
    // two of the largest side (32), as training pads IDX digits.
    let dir = TempDir::new("pad");
    let root = folder(
        &dir,
        "f",
        &[
            ("a.png", DynamicImage::ImageLuma8(numbered(28, 28))),
            ("b.png", DynamicImage::ImageLuma8(numbered(20, 30))),
        ],
    );
    let ds = Dataset::open(&root, &opts(None, Some(Transform::Pad))).unwrap();
    assert_eq!(
        (ds.len(), ds.info().resolution, ds.info().channels),
        (2, 32, 1)
    );
    let a = ds.image(0).unwrap();
    for y in 0..32 {
        for x in 0..32 {
            let inside = (2..30).contains(&x) && (2..30).contains(&y);
            let want = if inside {
                (10 * (y - 2) + (x - 2) + 1) as u8
            } else {
                0
            };
            assert_eq!(a[y * 32 + x], want, "a.png at ({x}, {y})");
        }
    }
    // 20 wide, 30 high: offsets (32-20)/2 = 6 and (32-30)/2 = 1.
    let b = ds.image(1).unwrap();
    assert_eq!(b[32 + 6], 1);
    assert_eq!(b[30 * 32 + 25], (10 * 29 + 19 + 1) as u8);
    assert_eq!((b[32 + 5], b[31 * 32 + 6]), (0, 0));
}

#[test]
fn pad_of_28x28_matches_idx_padding() {
    let dir = TempDir::new("pad-idx");
    std::fs::write(dir.path("train-images-idx3-ubyte"), idx_images(3, 28, 28)).unwrap();
    let idx = Dataset::open(
        &dir.path("train-images-idx3-ubyte"),
        &DataOptions::default(),
    )
    .unwrap();
    let idx_pad = Dataset::open(
        &dir.path("train-images-idx3-ubyte"),
        &opts(None, Some(Transform::Pad)),
    )
    .unwrap();
    // The same digits as PNGs in a folder, padded on the fly.
    let raw = idx_images(3, 28, 28);
    let imgs: Vec<(String, DynamicImage)> = (0..3)
        .map(|i| {
            let px = raw[16 + i * 784..16 + (i + 1) * 784].to_vec();
            let img = GrayImage::from_raw(28, 28, px).unwrap();
            (format!("{i}.png"), DynamicImage::ImageLuma8(img))
        })
        .collect();
    let refs: Vec<(&str, DynamicImage)> =
        imgs.iter().map(|(n, i)| (n.as_str(), i.clone())).collect();
    let root = folder(&dir, "pngs", &refs);
    let pngs = Dataset::open(&root, &opts(None, Some(Transform::Pad))).unwrap();
    assert_eq!(idx.info().resolution, 32);
    assert_eq!(pixels(&idx), pixels(&pngs));
    assert_eq!(pixels(&idx), pixels(&idx_pad));
}

#[test]
fn center_crop_takes_the_middle_square() {
    // 6 wide, 4 high at 4: columns (6-4)/2 = 1 .. 5, no resize needed.
    let img = DynamicImage::ImageLuma8(numbered(6, 4));
    let got = Transform::CenterCrop
        .apply(img.clone(), 4)
        .unwrap()
        .to_luma8()
        .into_raw();
    let want = plane(&[
        &[2, 3, 4, 5],
        &[12, 13, 14, 15],
        &[22, 23, 24, 25],
        &[32, 33, 34, 35],
    ]);
    assert_eq!(got, want);
    // 4 wide, 7 high at 4: rows (7-4)/2 = 1 .. 5 (dataset_tool.py's `(h - crop) // 2`).
    let tall = DynamicImage::ImageLuma8(numbered(4, 7));
    let got = Transform::CenterCrop
        .apply(tall, 4)
        .unwrap()
        .to_luma8()
        .into_raw();
    assert_eq!(&got[..4], &[11, 12, 13, 14]);
    assert_eq!(&got[12..], &[41, 42, 43, 44]);
    // A resize of one value keeps it (Lanczos3's weights sum to one).
    let flat = DynamicImage::ImageLuma8(gray(16, 12, |_, _| 77));
    let got = Transform::CenterCrop
        .apply(flat, 4)
        .unwrap()
        .to_luma8()
        .into_raw();
    assert_eq!(got, vec![77; 16]);

    // Through a folder, lazily decoded: the same pixels as eagerly.
    let dir = TempDir::new("crop");
    let root = folder(&dir, "f", &[("a.png", img)]);
    let eager = Dataset::open(&root, &opts(Some(4), Some(Transform::CenterCrop))).unwrap();
    let lazy = Dataset::open(
        &root,
        &DataOptions {
            memory_limit: 0,
            ..opts(Some(4), Some(Transform::CenterCrop))
        },
    )
    .unwrap();
    assert!(eager.info().in_memory && !lazy.info().in_memory);
    assert_eq!(pixels(&eager), want);
    assert_eq!(pixels(&lazy), want);
    // The default transform with a resolution is center-crop.
    assert_eq!(
        pixels(&Dataset::open(&root, &opts(Some(4), None)).unwrap()),
        want
    );
}

#[test]
fn center_crop_wide_as_dataset_tool() {
    // 8 wide, 6 high at side 4, height 2: ch = round(4 * 6 / 8) = 3 rows, (6-3)//2 = 1 .. 4,
    // all 8 columns, resized to 4x2 and put on rows (4-2)//2 = 1 .. 3 of a black 4x4.
    // Rows 1..4 are 200 and the rest 50, so only the crop's rows reach the output.
    let t = Transform::CenterCropWide { height: Some(2) };
    let img = gray(8, 6, |_, y| if (1..4).contains(&y) { 200 } else { 50 });
    let got = t
        .apply(DynamicImage::ImageLuma8(img.clone()), 4)
        .unwrap()
        .to_luma8()
        .into_raw();
    assert_eq!(got, plane(&[&[0; 4], &[200; 4], &[200; 4], &[0; 4]]));
    // Halves round to even as numpy: 4 * 5 / 8 = 2.5 -> 2 rows, (5-2)//2 = 1 .. 3.
    let img5 = gray(8, 5, |_, y| if (1..3).contains(&y) { 9 } else { 250 });
    let got = t
        .apply(DynamicImage::ImageLuma8(img5), 4)
        .unwrap()
        .to_luma8()
        .into_raw();
    assert_eq!(got, plane(&[&[0; 4], &[9; 4], &[9; 4], &[0; 4]]));
    // Width equal to the side, no height: every row kept, nothing to resize.
    let same = numbered(4, 4);
    let got = Transform::CenterCropWide { height: None }
        .apply(DynamicImage::ImageLuma8(same.clone()), 4)
        .unwrap()
        .to_luma8()
        .into_raw();
    assert_eq!(got, same.into_raw());
    // Dropped: narrower than the side; or round(4 * 4 / 8) = 2 rows < height 4.
    let wide_none = Transform::CenterCropWide { height: None };
    assert!(wide_none
        .apply(DynamicImage::ImageLuma8(numbered(3, 8)), 4)
        .is_none());
    assert!(wide_none
        .apply(DynamicImage::ImageLuma8(numbered(8, 4)), 4)
        .is_none());

    // A folder: the dropped image is left out (with a warning), the kept ones fitted.
    let dir = TempDir::new("wide");
    let root = folder(
        &dir,
        "f",
        &[
            ("a.png", DynamicImage::ImageLuma8(img)),
            ("b.png", DynamicImage::ImageLuma8(numbered(3, 8))),
        ],
    );
    let ds = Dataset::open(&root, &opts(Some(4), Some(t))).unwrap();
    assert_eq!(ds.len(), 1);
    assert!(
        ds.info()
            .warnings
            .iter()
            .any(|w| w.contains("1 of 2 images are dropped")),
        "{:?}",
        ds.info().warnings
    );
    assert_eq!(
        pixels(&ds),
        plane(&[&[0; 4], &[200; 4], &[200; 4], &[0; 4]])
    );
    // Every image dropped: an error naming the source; a height above the side is refused.
    let only = folder(
        &dir,
        "g",
        &[("b.png", DynamicImage::ImageLuma8(numbered(3, 8)))],
    );
    assert!(err_text(Dataset::open(&only, &opts(Some(4), Some(t)))).contains("drops every image"));
    let tall = Transform::CenterCropWide { height: Some(8) };
    assert!(err_text(Dataset::open(&root, &opts(Some(4), Some(tall)))).contains("between 1 and"));
    // Crops need a resolution; pad does not.
    assert!(
        err_text(Dataset::open(&root, &opts(None, Some(t)))).contains("needs a target resolution")
    );
}

#[test]
fn idx_labels_round_trip_through_the_archive() {
    let dir = TempDir::new("idx-labels");
    let labels = [3u8, 1, 4, 1, 5];
    std::fs::write(
        dir.path("train-images-idx3-ubyte.gz"),
        gz(&idx_images(5, 28, 28)),
    )
    .unwrap();
    std::fs::write(
        dir.path("train-labels-idx1-ubyte.gz"),
        gz(&idx_labels(&labels)),
    )
    .unwrap();
    let src = Dataset::open(&dir.0, &DataOptions::default()).unwrap();
    assert_eq!(src.labels(), Some(&[3u32, 1, 4, 1, 5][..]));
    // max_images keeps the first labels.
    let first = Dataset::open(
        &dir.0,
        &DataOptions {
            max_images: Some(2),
            ..DataOptions::default()
        },
    )
    .unwrap();
    assert_eq!(first.labels(), Some(&[3u32, 1][..]));

    let out = dir.path("out.zip");
    let r = convert_dataset(&dir.0, &out, &DataOptions::default(), &mut Silent).unwrap();
    assert_eq!(
        (r.images, r.channels, r.resolution, r.labelled),
        (5, 1, 32, true)
    );
    let (names, entries) = zip_entries(&out);
    let json = String::from_utf8(entries["dataset.json"].0.clone()).unwrap();
    assert_eq!(
        json,
        "{\"labels\": [[\"00000/img00000000.png\", 3], [\"00000/img00000001.png\", 1], \
         [\"00000/img00000002.png\", 4], [\"00000/img00000003.png\", 1], \
         [\"00000/img00000004.png\", 5]]}"
    );
    assert_eq!(names.last().map(String::as_str), Some("dataset.json"));
    let back = Dataset::open(&out, &DataOptions::default()).unwrap();
    assert_eq!(back.labels(), src.labels());
    assert_eq!(pixels(&back), pixels(&src));
    assert_eq!((back.info().resolution, back.info().channels), (32, 1));

    // Without the label file: no labels, and "labels": null.
    std::fs::remove_file(dir.path("train-labels-idx1-ubyte.gz")).unwrap();
    let out2 = dir.path("nolabels.zip");
    let r = convert_dataset(&dir.0, &out2, &DataOptions::default(), &mut Silent).unwrap();
    assert!(!r.labelled);
    assert_eq!(
        zip_entries(&out2).1["dataset.json"].0,
        b"{\"labels\": null}"
    );
    assert!(Dataset::open(&out2, &DataOptions::default())
        .unwrap()
        .labels()
        .is_none());

    // A label file that does not match is an error naming it.
    std::fs::write(dir.path("train-labels-idx1-ubyte"), idx_labels(&[1, 2])).unwrap();
    let e = err_text(Dataset::open(&dir.0, &DataOptions::default()));
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("2 labels for the 5 images"),
        "{e}"
    );
}

#[test]
fn dataset_json_labels_from_folders_and_zips() {
    let dir = TempDir::new("json-labels");
    let imgs = [
        ("a/x.png", DynamicImage::ImageLuma8(numbered(4, 4))),
        (
            "a/y.png",
            DynamicImage::ImageLuma8(gray(4, 4, |x, _| x as u8 * 60)),
        ),
        (
            "b.png",
            DynamicImage::ImageLuma8(gray(4, 4, |_, y| y as u8 * 60)),
        ),
    ];
    let root = folder(&dir, "f", &imgs);
    let json = r#"{"labels": [["b.png", 2], ["a/x.png", 7], ["a/y.png", 0]]}"#;
    std::fs::write(root.join("dataset.json"), json).unwrap();
    let ds = Dataset::open(&root, &DataOptions::default()).unwrap();
    // Path order: a/x.png, a/y.png, b.png.
    assert_eq!(ds.labels(), Some(&[7u32, 0, 2][..]));

    // Converted, then converted again from the archive: labels follow their images.
    let z1 = dir.path("one.zip");
    convert_dataset(&root, &z1, &DataOptions::default(), &mut Silent).unwrap();
    let (names, entries) = zip_entries(&z1);
    assert_eq!(
        names,
        [
            "00000/img00000000.png",
            "00000/img00000001.png",
            "00000/img00000002.png",
            "dataset.json"
        ]
    );
    assert_eq!(
        entries["dataset.json"].0,
        dataset_json(3, Some(&[7, 0, 2])).as_bytes()
    );
    let z2 = dir.path("two.zip");
    convert_dataset(&z1, &z2, &DataOptions::default(), &mut Silent).unwrap();
    assert_eq!(std::fs::read(&z1).unwrap(), std::fs::read(&z2).unwrap());
    let back = Dataset::open(&z2, &DataOptions::default()).unwrap();
    assert_eq!(back.labels(), Some(&[7u32, 0, 2][..]));
    assert_eq!(pixels(&back), pixels(&ds));

    // An image without a label: the dataset has none, with a warning naming dataset.json.
    std::fs::write(root.join("dataset.json"), r#"{"labels": [["b.png", 2]]}"#).unwrap();
    let ds = Dataset::open(&root, &DataOptions::default()).unwrap();
    assert!(ds.labels().is_none());
    assert!(ds
        .info()
        .warnings
        .iter()
        .any(|w| w.contains("dataset.json") && w.contains("2 of 3 images have no label")));
    // "labels": null and vector labels.
    std::fs::write(root.join("dataset.json"), r#"{"labels": null}"#).unwrap();
    assert!(Dataset::open(&root, &DataOptions::default())
        .unwrap()
        .labels()
        .is_none());
    std::fs::write(
        root.join("dataset.json"),
        r#"{"labels": [["b.png", [0.5, 1.0]]]}"#,
    )
    .unwrap();
    let e = err_text(Dataset::open(&root, &DataOptions::default()));
    assert!(
        e.contains("dataset.json") && e.contains("whole-number class"),
        "{e}"
    );
    std::fs::write(root.join("dataset.json"), "{not json").unwrap();
    let e = err_text(Dataset::open(&root, &DataOptions::default()));
    assert!(
        e.contains("dataset.json") && e.contains("not valid JSON"),
        "{e}"
    );
}

#[test]
fn archive_layout_is_stylegan2_adas() {
    assert_eq!(archive_name(0), "00000/img00000000.png");
    assert_eq!(archive_name(999), "00000/img00000999.png");
    assert_eq!(archive_name(1000), "00001/img00001000.png");
    assert_eq!(archive_name(70_000), "00070/img00070000.png");

    // 1001 tiny 4x4 IDX images: the 1001st starts folder 00001; entries are stored.
    let dir = TempDir::new("layout");
    std::fs::write(dir.path("train-images-idx3-ubyte"), idx_images(1001, 4, 4)).unwrap();
    let out = dir.path("d.zip");
    let src = dir.path("train-images-idx3-ubyte");
    let r = convert_dataset(&src, &out, &DataOptions::default(), &mut Silent).unwrap();
    assert_eq!((r.images, r.resolution, r.labelled), (1001, 4, false));
    let (names, entries) = zip_entries(&out);
    assert_eq!(names.len(), 1002);
    assert_eq!(names[999], "00000/img00000999.png");
    assert_eq!(names[1000], "00001/img00001000.png");
    assert!(entries.values().all(|(_, stored)| *stored));
    // Each entry is a PNG of the image: 4x4 gray, the IDX pixels.
    let png = &entries["00001/img00001000.png"].0;
    let img = image::load_from_memory(png).unwrap();
    assert!(matches!(img, DynamicImage::ImageLuma8(_)));
    let want: Vec<u8> = idx_images(1001, 4, 4)[16 + 1000 * 16..16 + 1001 * 16].to_vec();
    assert_eq!(img.to_luma8().into_raw(), want);
    let back = Dataset::open(&out, &DataOptions::default()).unwrap();
    let orig = Dataset::open(&src, &DataOptions::default()).unwrap();
    assert_eq!(pixels(&back), pixels(&orig));
}

#[test]
fn options_resolution_channels_and_max_images() {
    let dir = TempDir::new("options");
    let rgb = |seed: u32| {
        DynamicImage::ImageRgb8(RgbImage::from_fn(6, 4, |x, y| {
            Rgb([(x * 40 + seed) as u8, (y * 60) as u8, 100])
        }))
    };
    let root = folder(
        &dir,
        "f",
        &[("a.png", rgb(1)), ("b.png", rgb(2)), ("c.png", rgb(3))],
    );
    let o = DataOptions {
        resolution: Some(4),
        transform: Some(Transform::CenterCrop),
        max_images: Some(2),
        grayscale: Some(true),
        ..DataOptions::default()
    };
    let out = dir.path("g.zip");
    let r = convert_dataset(&root, &out, &o, &mut Silent).unwrap();
    assert_eq!((r.images, r.channels, r.resolution), (2, 1, 4));
    let back = Dataset::open(&out, &DataOptions::default()).unwrap();
    let direct = Dataset::open(&root, &o).unwrap();
    assert_eq!((back.len(), back.info().channels), (2, 1));
    assert_eq!(pixels(&back), pixels(&direct));
    // RGB kept: 3 channels, and the crop's pixels exactly (columns 1..5 of 6).
    let out3 = dir.path("c.zip");
    let o3 = DataOptions {
        grayscale: None,
        max_images: None,
        ..o.clone()
    };
    convert_dataset(&root, &out3, &o3, &mut Silent).unwrap();
    let back = Dataset::open(&out3, &DataOptions::default()).unwrap();
    assert_eq!((back.len(), back.info().channels), (3, 3));
    let first = back.image(0).unwrap();
    let red: Vec<u8> = (0..4)
        .flat_map(|_| (1..5).map(|x| (x * 40 + 1) as u8))
        .collect();
    assert_eq!(&first[..16], &red[..]);
    assert_eq!(&first[16..20], &[0, 0, 0, 0]);
    assert_eq!(&first[32..48], &[100; 16]);
}

#[test]
fn errors_name_the_file() {
    let dir = TempDir::new("errors");
    let root = folder(
        &dir,
        "f",
        &[("a.png", DynamicImage::ImageLuma8(numbered(4, 4)))],
    );
    std::fs::write(root.join("broken.png"), b"\x89PNG not really").unwrap();
    let e = err_text(convert_dataset(
        &root,
        &dir.path("o.zip"),
        &DataOptions::default(),
        &mut Silent,
    ));
    assert!(e.contains("broken.png"), "{e}");
    assert!(!dir.path("o.zip").exists(), "nothing is written on error");
    std::fs::remove_file(root.join("broken.png")).unwrap();

    let e = err_text(convert_dataset(
        &root,
        &dir.path("o.tar"),
        &DataOptions::default(),
        &mut Silent,
    ));
    assert!(e.contains("o.tar") && e.contains(".zip"), "{e}");
    let out = dir.path("o.zip");
    convert_dataset(&root, &out, &DataOptions::default(), &mut Silent).unwrap();
    let e = err_text(convert_dataset(
        &out,
        &out,
        &DataOptions::default(),
        &mut Silent,
    ));
    assert!(
        e.contains("o.zip") && e.contains("the destination is the source"),
        "{e}"
    );
    // A different size without a transform names both files; a missing source names itself.
    folder(
        &dir,
        "f",
        &[("b.png", DynamicImage::ImageLuma8(numbered(8, 8)))],
    );
    let e = err_text(convert_dataset(
        &root,
        &out,
        &DataOptions::default(),
        &mut Silent,
    ));
    assert!(
        e.contains("b.png") && e.contains("a.png") && e.contains("--resize"),
        "{e}"
    );
    let e = err_text(convert_dataset(
        &dir.path("nope"),
        &out,
        &DataOptions::default(),
        &mut Silent,
    ));
    assert!(e.contains("nope"), "{e}");
    // The failed runs left the earlier archive as it was.
    assert_eq!(
        Dataset::open(&out, &DataOptions::default()).unwrap().len(),
        1
    );
}

#[test]
fn transform_names() {
    for (s, t) in [
        ("center-crop", Transform::CenterCrop),
        (
            "center-crop-wide",
            Transform::CenterCropWide { height: None },
        ),
        (
            "center-crop-wide:24",
            Transform::CenterCropWide { height: Some(24) },
        ),
        ("pad", Transform::Pad),
    ] {
        assert_eq!(s.parse::<Transform>().unwrap(), t);
        assert_eq!(t.to_string(), s);
    }
    assert!(err_text("stretch".parse::<Transform>()).contains("center-crop-wide[:HEIGHT]"));
}

#[test]
fn projection_targets_are_padded_when_smaller_than_the_model() {
    use stylegan_wgpu::data::load_image_fitted;
    let dir = TempDir::new("targets");
    numbered(28, 28).save(dir.path("small.png")).unwrap();
    gray(48, 40, |_, _| 90).save(dir.path("large.png")).unwrap();
    numbered(3, 8).save(dir.path("narrow.png")).unwrap();
    let unit = |v: u8| v as f32 / 127.5 - 1.0;

    // 28x28 in a 32x32 model: padded by 2 on every side, pixels as they are.
    let f = load_image_fitted(dir.path("small.png"), 1, 32, None).unwrap();
    assert_eq!((f.transform, f.width, f.height), (Transform::Pad, 28, 28));
    assert_eq!(f.data.len(), 32 * 32);
    assert_eq!(f.data[0], -1.0);
    assert_eq!(f.data[2 * 32 + 2], unit(1));
    assert_eq!(f.data[29 * 32 + 29], unit((10 * 27 + 27 + 1) as u8));
    assert_eq!(f.data[30 * 32 + 30], -1.0);
    // RGB models get the gray value in every channel.
    let rgb = load_image_fitted(dir.path("small.png"), 3, 32, None).unwrap();
    assert_eq!(rgb.data[1024 + 2 * 32 + 2], unit(1));

    // Larger than the model: centre-cropped and resized (one value stays that value).
    let f = load_image_fitted(dir.path("large.png"), 1, 32, None).unwrap();
    assert_eq!(f.transform, Transform::CenterCrop);
    assert!(f.data.iter().all(|&v| v == unit(90)));
    // Asked for: the 28x28 target stretched by center-crop has no black border.
    let f = load_image_fitted(dir.path("small.png"), 1, 32, Some(Transform::CenterCrop)).unwrap();
    assert!(f.data[0] > -1.0);
    // A target that center-crop-wide drops is an error naming it.
    let wide = Some(Transform::CenterCropWide { height: None });
    let e = err_text(load_image_fitted(dir.path("narrow.png"), 1, 4, wide));
    assert!(e.contains("narrow.png") && e.contains("drops"), "{e}");
}
