//! End-to-end tests of the `stylegan` binary: each runs the built executable in its own
//! temporary directory on a tiny model (32², 8 layers), checks the files it writes, that saved
//! latents and dlatents reproduce the images bit for bit, that an official pickle and its
//! conversion generate the same images, and that bad input of every kind ends in a non-zero
//! exit with a message naming the problem, never a panic.
//!
//! Like the other GPU tests these need an adapter (lavapipe will do) and fail without one.

use std::path::Path;

use stylegan_wgpu::io::images::load_image_chw;
use stylegan_wgpu::io::npy::{read_npy, write_npy};

mod common;
use common::process::Out;
use common::tempdir::TempDir;

/// A run that must succeed.
fn ok(dir: &TempDir, args: &[&str]) -> Out {
    common::process::ok(&dir.0, args)
}

/// A run that must fail with an error naming every one of `needles`; returns its stderr.
fn fails(dir: &TempDir, args: &[&str], needles: &[&str]) -> String {
    common::process::fails(&dir.0, args, needles)
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A temp dir holding `m.safetensors`, the tiny preset with the default init seed.
fn with_model(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    ok(
        &dir,
        &["init", "--preset", "tiny", "--out", "m.safetensors"],
    );
    dir
}

/// `(channels, height, width)` of a PNG.
fn png_dims(path: &Path) -> (usize, usize, usize) {
    let (_, c, h, w) = load_image_chw(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (c, h, w)
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn init_info_generate_and_reproduce() {
    let dir = with_model("gen");
    let info = ok(&dir, &["info", "m.safetensors"]);
    assert!(
        info.stdout.contains("32"),
        "info should show the resolution:\n{}",
        info.stdout
    );

    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "0-3",
            "--outdir",
            "out",
            "--grid",
            "g.png",
            "--out-npy",
            "x.npy",
            "--save-latents",
            "z.npy",
            "--save-dlatents",
            "w.npy",
        ],
    );
    for s in 0..4 {
        assert_eq!(
            png_dims(&dir.path(&format!("out/seed{s:04}.png"))),
            (3, 32, 32)
        );
    }
    assert_eq!(
        png_dims(&dir.path("g.png")),
        (3, 64, 64),
        "4 images make a 2x2 grid"
    );
    let x = read_npy(dir.path("x.npy")).unwrap();
    assert_eq!(x.shape, vec![4, 3, 32, 32]);
    assert!(x.data.iter().all(|v| v.is_finite()));
    assert_eq!(read_npy(dir.path("z.npy")).unwrap().shape, vec![4, 32]);
    assert_eq!(read_npy(dir.path("w.npy")).unwrap().shape, vec![4, 8, 32]);

    // Saved latents and dlatents reproduce the images exactly.
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--latents",
            "z.npy",
            "--out-npy",
            "xz.npy",
        ],
    );
    assert!(
        bytes(&dir.path("x.npy")) == bytes(&dir.path("xz.npy")),
        "--latents z.npy differs from the seeds' images"
    );
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--dlatents",
            "w.npy",
            "--out-npy",
            "xw.npy",
        ],
    );
    assert!(
        bytes(&dir.path("x.npy")) == bytes(&dir.path("xw.npy")),
        "--dlatents w.npy differs from the seeds' images"
    );

    // Truncation changes the images.
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "0-3",
            "--trunc",
            "0.5",
            "--out-npy",
            "xt.npy",
        ],
    );
    let xt = read_npy(dir.path("xt.npy")).unwrap();
    let diff = x
        .data
        .iter()
        .zip(&xt.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("max |x - x(trunc 0.5)| = {diff:.3e}");
    assert!(
        diff > 1e-4,
        "--trunc 0.5 did not change the images (max diff {diff})"
    );
}

/// `--trunc` alone truncates the model's `truncation_cutoff` layers (8, as the official
/// `Gs.run(..., truncation_psi=0.7)`), not all 10 layers of a 64² model; `--trunc-cutoff all`
/// reaches every layer; a bad cutoff names the flag.
#[test]
fn trunc_defaults_to_the_models_cutoff() {
    let dir = TempDir::new("cutoff");
    ok(
        &dir,
        &[
            "init",
            "--preset",
            "tiny",
            "--resolution",
            "64",
            "--out",
            "m.safetensors",
        ],
    );
    let run = |extra: &[&str], out: &str| {
        let mut args = vec!["generate", "--model", "m.safetensors", "--seeds", "0-1"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out-npy", out]);
        ok(&dir, &args)
    };
    let o = run(&["--trunc", "0.7"], "default.npy");
    assert!(
        o.stderr.contains("truncation psi 0.7 on 8 of 10 layers"),
        "{}",
        o.stderr
    );
    run(&["--trunc", "0.7", "--trunc-cutoff", "8"], "eight.npy");
    run(&["--trunc", "0.7", "--trunc-cutoff", "all"], "all.npy");
    run(&["--trunc", "0.7", "--trunc-cutoff", "10"], "ten.npy");
    assert!(bytes(&dir.path("default.npy")) == bytes(&dir.path("eight.npy")));
    assert!(bytes(&dir.path("all.npy")) == bytes(&dir.path("ten.npy")));
    let (a, b) = (
        read_npy(dir.path("default.npy")).unwrap(),
        read_npy(dir.path("all.npy")).unwrap(),
    );
    let diff = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    eprintln!("max |default - all layers| = {diff:.3e}");
    assert!(diff > 1e-3, "the default cutoff truncated every layer");
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--trunc-cutoff",
            "most",
        ],
        &["--trunc-cutoff", "all"],
    );
}

#[test]
fn pickle_and_its_conversion_generate_the_same() {
    let dir = TempDir::new("conv");
    let pkl = fixture("tiny_p2.pkl");
    ok(&dir, &["convert", &pkl, "conv.safetensors"]);
    ok(
        &dir,
        &[
            "generate",
            "--model",
            &pkl,
            "--seeds",
            "0-2",
            "--out-npy",
            "a.npy",
        ],
    );
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "conv.safetensors",
            "--seeds",
            "0-2",
            "--out-npy",
            "b.npy",
        ],
    );
    let a = read_npy(dir.path("a.npy")).unwrap();
    assert_eq!(a.shape, vec![3, 3, 8, 8]);
    assert!(
        bytes(&dir.path("a.npy")) == bytes(&dir.path("b.npy")),
        "pickle and converted model differ"
    );
}

/// A class-conditional official pickle (`label_size` 3, `G_mapping/LabelConcat/weight`, D's
/// three-output `Dense1`) converts to safetensors that keep the label size and every tensor;
/// `info` on both shows the label size.
#[test]
fn conditional_pickle_converts_with_its_label_size() {
    let dir = TempDir::new("conv-cond");
    let (_, g) = common::write_conditional_pickle(&dir.path("cond.pkl"));
    ok(&dir, &["convert", "cond.pkl", "cond.safetensors"]);
    let m = stylegan_wgpu::io::safetensors::load(&dir.path("cond.safetensors")).unwrap();
    assert_eq!(m.config.label_size, 3);
    for net in ["G", "Gs"] {
        let t = &m.nets[net]["G_mapping/LabelConcat/weight"];
        assert_eq!(t.shape, [3, 8], "{net}");
        assert_eq!(t.data, g["G_mapping/LabelConcat/weight"].data, "{net}");
    }
    assert_eq!(m.nets["D"]["4x4/Dense1/bias"].shape, [3]);
    for file in ["cond.pkl", "cond.safetensors"] {
        let out = ok(&dir, &["info", file]).stdout;
        assert!(out.contains("\"label_size\": 3"), "info {file}:\n{out}");
    }
}

#[test]
fn mix_figure() {
    let dir = with_model("mix");
    ok(
        &dir,
        &[
            "mix",
            "--model",
            "m.safetensors",
            "--rows",
            "85,100",
            "--cols",
            "55,821,7",
            "--styles",
            "0-3",
            "--trunc",
            "0.7",
            "--out",
            "mix.png",
        ],
    );
    // 2 rows x 3 cols plus the header row and column.
    assert_eq!(png_dims(&dir.path("mix.png")), (3, 3 * 32, 4 * 32));
    let (img, c, h, w) = load_image_chw(dir.path("mix.png")).unwrap();
    // The top-left cell is black.
    let corner_max = (0..c)
        .flat_map(|ch| (0..32).flat_map(move |y| (0..32).map(move |x| (ch * h + y) * w + x)))
        .map(|i| img[i])
        .fold(f32::MIN, f32::max);
    assert_eq!(corner_max, -1.0, "top-left cell must be black");
    // Taking every layer from the column seed turns the cells into the column images, so the
    // cell (1, 1) equals the header image of column 1 exactly.
    ok(
        &dir,
        &[
            "mix",
            "--model",
            "m.safetensors",
            "--rows",
            "1",
            "--cols",
            "2",
            "--styles",
            "0-7",
            "--out",
            "all.png",
        ],
    );
    let (img, c, h, w) = load_image_chw(dir.path("all.png")).unwrap();
    assert_eq!((c, h, w), (3, 64, 64));
    let cell = |cy: usize, cx: usize| -> Vec<f32> {
        (0..c)
            .flat_map(|ch| (0..32).flat_map(move |y| (0..32).map(move |x| (ch, y, x))))
            .map(|(ch, y, x)| img[(ch * h + cy * 32 + y) * w + cx * 32 + x])
            .collect()
    };
    assert_eq!(
        cell(1, 1),
        cell(0, 1),
        "all styles from the column seed must give the column image"
    );
    assert_ne!(
        cell(1, 0),
        cell(0, 1),
        "row and column seeds should give different images"
    );
}

#[test]
fn interpolate_frames_and_gif() {
    let dir = with_model("interp");
    ok(
        &dir,
        &[
            "interpolate",
            "--model",
            "m.safetensors",
            "--seeds",
            "1,2",
            "--frames",
            "6",
            "--outdir",
            "fr",
            "--gif",
            "a.gif",
            "--loop",
        ],
    );
    for f in 0..6 {
        assert_eq!(
            png_dims(&dir.path(&format!("fr/frame{f:04}.png"))),
            (3, 32, 32)
        );
    }
    assert!(!dir.path("fr/frame0006.png").exists());
    let gif = bytes(&dir.path("a.gif"));
    assert!(gif.starts_with(b"GIF89a"), "not a GIF");
    assert_eq!(u16::from_le_bytes([gif[6], gif[7]]), 32, "GIF width");
    assert_eq!(u16::from_le_bytes([gif[8], gif[9]]), 32, "GIF height");

    // In W without --loop the first and last frames are the key seeds' own images.
    ok(
        &dir,
        &[
            "interpolate",
            "--model",
            "m.safetensors",
            "--seeds",
            "1,2",
            "--frames",
            "3",
            "--space",
            "w",
            "--outdir",
            "fw",
        ],
    );
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "1,2",
            "--outdir",
            "keys",
        ],
    );
    assert!(bytes(&dir.path("fw/frame0000.png")) == bytes(&dir.path("keys/seed0001.png")));
    assert!(bytes(&dir.path("fw/frame0002.png")) == bytes(&dir.path("keys/seed0002.png")));
}

#[test]
fn bad_input_fails_cleanly() {
    let dir = with_model("errors");

    fails(
        &dir,
        &[
            "generate",
            "--model",
            "missing.safetensors",
            "--seeds",
            "0",
            "--out-npy",
            "x.npy",
        ],
        &["missing.safetensors"],
    );

    // Random bytes (not starting with the pickle opcode) and a truncated safetensors.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .map(|b| if b == 0x80 { 0 } else { b })
        .collect();
    std::fs::write(dir.path("junk.safetensors"), &junk).unwrap();
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "junk.safetensors",
            "--seeds",
            "0",
            "--out-npy",
            "x.npy",
        ],
        &["junk.safetensors"],
    );
    let full = bytes(&dir.path("m.safetensors"));
    std::fs::write(dir.path("cut.safetensors"), &full[..full.len() / 2]).unwrap();
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "cut.safetensors",
            "--seeds",
            "0",
            "--out-npy",
            "x.npy",
        ],
        &["cut.safetensors"],
    );
    fails(&dir, &["info", "cut.safetensors"], &["cut.safetensors"]);

    // A pickle that would run os.system is refused, by every reader.
    let hostile = fixture("hostile.pkl");
    fails(
        &dir,
        &[
            "generate",
            "--model",
            &hostile,
            "--seeds",
            "0",
            "--out-npy",
            "x.npy",
        ],
        &["hostile.pkl"],
    );
    fails(
        &dir,
        &["convert", &hostile, "h.safetensors"],
        &["hostile.pkl"],
    );
    assert!(!dir.path("h.safetensors").exists());

    // Latents of the wrong width, and a latents file that is not .npy.
    write_npy(dir.path("z5.npy"), &[2, 5], &[0.5; 10]).unwrap();
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--latents",
            "z5.npy",
            "--out-npy",
            "x.npy",
        ],
        &["z5.npy", "32"],
    );
    std::fs::write(dir.path("notes.txt"), "not an array\n").unwrap();
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--latents",
            "notes.txt",
            "--out-npy",
            "x.npy",
        ],
        &["notes.txt"],
    );

    // An output directory under a regular file cannot be created.
    std::fs::write(dir.path("file"), "x").unwrap();
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "0",
            "--outdir",
            "file/sub",
        ],
        &["file/sub"],
    );
    fails(
        &dir,
        &[
            "interpolate",
            "--model",
            "m.safetensors",
            "--seeds",
            "0,1",
            "--frames",
            "2",
            "--outdir",
            "file/sub",
        ],
        &["file/sub"],
    );

    // Bad seed lists and layer lists.
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "3-x",
            "--out-npy",
            "x.npy",
        ],
        &["seed", "3-x"],
    );
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "5-2",
            "--out-npy",
            "x.npy",
        ],
        &["5-2"],
    );
    fails(
        &dir,
        &[
            "mix",
            "--model",
            "m.safetensors",
            "--rows",
            "1",
            "--cols",
            "a",
            "--styles",
            "0",
            "--out",
            "m.png",
        ],
        &["--cols"],
    );
    fails(
        &dir,
        &[
            "mix",
            "--model",
            "m.safetensors",
            "--rows",
            "1",
            "--cols",
            "2",
            "--styles",
            "0-8",
            "--out",
            "m.png",
        ],
        &["--styles", "8", "out of range"],
    );
    fails(
        &dir,
        &[
            "mix",
            "--model",
            "m.safetensors",
            "--rows",
            "1",
            "--cols",
            "2",
            "--styles",
            "two",
            "--out",
            "m.png",
        ],
        &["--styles"],
    );
    fails(
        &dir,
        &[
            "interpolate",
            "--model",
            "m.safetensors",
            "--seeds",
            "4",
            "--outdir",
            "fr",
        ],
        &["two"],
    );
    assert!(!dir.path("m.png").exists());
}

#[test]
fn a_missing_dataset_is_named_with_where_debian_puts_fashion_mnist() {
    let dir = TempDir::new("missing-data");
    fails(
        &dir,
        &["metrics", "--data", "fashion-mnist", "--metrics", "fid1k"],
        &["--data fashion-mnist", "/usr/share/datasets/fashion-mnist"],
    );
}

#[test]
fn project_writes_a_projection_that_generate_makes_again() {
    let dir = with_model("project");
    // A non-square RGB target of another size: cropped and resized to the model's 32x32.
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "3",
            "--outdir",
            "t",
        ],
    );
    let t = image::open(dir.path("t/seed0003.png")).unwrap();
    t.resize_exact(48, 40, image::imageops::FilterType::Triangle)
        .save(dir.path("target.png"))
        .unwrap();
    let out = ok(
        &dir,
        &[
            "project",
            "--model",
            "m.safetensors",
            "--target",
            "target.png",
            "--outdir",
            "p",
            "--steps",
            "20",
            "--w-avg-samples",
            "200",
            "--save-video",
        ],
    );
    assert!(out.stdout.contains("PSNR"), "{}", out.stdout);
    assert!(
        out.stderr.contains("loss: summed squared pixel error"),
        "{}",
        out.stderr
    );
    let (c, h, w) = png_dims(&dir.path("p/target.png"));
    assert_eq!((h, w), (32, 32));
    assert_eq!(png_dims(&dir.path("p/proj.png")), (c, 32, 32));
    let npy = read_npy(dir.path("p/projected_w.npy")).unwrap();
    assert_eq!(npy.shape.len(), 3);
    assert_eq!(npy.shape[..2], [1, 8]);
    let summary: serde_json::Value =
        serde_json::from_slice(&bytes(&dir.path("p/project.json"))).unwrap();
    assert_eq!(summary["steps"], 20);
    assert!(summary["psnr_db"].as_f64().unwrap().is_finite());
    // proj.mp4 through ffmpeg where it is installed, else the GIF (cli/tests/nvidia_names.rs
    // tests both).
    if dir.path("p/proj.mp4").is_file() {
        assert_eq!(&bytes(&dir.path("p/proj.mp4"))[4..8], b"ftyp");
    } else {
        assert!(bytes(&dir.path("p/proj.gif")).starts_with(b"GIF8"));
    }
    // The dlatents with the projected noise maps make proj.png again, pixel for pixel.
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--dlatents",
            "p/projected_w.npy",
            "--noise-maps",
            "p/projected_noise.safetensors",
            "--outdir",
            "again",
        ],
    );
    assert_eq!(
        bytes(&dir.path("again/img0000.png")),
        bytes(&dir.path("p/proj.png"))
    );
    // Bad input is named.
    fails(
        &dir,
        &["project", "--target", "nope.png", "--outdir", "q"],
        &["nope.png"],
    );
    fails(
        &dir,
        &[
            "project",
            "--target",
            "target.png",
            "--outdir",
            "q",
            "--steps",
            "0",
        ],
        &["--steps"],
    );
    fails(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--dlatents",
            "p/projected_w.npy",
            "--noise-maps",
            "p/projected_w.npy",
            "--outdir",
            "x",
        ],
        &["--noise-maps", "projected_w.npy"],
    );
}
