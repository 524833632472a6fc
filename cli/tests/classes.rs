//! Class-conditional models from the command line (issue 30): `init --label-size`, `info`,
//! `generate --class/--classes`, `--class` on mix, interpolate and project, `losses --classes`,
//! and `train` on each labelled dataset format (IDX label file, one subfolder per class,
//! stylegan2-ada's dataset.json) with `--cond`, `--no-cond` and `--class-names`. Each test
//! checks what the binary wrote (images, snapshots read with the library), not only that it
//! ran. Needs a GPU adapter (lavapipe will do).

use std::path::Path;

use stylegan_wgpu::io::images::load_image_chw;
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::Model;

mod common;
use common::process::{fails, ok, png_dataset, TINY_NET};
use common::tempdir::TempDir;

/// The config of the model at `path`, read with the library.
fn config(path: &Path) -> stylegan_wgpu::nn::Config {
    Model::load(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_file()
        .config
}

/// Images `[N, C, R, R]` of an .npy, one Vec per image.
fn images(path: &Path) -> Vec<Vec<f32>> {
    let a = read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let per: usize = a.shape[1..].iter().product();
    a.data.chunks(per).map(<[f32]>::to_vec).collect()
}

/// Mean absolute difference of two images.
fn mad(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

/// A temp dir holding `c.safetensors` (the tiny preset, 3 classes bag, shoe, hat) and
/// `u.safetensors` (the same, unconditional).
fn with_models(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    ok(
        &dir.0,
        &[
            "init",
            "--preset",
            "tiny",
            "--class-names",
            "bag,shoe,hat",
            "--out",
            "c.safetensors",
        ],
    );
    ok(
        &dir.0,
        &["init", "--preset", "tiny", "--out", "u.safetensors"],
    );
    dir
}

/// Seeds `seeds` of `model` as images, with `extra` flags (e.g. `--class 1`).
fn generate(dir: &TempDir, model: &str, seeds: &str, extra: &[&str]) -> Vec<Vec<f32>> {
    let out = format!("gen-{}.npy", dir.0.read_dir().unwrap().count());
    let args = [
        &[
            "generate",
            "--model",
            model,
            "--seeds",
            seeds,
            "--out-npy",
            &out,
        ][..],
        extra,
    ]
    .concat();
    ok(&dir.0, &args);
    images(&dir.path(&out))
}

#[test]
fn init_label_size_and_info() {
    let dir = TempDir::new("class-init");
    let o = ok(
        &dir.0,
        &[
            "init",
            "--preset",
            "tiny",
            "--label-size",
            "3",
            "--out",
            "c3.safetensors",
        ],
    );
    assert!(
        o.stdout.contains("class-conditional, 3 classes"),
        "{}",
        o.stdout
    );
    let c = config(&dir.path("c3.safetensors"));
    assert_eq!((c.label_size, c.class_names.len()), (3, 0));
    let info = ok(&dir.0, &["info", "c3.safetensors"]).stdout;
    assert!(
        info.contains("classes: 3 (class-conditional, label_size 3): 0-2"),
        "{info}"
    );
    assert!(info.contains("\"label_size\": 3"), "{info}");

    // Names: the count is the label size; info lists them.
    ok(
        &dir.0,
        &[
            "init",
            "--preset",
            "tiny",
            "--class-names",
            "fmnist",
            "--out",
            "f.safetensors",
        ],
    );
    let c = config(&dir.path("f.safetensors"));
    assert_eq!(c.label_size, 10);
    assert_eq!(c.class_names[7], "Sneaker");
    let info = ok(&dir.0, &["info", "f.safetensors"]).stdout;
    assert!(
        info.contains("classes: 10 (class-conditional, label_size 10): 0 T-shirt/top, 1 Trouser"),
        "{info}"
    );
    fails(
        &dir.0,
        &[
            "init",
            "--preset",
            "tiny",
            "--label-size",
            "2",
            "--class-names",
            "a,b,c",
            "--out",
            "x.safetensors",
        ],
        &["3 names", "--label-size 2"],
    );
    fails(
        &dir.0,
        &[
            "init",
            "--preset",
            "tiny",
            "--class-names",
            "a,A",
            "--out",
            "x.safetensors",
        ],
        &["--class-names", "both"],
    );
    assert!(!dir.path("x.safetensors").exists());

    ok(
        &dir.0,
        &["init", "--preset", "tiny", "--out", "u.safetensors"],
    );
    let info = ok(&dir.0, &["info", "u.safetensors"]).stdout;
    assert!(info.contains("classes: unconditional"), "{info}");
}

#[test]
fn generate_by_class() {
    let dir = with_models("class-gen");
    let c0 = generate(&dir, "c.safetensors", "4,5", &["--class", "0"]);
    let c1 = generate(&dir, "c.safetensors", "4,5", &["--class", "1"]);
    // One latent, two classes: other images.
    for (a, b) in c0.iter().zip(&c1) {
        let d = mad(a, b);
        eprintln!("class 0 vs class 1, same seed: mean |diff| {d:.4}");
        assert!(d > 1e-3, "the class changed nothing: {d}");
    }
    // By name (any case), the same images as by number.
    assert_eq!(
        generate(&dir, "c.safetensors", "4,5", &["--class", "SHOE"]),
        c1
    );
    // Without --class seed s has class s mod 3: seed 4 class 1, seed 5 class 2.
    let out = ok(
        &dir.0,
        &[
            "generate",
            "--model",
            "c.safetensors",
            "--seeds",
            "4,5",
            "--out-npy",
            "default.npy",
        ],
    );
    assert!(
        out.stderr.contains(
            "class-conditional model (3 classes): seed s gets class s mod 3; --class to choose"
        ),
        "{}",
        out.stderr
    );
    let own = images(&dir.path("default.npy"));
    assert_eq!(own[0], c1[0]);
    let c2 = generate(&dir, "c.safetensors", "5", &["--class", "hat"]);
    assert_eq!(own[1], c2[0]);

    // Refusals name the classes; an unconditional model takes none.
    for bad in ["3", "robot"] {
        fails(
            &dir.0,
            &[
                "generate",
                "--model",
                "c.safetensors",
                "--class",
                bad,
                "--grid",
                "x.png",
            ],
            &["--class", bad, "0 bag, 1 shoe, 2 hat"],
        );
    }
    fails(
        &dir.0,
        &[
            "generate",
            "--model",
            "c.safetensors",
            "--classes",
            "0-3",
            "--grid",
            "x.png",
        ],
        &["--classes 0-3", "class '3'", "0 bag, 1 shoe, 2 hat"],
    );
    fails(
        &dir.0,
        &[
            "generate",
            "--model",
            "u.safetensors",
            "--class",
            "1",
            "--grid",
            "x.png",
        ],
        &["--class 1", "unconditional"],
    );
    assert!(!dir.path("x.png").exists());

    // --classes 0-2 with a grid: one row per class, the seeds as columns.
    ok(
        &dir.0,
        &[
            "generate",
            "--model",
            "c.safetensors",
            "--seeds",
            "4,5",
            "--classes",
            "0-2",
            "--grid",
            "rows.png",
            "--out-npy",
            "rows.npy",
            "--outdir",
            "rows",
        ],
    );
    let rows = images(&dir.path("rows.npy"));
    assert_eq!(rows.len(), 6);
    assert_eq!(&rows[0..2], &c0[..]);
    assert_eq!(&rows[2..4], &c1[..]);
    assert_eq!(rows[5], c2[0]);
    let (grid, c, h, w) = load_image_chw(dir.path("rows.png")).unwrap();
    assert_eq!((c, h, w), (3, 3 * 32, 2 * 32));
    // Each grid row is its class's images: rows differ from one another.
    let grid_row = |r: usize| -> Vec<f32> {
        (0..c)
            .flat_map(|ch| grid[ch * h * w + r * 32 * w..ch * h * w + (r + 1) * 32 * w].to_vec())
            .collect()
    };
    for (a, b) in [(0, 1), (1, 2), (0, 2)] {
        let d = mad(&grid_row(a), &grid_row(b));
        eprintln!("grid rows {a} and {b}: mean |diff| {d:.4}");
        assert!(d > 1e-3, "grid rows {a} and {b} are alike");
    }
    for f in ["class0-seed0004.png", "class2-seed0005.png"] {
        assert!(dir.path("rows").join(f).is_file(), "{f} was not written");
    }
}

#[test]
fn mix_interpolate_and_project_take_a_class() {
    let dir = with_models("class-mix");
    // mix: the figure of class 0 differs from that of class 2.
    for class in ["0", "2"] {
        ok(
            &dir.0,
            &[
                "mix",
                "--model",
                "c.safetensors",
                "--rows",
                "4",
                "--cols",
                "5",
                "--styles",
                "0-1",
                "--class",
                class,
                "--out",
                &format!("mix{class}.png"),
            ],
        );
    }
    let (m0, ..) = load_image_chw(dir.path("mix0.png")).unwrap();
    let (m2, ..) = load_image_chw(dir.path("mix2.png")).unwrap();
    assert!(mad(&m0, &m2) > 1e-3);
    fails(
        &dir.0,
        &[
            "mix",
            "--model",
            "u.safetensors",
            "--rows",
            "4",
            "--cols",
            "5",
            "--styles",
            "0",
            "--class",
            "0",
            "--out",
            "x.png",
        ],
        &["--class 0", "unconditional"],
    );

    // interpolate: the first frame is the first key seed, of --class or of its own class.
    let png = |p: &str| load_image_chw(dir.path(p)).unwrap().0;
    let frames = |outdir: &str, extra: &[&str]| {
        let args = [
            &[
                "interpolate",
                "--model",
                "c.safetensors",
                "--seeds",
                "4,5",
                "--frames",
                "3",
                "--outdir",
                outdir,
            ][..],
            extra,
        ]
        .concat();
        ok(&dir.0, &args)
    };
    let o = frames("own", &[]);
    assert!(
        o.stderr.contains("key seed s gets class s mod 3"),
        "{}",
        o.stderr
    );
    frames("hat", &["--class", "hat"]);
    for (seeds, class, name) in [("4", "1", "s4c1"), ("5", "2", "s5c2"), ("4", "2", "s4c2")] {
        ok(
            &dir.0,
            &[
                "generate",
                "--model",
                "c.safetensors",
                "--seeds",
                seeds,
                "--class",
                class,
                "--grid",
                &format!("{name}.png"),
            ],
        );
    }
    // Tolerance: z at t = 0 comes out of a slerp (float rounding), not the seed itself.
    let close = |a: &str, b: &str| {
        let d = mad(&png(a), &png(b));
        eprintln!("{a} vs {b}: mean |diff| {d:.5}");
        d
    };
    assert!(close("own/frame0000.png", "s4c1.png") < 0.01);
    assert!(close("own/frame0002.png", "s5c2.png") < 0.01);
    assert!(close("hat/frame0000.png", "s4c2.png") < 0.01);
    assert!(close("own/frame0000.png", "s4c2.png") > 0.02);
    // In w: the keys mapped with their own classes, then lerped.
    frames("w", &["--space", "w"]);
    assert!(close("w/frame0000.png", "s4c1.png") < 0.01);
    assert!(close("w/frame0002.png", "s5c2.png") < 0.01);

    // project: w statistics of one class, or spread over all.
    ok(
        &dir.0,
        &[
            "generate",
            "--model",
            "c.safetensors",
            "--seeds",
            "9",
            "--grid",
            "target.png",
        ],
    );
    let proj = |outdir: &str, extra: &[&str]| {
        let args = [
            &[
                "project",
                "--model",
                "c.safetensors",
                "--target",
                "target.png",
                "--steps",
                "2",
                "--w-avg-samples",
                "30",
                "--outdir",
                outdir,
            ][..],
            extra,
        ]
        .concat();
        ok(&dir.0, &args).stderr
    };
    let all = proj("p-all", &[]);
    assert!(
        all.contains("w statistics of 30 samples over all 3 classes"),
        "{all}"
    );
    let hat = proj("p-hat", &["--class", "hat"]);
    assert!(
        hat.contains("w statistics of 30 samples of class 2 (hat)"),
        "{hat}"
    );
    let w = |d: &str| read_npy(dir.path(d).join("projected_w.npy")).unwrap().data;
    assert_ne!(w("p-all"), w("p-hat"), "the class changed nothing");
    fails(
        &dir.0,
        &[
            "project",
            "--model",
            "u.safetensors",
            "--target",
            "target.png",
            "--steps",
            "2",
            "--class",
            "1",
            "--outdir",
            "p-u",
        ],
        &["--class 1", "unconditional"],
    );
}

#[test]
fn losses_of_a_conditional_model_take_classes() {
    let dir = with_models("class-losses");
    write_npy(dir.path("z.npy"), &[2, 32], &vec![0.5f32; 64]).unwrap();
    write_npy(
        dir.path("x.npy"),
        &[2, 3, 32, 32],
        &vec![0.1f32; 2 * 3 * 32 * 32],
    )
    .unwrap();
    let args = |out: &str, classes: Option<&str>| -> Vec<String> {
        let mut v: Vec<String> = [
            "losses",
            "--model",
            "c.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "x.npy",
            "--out",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(c) = classes {
            v.extend(["--classes".to_string(), c.to_string()]);
        }
        v
    };
    fn run(a: &[String]) -> Vec<&str> {
        a.iter().map(String::as_str).collect()
    }
    fails(
        &dir.0,
        &run(&args("n.safetensors", None)),
        &["class-conditional", "--classes"],
    );
    fails(
        &dir.0,
        &run(&args("n.safetensors", Some("0"))),
        &["1 classes for the 2 rows"],
    );
    let g =
        |out: &str, classes: &str| -> String { ok(&dir.0, &run(&args(out, Some(classes)))).stdout };
    let a = g("a.safetensors", "0,1");
    let b = g("b.safetensors", "bag,hat");
    eprintln!("classes 0,1: {a}classes 0,2: {b}");
    // Other classes, other losses.
    let first = |s: &str| s.lines().next().unwrap_or("").to_string();
    assert_ne!(first(&a), first(&b));

    // `discriminate` scores each image for its class: the same images, other classes, other
    // scores; image 0 keeps its class and (its batch alike) its score.
    let disc = |out: &str, classes: Option<&str>| -> Vec<f32> {
        let mut v = vec![
            "discriminate",
            "--model",
            "c.safetensors",
            "--images",
            "x.npy",
            "--out-npy",
            out,
        ];
        if let Some(c) = classes {
            v.extend(["--classes", c]);
        }
        ok(&dir.0, &v);
        stylegan_wgpu::io::npy::read_npy(dir.path(out))
            .unwrap()
            .data
    };
    fails(
        &dir.0,
        &[
            "discriminate",
            "--model",
            "c.safetensors",
            "--images",
            "x.npy",
            "--out-npy",
            "d.npy",
        ],
        &["class-conditional", "--classes"],
    );
    let s01 = disc("d01.npy", Some("0,1"));
    let s02 = disc("d02.npy", Some("bag,hat"));
    assert_eq!(s01[0], s02[0]);
    assert_ne!(s01[1], s02[1]);
}

/// An IDX pair in `dir`: `n` 8x8 images (a gradient per image) and their labels `i % 3`.
fn idx_dataset(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut images = vec![0, 0, 8, 3];
    for v in [n as u32, 8, 8] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&(n as u32).to_be_bytes());
    for i in 0..n {
        for y in 0..8 {
            for x in 0..8 {
                images.push(((i * 37 + y * 13 + x * 5 + (i % 3) * 80) % 256) as u8);
            }
        }
        labels.push((i % 3) as u8);
    }
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
}

/// `train` on `data` with the tiny network for 8 images and `extra` flags, into `outdir`.
fn train(dir: &TempDir, data: &str, outdir: &str, extra: &[&str]) -> common::process::Out {
    ok(&dir.0, &train_args(data, outdir, extra))
}

fn train_args<'a>(data: &'a str, outdir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    [
        &["train", "--data", data, "--outdir", outdir][..],
        TINY_NET,
        &[
            "--batch",
            "4",
            "--kimg",
            "0.008",
            "--snapshot-kimg",
            "0.008",
        ],
        extra,
    ]
    .concat()
}

/// The config of the latest snapshot of run `outdir`.
fn snapshot_config(dir: &TempDir, outdir: &str) -> stylegan_wgpu::nn::Config {
    let snap = stylegan_wgpu::train::outdir::latest_snapshot(&dir.path(outdir)).unwrap();
    config(&snap)
}

#[test]
fn train_on_idx_labels_cond_and_no_cond() {
    let dir = TempDir::new("class-train-idx");
    idx_dataset(&dir.path("idx"), 12);
    let o = train(&dir, "idx", "run", &["--class-names", "bag,shoe,hat"]);
    assert!(
        o.stderr
            .contains("class-conditional training: 3 classes in")
            && o.stderr.contains("(0 bag, 1 shoe, 2 hat)"),
        "{}",
        o.stderr
    );
    let c = snapshot_config(&dir, "run");
    assert_eq!(c.label_size, 3);
    assert_eq!(c.class_names, ["bag", "shoe", "hat"]);
    // The trained model makes images by class name.
    let snap = stylegan_wgpu::train::outdir::latest_snapshot(&dir.path("run")).unwrap();
    let snap = snap.to_str().unwrap();
    let by_name = generate(&dir, snap, "1", &["--class", "hat"]);
    let by_number = generate(&dir, snap, "1", &["--class", "2"]);
    assert_eq!(by_name, by_number);
    assert_ne!(by_name, generate(&dir, snap, "1", &["--class", "bag"]));

    // Without names the classes are numbers; --cond is what the labels give anyway.
    let o = train(&dir, "idx", "plain", &["--cond"]);
    assert!(
        o.stderr.contains("3 classes in") && o.stderr.contains("(0-2)"),
        "{}",
        o.stderr
    );
    let c = snapshot_config(&dir, "plain");
    assert_eq!((c.label_size, c.class_names.len()), (3, 0));

    // --no-cond: an unconditional network.
    let o = train(&dir, "idx", "nocond", &["--no-cond"]);
    assert!(
        o.stderr.contains("unconditional training (--no-cond)"),
        "{}",
        o.stderr
    );
    assert_eq!(snapshot_config(&dir, "nocond").label_size, 0);

    // Names must cover the classes; --no-cond takes none; --cond and --no-cond exclude each
    // other.
    fails(
        &dir.0,
        &train_args("idx", "x", &["--class-names", "bag,shoe"]),
        &["--class-names gives 2 names", "3 classes"],
    );
    fails(
        &dir.0,
        &train_args("idx", "x", &["--class-names", "mnist", "--no-cond"]),
        &["--class-names", "--no-cond"],
    );
    fails(
        &dir.0,
        &train_args("idx", "x", &["--cond", "--no-cond"]),
        &["--no-cond", "cannot be used with"],
    );
    // A resumed run keeps its classes: the same flags continue it; contradicting ones are
    // refused.
    let again = [
        &[
            "train", "--data", "idx", "--outdir", "run", "--resume", "run",
        ][..],
        TINY_NET,
        &[
            "--batch",
            "4",
            "--kimg",
            "0.012",
            "--snapshot-kimg",
            "0.004",
        ],
        &["--class-names", "bag,shoe,hat"],
    ]
    .concat();
    let o = ok(&dir.0, &again);
    assert!(o.stderr.contains("resumed at 0.0 kimg"), "{}", o.stderr);
    assert_eq!(snapshot_config(&dir, "run").label_size, 3);
    assert!(dir
        .path("run/network-snapshot-000000_012.safetensors")
        .is_file());
    fails(
        &dir.0,
        &train_args("idx", "run", &["--resume", "run", "--no-cond"]),
        &["class-conditional (3 classes)", "drop --no-cond"],
    );
    fails(
        &dir.0,
        &train_args("idx", "run", &["--resume", "run", "--class-names", "a,b,c"]),
        &["0 bag, 1 shoe, 2 hat", "drop --class-names"],
    );
}

#[test]
fn train_on_class_folders_and_dataset_json() {
    let dir = TempDir::new("class-train-folders");
    // One subfolder per class: the subfolders name the classes.
    png_dataset(&dir.path("folders/bag"), 4);
    png_dataset(&dir.path("folders/shoe"), 4);
    let o = train(&dir, "folders", "run-folders", &[]);
    assert!(
        o.stderr
            .contains("class-conditional training: 2 classes in")
            && o.stderr.contains("(0 bag, 1 shoe)"),
        "{}",
        o.stderr
    );
    let c = snapshot_config(&dir, "run-folders");
    assert_eq!(c.label_size, 2);
    assert_eq!(c.class_names, ["bag", "shoe"]);

    // Fine-tuning keeps the model's classes: --no-cond is refused, names come along.
    let init = [
        &["init", "--resolution", "8", "--channels", "1"][..],
        TINY_NET,
        &["--class-names", "bag,shoe", "--out", "m.safetensors"],
    ]
    .concat();
    ok(&dir.0, &init);
    let tune = |extra: &[&str]| -> Vec<String> {
        [
            &["train", "--data", "folders", "--outdir", "run-tuned"][..],
            &[
                "--init-from",
                "m.safetensors",
                "--batch",
                "4",
                "--kimg",
                "0.008",
            ],
            extra,
        ]
        .concat()
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = tune(&["--no-cond"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(
        &dir.0,
        &args,
        &["--init-from m.safetensors", "drop --no-cond"],
    );
    let args = tune(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&dir.0, &args);
    let c = snapshot_config(&dir, "run-tuned");
    assert_eq!(c.label_size, 2);
    assert_eq!(c.class_names, ["bag", "shoe"]);

    // stylegan2-ada's dataset.json: image i of class i % 4.
    png_dataset(&dir.path("json"), 8);
    let labels: Vec<serde_json::Value> = (0..8)
        .map(|i| serde_json::json!([format!("img{i:02}.png"), i % 4]))
        .collect();
    std::fs::write(
        dir.path("json/dataset.json"),
        serde_json::json!({ "labels": labels }).to_string(),
    )
    .unwrap();
    let o = train(&dir, "json", "run-json", &[]);
    assert!(
        o.stderr
            .contains("class-conditional training: 4 classes in")
            && o.stderr.contains("(0-3)"),
        "{}",
        o.stderr
    );
    assert_eq!(snapshot_config(&dir, "run-json").label_size, 4);

    // Unlabelled data: unconditional by default; --cond and --class-names are refused.
    png_dataset(&dir.path("plain"), 8);
    let o = train(&dir, "plain", "run-plain", &[]);
    assert!(!o.stderr.contains("class-conditional"), "{}", o.stderr);
    assert_eq!(snapshot_config(&dir, "run-plain").label_size, 0);
    fails(
        &dir.0,
        &train_args("plain", "x", &["--cond"]),
        &["--cond", "has no class labels", "subfolder per class"],
    );
    fails(
        &dir.0,
        &train_args("plain", "x", &["--class-names", "a,b"]),
        &["--class-names", "no class labels"],
    );
}

/// A conditional run measures its snapshots (class-balanced fakes) and `fid_per_class` gives
/// one FID per class and their mean; `stylegan metrics` on the snapshot does the same.
#[test]
fn conditional_runs_measure_per_class() {
    let dir = TempDir::new("class-metrics");
    idx_dataset(&dir.path("idx"), 12);
    train(
        &dir,
        "idx",
        "run",
        &[
            "--class-names",
            "bag,shoe,hat",
            "--metrics",
            "fid12,fid_per_class12",
            "--features",
            "fmnist",
        ],
    );
    let line = std::fs::read_to_string(dir.path("run/metric-fid_per_class12.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    let results = v["results"].as_object().unwrap();
    let mut keys: Vec<&String> = results.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "fid_per_class12_bag",
            "fid_per_class12_hat",
            "fid_per_class12_mean",
            "fid_per_class12_shoe"
        ]
    );
    assert!(results.values().all(|x| x.as_f64().unwrap().is_finite()));
    let snap = stylegan_wgpu::train::outdir::latest_snapshot(&dir.path("run")).unwrap();
    let o = ok(
        &dir.0,
        &[
            "metrics",
            "--model",
            snap.to_str().unwrap(),
            "--data",
            "idx",
            "--metrics",
            "fid_per_class12",
            "--features",
            "fmnist",
        ],
    );
    assert!(
        o.stdout.contains("fid_per_class12: bag ") && o.stdout.contains(" mean "),
        "{}",
        o.stdout
    );
}
