//! Dataset opening (folders, zips, IDX) and the background loader. CPU only.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{GrayAlphaImage, GrayImage, Rgb, RgbImage, RgbaImage};
use stylegan_wgpu::data::{epoch_order, flip_at, DataOptions, Dataset, Loader, Source};

/// A fresh, empty directory unique to this process and test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sgw-data-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rgb_img(r: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(r, r, |x, y| {
        Rgb([
            ((x * 17 + y * 3 + seed * 40) % 256) as u8,
            ((x * 5 + y * 29 + seed * 7) % 256) as u8,
            ((x * y + seed * 90) % 256) as u8,
        ])
    })
}

fn gray_img(r: u32, seed: u32) -> GrayImage {
    GrayImage::from_fn(r, r, |x, y| {
        image::Luma([((x * 31 + y * 7 + seed) % 256) as u8])
    })
}

/// CHW bytes of an RGB image.
fn chw(img: &RgbImage) -> Vec<u8> {
    let hw = (img.width() * img.height()) as usize;
    let mut out = vec![0u8; 3 * hw];
    for (p, px) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * hw + p] = px[c];
        }
    }
    out
}

fn err_text<T: std::fmt::Debug>(r: stylegan_wgpu::Result<T>) -> String {
    let e = r.expect_err("expected an error").to_string();
    println!("  error (as expected): {e}");
    e
}

/// A folder with RGB, RGBA, gray and gray+alpha PNGs in nested folders, a JPEG, a non-image
/// file and a hidden file.
fn make_mixed_folder(name: &str) -> (PathBuf, Vec<RgbImage>) {
    let d = tmp(name);
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    std::fs::create_dir_all(d.join("c")).unwrap();
    let a = rgb_img(8, 1);
    let b = rgb_img(8, 2);
    a.save(d.join("a/0.png")).unwrap();
    b.save(d.join("a/b/1.png")).unwrap();
    let g = gray_img(8, 3);
    g.save(d.join("c/2.png")).unwrap();
    let rgba = RgbaImage::from_fn(8, 8, |x, y| image::Rgba([x as u8 * 30, y as u8 * 30, 9, 7]));
    rgba.save(d.join("c/3.png")).unwrap();
    // A flat colour survives JPEG almost exactly.
    RgbImage::from_pixel(8, 8, Rgb([200, 100, 50]))
        .save(d.join("c/4.jpg"))
        .unwrap();
    std::fs::write(d.join("README.txt"), "not an image").unwrap();
    std::fs::write(d.join(".hidden.png"), "junk").unwrap();
    let ga = GrayAlphaImage::from_fn(8, 8, |x, _| image::LumaA([x as u8 * 20, 3]));
    ga.save(d.join("c/5.png")).unwrap();
    let gray_as_rgb = RgbImage::from_fn(8, 8, |x, y| {
        let v = g.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    let rgba_as_rgb = RgbImage::from_fn(8, 8, |x, y| {
        let p = rgba.get_pixel(x, y);
        Rgb([p[0], p[1], p[2]])
    });
    (d, vec![a, b, gray_as_rgb, rgba_as_rgb])
}

#[test]
fn folder_mixed_gray_and_rgb() {
    let (d, expect) = make_mixed_folder("mixed");
    let ds = Dataset::open(&d, &DataOptions::default()).unwrap();
    let info = ds.info().clone();
    println!("{info:?}");
    assert_eq!((info.len, info.channels, info.resolution), (6, 3, 8));
    assert!(info.in_memory);
    // Sorted path order: a/0.png, a/b/1.png, c/2.png, c/3.png, c/4.jpg, c/5.png.
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(&*ds.image(i).unwrap(), &chw(e)[..], "image {i}");
    }
    let jpg = ds.image(4).unwrap();
    let max_err = jpg
        .iter()
        .enumerate()
        .map(|(k, &v)| (v as i32 - [200, 100, 50][k / 64]).abs())
        .max()
        .unwrap();
    println!("jpeg max error {max_err}");
    assert!(max_err <= 4);
    let la = ds.image(5).unwrap();
    for c in 0..3 {
        for y in 0..8 {
            for x in 0..8 {
                assert_eq!(la[c * 64 + y * 8 + x], x as u8 * 20);
            }
        }
    }
    // Forced grayscale: one channel.
    let g = Dataset::open(
        &d,
        &DataOptions {
            grayscale: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(g.info().channels, 1);
    assert_eq!(g.image(0).unwrap().len(), 64);
    // max_images keeps the first files in sorted order.
    let m = Dataset::open(
        &d,
        &DataOptions {
            max_images: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.info().len, 2);
    assert_eq!(&*m.image(1).unwrap(), &chw(&expect[1])[..]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn folder_all_gray_is_one_channel() {
    let d = tmp("gray");
    for i in 0..3 {
        gray_img(16, i).save(d.join(format!("{i}.png"))).unwrap();
    }
    let ds = Dataset::open(&d, &DataOptions::default()).unwrap();
    assert_eq!(
        (ds.info().len, ds.info().channels, ds.info().resolution),
        (3, 1, 16)
    );
    assert_eq!(&*ds.image(2).unwrap(), gray_img(16, 2).as_raw().as_slice());
    // Forced colour replicates the plane.
    let c = Dataset::open(
        &d,
        &DataOptions {
            grayscale: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(c.info().channels, 3);
    let im = c.image(1).unwrap();
    assert_eq!(&im[..256], &im[256..512]);
    assert_eq!(&im[..256], gray_img(16, 1).as_raw().as_slice());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn folder_errors_name_the_file() {
    // Mixed sizes.
    let d = tmp("sizes");
    rgb_img(8, 0).save(d.join("a.png")).unwrap();
    rgb_img(8, 1).save(d.join("b.png")).unwrap();
    rgb_img(16, 2).save(d.join("c.png")).unwrap();
    let e = err_text(Dataset::open(&d, &DataOptions::default()));
    assert!(e.contains("c.png") && e.contains("16x16") && e.contains("8x8"));
    assert!(e.contains("a.png"), "names the reference file");
    // ...which --resize accepts.
    let ds = Dataset::open(
        &d,
        &DataOptions {
            resolution: Some(4),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((ds.info().len, ds.info().resolution), (3, 4));
    std::fs::remove_dir_all(&d).unwrap();

    // Non-square and non-power-of-two.
    let d = tmp("nonsquare");
    RgbImage::new(16, 8).save(d.join("wide.png")).unwrap();
    let e = err_text(Dataset::open(&d, &DataOptions::default()));
    assert!(e.contains("wide.png") && e.contains("16x8"));
    std::fs::remove_dir_all(&d).unwrap();
    let d = tmp("npot");
    RgbImage::new(12, 12).save(d.join("twelve.png")).unwrap();
    let e = err_text(Dataset::open(&d, &DataOptions::default()));
    assert!(e.contains("twelve.png") && e.contains("12x12"));
    // Bad resize target.
    err_text(Dataset::open(
        &d,
        &DataOptions {
            resolution: Some(12),
            ..Default::default()
        },
    ));
    std::fs::remove_dir_all(&d).unwrap();

    // Corrupt files: garbage, and a PNG truncated after its header.
    let d = tmp("corrupt");
    rgb_img(8, 0).save(d.join("good.png")).unwrap();
    std::fs::write(d.join("garbage.png"), b"this is not a png at all").unwrap();
    let e = err_text(Dataset::open(&d, &DataOptions::default()));
    assert!(e.contains("garbage.png"));
    std::fs::remove_file(d.join("garbage.png")).unwrap();
    let bytes = std::fs::read(d.join("good.png")).unwrap();
    std::fs::write(d.join("trunc.png"), &bytes[..bytes.len() / 2]).unwrap();
    let e = err_text(Dataset::open(&d, &DataOptions::default()));
    assert!(e.contains("trunc.png"));
    // Lazily decoded, the header passes at open time and the loader reports the file.
    let ds = Dataset::open(
        &d,
        &DataOptions {
            memory_limit: 0,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!ds.info().in_memory);
    let mut l = Loader::new(Arc::new(ds), 2, 0, false, 2);
    let e = err_text(l.next_batch());
    assert!(e.contains("trunc.png"));
    err_text(l.next_batch()); // stopped after the error
    std::fs::remove_dir_all(&d).unwrap();

    // Empty folder (a non-image file does not count).
    let d = tmp("empty");
    std::fs::write(d.join("notes.txt"), "x").unwrap();
    let e = err_text(Dataset::open(&d, &DataOptions::default()));
    assert!(e.contains("no images"));
    std::fs::remove_dir_all(&d).unwrap();
    err_text(Dataset::open(
        Path::new("/nonexistent/sgw"),
        &DataOptions::default(),
    ));
}

#[test]
fn resize_centre_crops() {
    let d = tmp("crop");
    // 16x8: red side bands, a green 8x8 centre.
    let img = RgbImage::from_fn(16, 8, |x, _| {
        if (4..12).contains(&x) {
            Rgb([0, 255, 0])
        } else {
            Rgb([255, 0, 0])
        }
    });
    img.save(d.join("wide.png")).unwrap();
    // A 32x32 image downscaled to 8: a flat colour stays flat.
    RgbImage::from_pixel(32, 32, Rgb([10, 20, 30]))
        .save(d.join("big.png"))
        .unwrap();
    let ds = Dataset::open(
        &d,
        &DataOptions {
            resolution: Some(8),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((ds.info().len, ds.info().resolution), (2, 8));
    let big = ds.image(0).unwrap();
    assert!(big
        .iter()
        .enumerate()
        .all(|(k, &v)| v == [10, 20, 30][k / 64]));
    let wide = ds.image(1).unwrap();
    assert!(wide
        .iter()
        .enumerate()
        .all(|(k, &v)| v == [0, 255, 0][k / 64]));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn zip_matches_folder() {
    let (d, expect) = make_mixed_folder("zipsrc");
    let zpath = std::env::temp_dir().join(format!("sgw-data-{}-set.zip", std::process::id()));
    {
        let f = std::fs::File::create(&zpath).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let opts = zip::write::SimpleFileOptions::default();
        z.add_directory("imgs/", opts).unwrap();
        for (i, e) in expect.iter().enumerate() {
            let mut buf = std::io::Cursor::new(Vec::new());
            e.write_to(&mut buf, image::ImageFormat::Png).unwrap();
            // Written out of order: the dataset sorts by name.
            z.start_file(format!("imgs/{}.png", 9 - i), opts).unwrap();
            z.write_all(buf.get_ref()).unwrap();
        }
        z.start_file("imgs/labels.json", opts).unwrap();
        z.write_all(b"{}").unwrap();
        z.finish().unwrap();
    }
    assert_eq!(Source::detect(&zpath).unwrap(), Source::Zip(zpath.clone()));
    for limit in [usize::MAX, 0] {
        let ds = Dataset::open(
            &zpath,
            &DataOptions {
                memory_limit: limit,
                ..Default::default()
            },
        )
        .unwrap();
        println!("{:?}", ds.info());
        assert_eq!(
            (ds.info().len, ds.info().channels, ds.info().resolution),
            (4, 3, 8)
        );
        for i in 0..4 {
            assert_eq!(&*ds.image(i).unwrap(), &chw(&expect[3 - i])[..]);
        }
        // The loader over a lazy zip yields what it yields over memory.
        let mut l = Loader::new(Arc::new(ds), 3, 5, true, 2);
        let b = l.next_batch().unwrap();
        assert_eq!(b.len(), 3 * 3 * 64);
    }
    let ds_mem = Arc::new(Dataset::open(&zpath, &DataOptions::default()).unwrap());
    let ds_lazy = Arc::new(
        Dataset::open(
            &zpath,
            &DataOptions {
                memory_limit: 0,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let mut a = Loader::new(ds_mem, 3, 5, true, 2);
    let mut b = Loader::new(ds_lazy, 3, 5, true, 2);
    for _ in 0..4 {
        assert_eq!(a.next_batch().unwrap(), b.next_batch().unwrap());
    }
    std::fs::remove_file(&zpath).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
}

/// A synthetic IDX3 file: `n` images of 28x28 with pixel (i, y, x) = (i*37 + y*5 + x*3) % 255 + 1
/// (never 0, so padding is distinguishable).
fn idx_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for w in [n as u32, 28, 28] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    for i in 0..n {
        for y in 0..28 {
            for x in 0..28 {
                v.push(((i * 37 + y * 5 + x * 3) % 255 + 1) as u8);
            }
        }
    }
    v
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn idx_padding() {
    let d = tmp("idx");
    let raw = idx_bytes(5);
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), gz(&raw)).unwrap();
    std::fs::write(d.join("plain-idx3-ubyte"), &raw).unwrap();
    let from_dir = Dataset::open(&d, &DataOptions::default()).unwrap();
    let from_gz = Dataset::open(
        &d.join("train-images-idx3-ubyte.gz"),
        &DataOptions::default(),
    )
    .unwrap();
    let from_raw = Dataset::open(&d.join("plain-idx3-ubyte"), &DataOptions::default()).unwrap();
    for ds in [&from_dir, &from_gz, &from_raw] {
        println!("{:?}", ds.info());
        assert_eq!(
            (ds.info().len, ds.info().channels, ds.info().resolution),
            (5, 1, 32)
        );
        for i in 0..5 {
            let im = ds.image(i).unwrap();
            for y in 0..32 {
                for x in 0..32 {
                    let inside = (2..30).contains(&y) && (2..30).contains(&x);
                    let want = if inside {
                        ((i * 37 + (y - 2) * 5 + (x - 2) * 3) % 255 + 1) as u8
                    } else {
                        0
                    };
                    assert_eq!(im[y * 32 + x], want, "image {i} ({y},{x})");
                }
            }
        }
    }
    let rgb = Dataset::open(
        &d,
        &DataOptions {
            grayscale: Some(false),
            max_images: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((rgb.info().len, rgb.info().channels), (2, 3));
    let im = rgb.image(1).unwrap();
    assert_eq!(&im[..1024], &*from_dir.image(1).unwrap());
    assert_eq!(&im[2048..], &*from_dir.image(1).unwrap());
    let small = Dataset::open(
        &d,
        &DataOptions {
            resolution: Some(16),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(small.info().resolution, 16);
    assert_eq!(small.image(0).unwrap()[0], 0, "corner stays black");

    // Size mismatch, label file, bad magic.
    let mut short = raw.clone();
    short.truncate(raw.len() - 10);
    std::fs::write(d.join("short-idx3-ubyte.gz"), gz(&short)).unwrap();
    let e = err_text(Dataset::open(
        &d.join("short-idx3-ubyte.gz"),
        &DataOptions::default(),
    ));
    assert!(e.contains("short-idx3-ubyte.gz") && e.contains("5 images"));
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 2];
    labels.extend_from_slice(&[3, 4]);
    std::fs::write(d.join("labels-idx1-ubyte.gz"), gz(&labels)).unwrap();
    let e = err_text(Dataset::open(
        &d.join("labels-idx1-ubyte.gz"),
        &DataOptions::default(),
    ));
    assert!(e.contains("label file"));
    std::fs::write(d.join("junk.gz"), gz(&[1u8; 40])).unwrap();
    let e = err_text(Dataset::open(&d.join("junk.gz"), &DataOptions::default()));
    assert!(e.contains("junk.gz") && e.contains("magic"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// 10 images of 1x4x4; pixel (i, y, x) = i*16 + x, so a row tells the image and its direction.
fn id_dataset(n: usize) -> Arc<Dataset> {
    let mut v = Vec::new();
    for i in 0..n {
        for _y in 0..4 {
            for x in 0..4 {
                v.push((i * 16 + x) as u8);
            }
        }
    }
    Arc::new(Dataset::from_memory(v, 1, 4, "ids").unwrap())
}

/// (image id, flipped) of each image in a batch, checking rows are consistent.
fn decode_ids(b: &[f32]) -> Vec<(usize, bool)> {
    b.chunks(16)
        .map(|img| {
            let px: Vec<u8> = img
                .iter()
                .map(|&f| {
                    assert!((-1.0..=1.0).contains(&f));
                    let u = (f + 1.0) * 127.5;
                    assert!((u - u.round()).abs() < 1e-3);
                    u.round() as u8
                })
                .collect();
            let id = (px[0] / 16) as usize;
            let flipped = px[0] > px[3];
            for y in 0..4 {
                for x in 0..4 {
                    let xx = if flipped { 3 - x } else { x };
                    assert_eq!(px[y * 4 + x] as usize, id * 16 + xx);
                }
            }
            (id, flipped)
        })
        .collect()
}

fn stream(
    ds: &Arc<Dataset>,
    batch: usize,
    seed: u64,
    mirror: bool,
    start: u64,
    nb: usize,
) -> Vec<f32> {
    let mut l = Loader::new_at(ds.clone(), batch, seed, mirror, 3, start);
    let mut out = Vec::new();
    for _ in 0..nb {
        out.extend(l.next_batch().unwrap());
    }
    assert_eq!(l.position(), start + (batch * nb) as u64);
    out
}

#[test]
fn loader_order_and_resume() {
    let ds = id_dataset(10);
    let a = stream(&ds, 3, 7, false, 0, 10); // 30 images = 3 epochs
    let ids = decode_ids(&a);
    for ep in 0..3 {
        let set: HashSet<usize> = ids[ep * 10..(ep + 1) * 10].iter().map(|p| p.0).collect();
        assert_eq!(set.len(), 10, "epoch {ep} visits every image once");
        let want: Vec<usize> = epoch_order(10, 7, ep as u64);
        let got: Vec<usize> = ids[ep * 10..(ep + 1) * 10].iter().map(|p| p.0).collect();
        assert_eq!(got, want);
    }
    assert!(ids.iter().all(|p| !p.1), "no flips without mirror");
    let e0: Vec<usize> = ids[..10].iter().map(|p| p.0).collect();
    let e1: Vec<usize> = ids[10..20].iter().map(|p| p.0).collect();
    assert_ne!(e0, e1, "epochs are reshuffled");
    assert_ne!(e0, (0..10).collect::<Vec<_>>(), "shuffled");
    // Determinism and seed dependence.
    assert_eq!(a, stream(&ds, 3, 7, false, 0, 10));
    assert_ne!(a, stream(&ds, 3, 8, false, 0, 10));
    // Batch size does not change the stream; new_at(start) equals skipping start images.
    let ones = stream(&ds, 1, 7, true, 0, 30);
    let fives = stream(&ds, 5, 7, true, 0, 6);
    assert_eq!(ones, fives);
    for start in [0u64, 3, 7, 10, 19] {
        let r = stream(&ds, 3, 7, true, start, 3);
        assert_eq!(
            &r[..],
            &ones[start as usize * 16..(start as usize + 9) * 16],
            "start {start}"
        );
    }
    // Mirroring: some flipped, some not, exactly where flip_at says.
    let m = decode_ids(&ones);
    let flips = m.iter().filter(|p| p.1).count();
    println!("mirror: {flips}/30 flipped");
    assert!(flips > 3 && flips < 27);
    for (p, (_, f)) in m.iter().enumerate() {
        assert_eq!(*f, flip_at(7, p as u64));
    }
    let unflipped: Vec<usize> = m.iter().map(|p| p.0).collect();
    assert_eq!(
        unflipped,
        ids.iter().map(|p| p.0).collect::<Vec<_>>(),
        "mirror keeps the order"
    );
    // Dropping a loader with a full prefetch queue does not hang.
    let l = Loader::new(ds.clone(), 2, 0, true, 4);
    std::thread::sleep(std::time::Duration::from_millis(20));
    drop(l);
    let mut z = Loader::new(ds, 0, 0, false, 1);
    err_text(z.next_batch());
}

#[test]
fn loader_values_and_layout() {
    let (d, expect) = make_mixed_folder("loader");
    let ds = Arc::new(Dataset::open(&d, &DataOptions::default()).unwrap());
    let mut l = Loader::new(ds.clone(), 6, 1, false, 2);
    let b = l.next_batch().unwrap();
    assert_eq!(b.len(), 6 * 3 * 8 * 8);
    let order = epoch_order(6, 1, 0);
    let mut max_err = 0f32;
    for (k, &i) in order.iter().enumerate() {
        let img = ds.image(i).unwrap();
        for (j, &u) in img.iter().enumerate() {
            max_err = max_err.max((b[k * 192 + j] - (u as f32 / 127.5 - 1.0)).abs());
        }
        if i < 4 {
            assert_eq!(&*img, &chw(&expect[i])[..]);
        }
    }
    println!("loader vs x/127.5-1 max error {max_err:e}");
    assert_eq!(max_err, 0.0);
    assert!(b.iter().all(|v| (-1.0..=1.0).contains(v)));
    assert!(b.contains(&1.0) && b.contains(&-1.0));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn fashion_mnist_if_installed() {
    let p = Path::new("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    if !p.exists() {
        println!(
            "SKIPPED: {} not present (Debian package dataset-fashion-mnist)",
            p.display()
        );
        return;
    }
    let t = std::time::Instant::now();
    let ds = Dataset::open(p.parent().unwrap(), &DataOptions::default()).unwrap();
    println!("{:?} opened in {:.2?}", ds.info(), t.elapsed());
    assert_eq!(
        (ds.info().len, ds.info().channels, ds.info().resolution),
        (60000, 1, 32)
    );
    let mut nonzero = 0usize;
    for i in [0usize, 1, 59999] {
        let im = ds.image(i).unwrap();
        for y in 0..32 {
            for x in 0..32 {
                if !((2..30).contains(&y) && (2..30).contains(&x)) {
                    assert_eq!(im[y * 32 + x], 0);
                }
            }
        }
        nonzero += im.iter().filter(|&&v| v > 0).count();
    }
    assert!(nonzero > 300);
    let mut l = Loader::new(Arc::new(ds), 64, 0, true, 2);
    let t = std::time::Instant::now();
    for _ in 0..10 {
        assert_eq!(l.next_batch().unwrap().len(), 64 * 1024);
    }
    println!("10 batches of 64 in {:.2?}", t.elapsed());
}

/// A FIFO (or a device) given as a dataset is refused by name before it is opened: opening a
/// FIFO for reading blocks until a writer comes (issue 28: `train`, `fid` and `features` hung).
/// Also a FIFO named like the IDX file inside a folder, and one among a folder's images.
#[cfg(unix)]
#[test]
fn fifo_datasets_are_refused_not_opened() {
    let dir = tmp("fifo_dataset");
    let fifo = dir.join("data.zip");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(st.success());
    // Run in a thread with a deadline: the old code blocked forever in open().
    let (tx, rx) = std::sync::mpsc::channel();
    let f2 = fifo.clone();
    std::thread::spawn(move || {
        let r = Dataset::open(&f2, &DataOptions::default()).map(|d| d.len());
        tx.send(err_text(r)).ok();
    });
    let msg = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("Dataset::open blocked on a FIFO");
    assert!(
        msg.contains("data.zip") && msg.contains("FIFO"),
        "unexpected error: {msg}"
    );
    for dev in ["/dev/zero", "/dev/null"] {
        let msg = err_text(Dataset::open(Path::new(dev), &DataOptions::default()));
        assert!(msg.contains(dev) && msg.contains("device"), "{dev}: {msg}");
    }
}

/// One subfolder per class gives labels (sorted folder names); `classes` keeps only those
/// classes, with their numbers, and `max_images` counts among them; the loader hands out each
/// image's label with it.
#[test]
fn subfolder_classes_and_class_selection() {
    let dir = tmp("subfolder-classes");
    for (k, class) in ["coat", "bag", "shoe"].iter().enumerate() {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        for i in 0..3u32 {
            gray_img(8, k as u32 * 10 + i)
                .save(dir.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let all = Dataset::open(&dir, &DataOptions::default()).unwrap();
    assert_eq!(all.class_names().unwrap(), ["bag", "coat", "shoe"]);
    assert_eq!(all.labels().unwrap(), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    assert_eq!(all.num_classes(), 3);
    let opts = DataOptions {
        classes: Some(vec![2, 0]),
        max_images: Some(4),
        ..DataOptions::default()
    };
    let some = Dataset::open(&dir, &opts).unwrap();
    assert_eq!(some.labels().unwrap(), [0, 0, 0, 2]);
    assert_eq!(some.len(), 4);
    assert_eq!(some.image(3).unwrap(), all.image(6).unwrap());
    assert!(
        some.info().source.ends_with("(classes [2, 0])"),
        "{}",
        some.info().source
    );
    let mut l = Loader::new(Arc::new(some), 4, 1, false, 1);
    let b = l.next_labeled().unwrap();
    let mut got = b.labels.unwrap();
    got.sort();
    assert_eq!(got, [0, 0, 0, 2]);
    assert_eq!(b.images.len(), 4 * 64);
    // Images beside the class folders: no labels, and selecting classes says why it cannot.
    gray_img(8, 99).save(dir.join("stray.png")).unwrap();
    let mixed = Dataset::open(&dir, &DataOptions::default()).unwrap();
    assert!(mixed.labels().is_none());
    let e = err_text(Dataset::open(&dir, &opts));
    assert!(
        e.contains("--classes") && e.contains("no class labels"),
        "{e}"
    );
    let only = DataOptions {
        classes: Some(vec![7]),
        ..DataOptions::default()
    };
    std::fs::remove_file(dir.join("stray.png")).unwrap();
    let e = err_text(Dataset::open(&dir, &only));
    assert!(
        e.contains("no image of these classes") && e.contains("0-2"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
