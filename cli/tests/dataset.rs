//! `stylegan dataset` and the `--resize` / `--transform` flags of the commands that read images,
//! as a user coming with a folder of 28x28 PNGs meets them: the folder converted with `--transform
//! pad`, then `fid`, `features` and `metrics --data` on it, and `project --target` of a 28x28
//! image with the embedded 32x32 model, which pads the target as training pads digits. The
//! transforms themselves are tested in the library (tests/data_tool.rs); these check that the
//! flags reach them. Runs needing a GPU use lavapipe and fail without an adapter.

use std::path::Path;

use image::{GrayImage, Luma};
use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::io::images::load_image_chw;
use stylegan_wgpu::io::npy::read_npy;

mod common;
use common::process::Out;
use common::tempdir::TempDir;

fn stylegan(dir: &TempDir, args: &[&str]) -> Out {
    common::process::output(&dir.0, args)
}

fn ok(dir: &TempDir, args: &[&str]) -> Out {
    common::process::ok(&dir.0, args)
}

/// A run that fails with a message holding every needle; returns its stderr.
fn fails(dir: &TempDir, args: &[&str], needles: &[&str]) -> String {
    common::process::fails(&dir.0, args, needles)
}

/// A 28x28 "digit": a bright blob whose position moves with `i`, never 0 inside the 28x28.
fn digit(i: u32) -> GrayImage {
    GrayImage::from_fn(28, 28, |x, y| {
        let (cx, cy) = (8 + (i * 5) % 12, 10 + (i * 3) % 9);
        let d2 = (x as i32 - cx as i32).pow(2) + (y as i32 - cy as i32).pow(2);
        Luma([if d2 < 30 {
            250
        } else {
            1 + ((x + y + i) % 20) as u8
        }])
    })
}

/// `digits/` with `n` 28x28 gray PNGs.
fn digits(dir: &TempDir, n: u32) -> Vec<GrayImage> {
    std::fs::create_dir_all(dir.path("digits")).unwrap();
    (0..n)
        .map(|i| {
            let d = digit(i);
            d.save(dir.path(&format!("digits/{i:02}.png"))).unwrap();
            d
        })
        .collect()
}

/// Whether a 32x32 plane is the 28x28 `d` with a black border of 2.
fn is_padded(plane: &[u8], d: &GrayImage) -> bool {
    (0..32).all(|y| {
        (0..32).all(|x| {
            let inside = (2..30).contains(&x) && (2..30).contains(&y);
            let want = if inside {
                d.get_pixel(x as u32 - 2, y as u32 - 2)[0]
            } else {
                0
            };
            plane[y * 32 + x] == want
        })
    })
}

#[test]
fn a_folder_of_28x28_pngs_into_fid_features_and_metrics() {
    let dir = TempDir::new("dataset");
    let imgs = digits(&dir, 12);
    let help = ok(&dir, &["dataset", "--help"]);
    assert!(help.stdout.contains("Examples:") && help.stdout.contains("--transform pad"));

    // Without a transform the 28x28 images are refused, with hints that name flags `fid` has.
    let e = fails(
        &dir,
        &["fid", "digits", "digits"],
        &["00.png", "28x28", "--resize", "--transform pad"],
    );
    assert!(!e.contains("stylegan train"), "{e}");

    let out = ok(
        &dir,
        &[
            "dataset",
            "--source",
            "digits",
            "--dest",
            "d.zip",
            "--transform",
            "pad",
        ],
    );
    assert!(
        out.stdout.contains("12 images of 32x32, 1 channel(s)"),
        "{}",
        out.stdout
    );
    let ds = Dataset::open(&dir.path("d.zip"), &DataOptions::default()).unwrap();
    assert_eq!(
        (ds.len(), ds.info().resolution, ds.info().channels),
        (12, 32, 1)
    );
    for (i, d) in imgs.iter().enumerate() {
        assert!(
            is_padded(&ds.image(i).unwrap(), d),
            "image {i} is not padded"
        );
    }

    // FID of the archive against the folder padded on the fly: the same pixels, so 0.
    let out = ok(
        &dir,
        &[
            "fid",
            "d.zip",
            "digits",
            "--transform",
            "pad",
            "--json",
            "fid.json",
        ],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("fid.json")).unwrap()).unwrap();
    let fid = v["fid"].as_f64().unwrap();
    assert!(fid.abs() < 1e-3, "FID {fid}:\n{}", out.stdout);
    assert_eq!((v["n_a"].as_u64(), v["n_b"].as_u64()), (Some(12), Some(12)));

    // Features of the folder (padded on the fly) equal the archive's; --resize 32 with pad
    // is the same fit.
    ok(&dir, &["features", "d.zip", "--out", "a.npy"]);
    ok(
        &dir,
        &[
            "features",
            "digits",
            "--resize",
            "32",
            "--transform",
            "pad",
            "--out",
            "b.npy",
        ],
    );
    let (a, b) = (
        read_npy(dir.path("a.npy")).unwrap(),
        read_npy(dir.path("b.npy")).unwrap(),
    );
    assert_eq!(a.shape[0], 12);
    assert_eq!(a.shape, b.shape);
    assert_eq!(a.data, b.data);

    // metrics --data reads the folder the same way (10 fakes of the embedded model).
    let out = ok(
        &dir,
        &[
            "metrics",
            "--data",
            "digits",
            "--transform",
            "pad",
            "--metrics",
            "fid10",
            "--cache-dir",
            "off",
        ],
    );
    assert!(out.stdout.contains("fid10"), "{}", out.stdout);

    // Flags are checked while parsing.
    for (args, needle) in [
        (
            &["dataset", "--source", "digits", "--dest", "d.tar"][..],
            "writes .zip",
        ),
        (
            &[
                "dataset",
                "--source",
                "digits",
                "--dest",
                "e.zip",
                "--transform",
                "stretch",
            ],
            "center-crop-wide",
        ),
        (
            &[
                "dataset",
                "--source",
                "digits",
                "--dest",
                "e.zip",
                "--channels",
                "2",
            ],
            "1 (grayscale) or 3",
        ),
        (&["fid", "a", "b", "--resize", "28"], "not a power of two"),
    ] {
        let o = stylegan(&dir, args);
        assert_eq!(o.code, Some(2), "{args:?}:\n{}", o.stderr);
        assert!(o.stderr.contains(needle), "{args:?}:\n{}", o.stderr);
    }
    // A crop needs a resolution: the error names the source.
    fails(
        &dir,
        &[
            "dataset",
            "--source",
            "digits",
            "--dest",
            "e.zip",
            "--transform",
            "center-crop",
        ],
        &["--source digits", "needs a target resolution"],
    );
    assert!(!dir.path("e.zip").exists());
}

#[test]
fn project_pads_a_28x28_target_as_training_pads_digits() {
    let dir = TempDir::new("project-pad");
    let d = digit(3);
    d.save(dir.path("digit.png")).unwrap();
    let args = |out: &'static str| {
        vec![
            "project",
            "--target",
            "digit.png",
            "--outdir",
            out,
            "--steps",
            "2",
            "--w-avg-samples",
            "50",
        ]
    };
    let o = ok(&dir, &args("p"));
    assert!(
        o.stderr
            .contains("target 28x28 fitted to the model's 32x32 by pad"),
        "{}",
        o.stderr
    );
    let (t, c, h, w) = load_image_chw(dir.path("p/target.png")).unwrap();
    assert_eq!((c, h, w), (1, 32, 32));
    let bytes: Vec<u8> = t
        .iter()
        .map(|v| ((v + 1.0) * 127.5).round() as u8)
        .collect();
    assert!(is_padded(&bytes, &d), "target.png is not the digit padded");

    // --transform center-crop stretches it as before.
    let mut a = args("q");
    a.extend(["--transform", "center-crop"]);
    let o = ok(&dir, &a);
    assert!(o.stderr.contains("by center-crop"), "{}", o.stderr);
    let (t, _, _, _) = load_image_chw(dir.path("q/target.png")).unwrap();
    assert!(t[0] > -1.0, "a stretched target has no black border");
    assert!(Path::new(&dir.path("q/proj.png")).exists());
}
