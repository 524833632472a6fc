//! Issue 29, "NVIDIA's names work too": the flags and files of stylegan2-ada-pytorch and
//! pytorch-fid, as a user coming from them types them: `--network`, `project --num-steps`,
//! `--batch-size`, `generate --projected-w` with NVIDIA's `projected_w.npz` (made by numpy
//! here), `fid --save-stats` and `.npz` statistics, `metrics`' `metric-<name>.jsonl` beside the
//! model and `--mirror`.
//!
//! numpy makes NVIDIA's files where it is installed; without it the test fails under CI=true
//! and, elsewhere, says so and writes the same layout with the crate's own writer.

mod common;

use std::path::Path;
use std::process::Command;

use common::tempdir::TempDir;
use serde_json::Value;
use stylegan_wgpu::io::npy::read_npy;
use stylegan_wgpu::io::npz::{write_npz, NpzData};
use stylegan_wgpu::metrics::Moments;

fn run(dir: &TempDir, args: &[&str]) -> (bool, String, String) {
    let o = common::process::stylegan_command()
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("cannot start the stylegan binary");
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(
        !err.contains("panicked"),
        "stylegan {args:?} panicked:\n{err}"
    );
    (o.status.success(), out, err)
}

fn ok(dir: &TempDir, args: &[&str]) -> String {
    let (ok, out, err) = run(dir, args);
    assert!(ok, "stylegan {args:?} failed:\n{out}\n{err}");
    format!("{out}{err}")
}

fn fails(dir: &TempDir, args: &[&str], needle: &str) {
    let (ok, out, err) = run(dir, args);
    assert!(!ok, "stylegan {args:?} should fail:\n{out}");
    assert!(
        err.contains(needle),
        "stylegan {args:?}: no {needle:?} in:\n{err}"
    );
}

fn parse_fid(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("FID: "))
        .unwrap_or_else(|| panic!("no 'FID: ' line in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Runs python with numpy; `None` when numpy is missing and this is not CI.
fn numpy(dir: &Path, script: &str) -> Option<()> {
    let py = common::process::python();
    let o = Command::new(&py)
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output();
    match o {
        Ok(o) if o.status.success() => Some(()),
        o => {
            let why = match o {
                Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            assert!(
                std::env::var("CI").is_err(),
                "CI=true: {py} with numpy is required to make NVIDIA's files: {why}"
            );
            eprintln!("NOTE: no numpy ({why}); NVIDIA's layout is written by the crate instead");
            None
        }
    }
}

#[test]
fn network_num_steps_and_batch_size_are_aliases() {
    let dir = TempDir::new("nvidia-aliases");
    for cmd in [
        "generate",
        "mix",
        "interpolate",
        "project",
        "metrics",
        "discriminate",
        "losses",
        "bench",
    ] {
        let help = ok(&dir, &[cmd, "--help"]);
        assert!(
            help.contains("--network"),
            "{cmd} --help does not show --network:\n{help}"
        );
    }
    assert!(ok(&dir, &["project", "--help"]).contains("--num-steps"));
    for cmd in ["fid", "features", "metrics"] {
        assert!(ok(&dir, &[cmd, "--help"]).contains("--batch-size"), "{cmd}");
    }
    ok(
        &dir,
        &["init", "--preset", "tiny", "--out", "m.safetensors"],
    );
    // The same images under either name.
    ok(
        &dir,
        &[
            "generate",
            "--network",
            "m.safetensors",
            "--seeds",
            "0-1",
            "--out-npy",
            "n.npy",
        ],
    );
    ok(
        &dir,
        &[
            "generate",
            "--model",
            "m.safetensors",
            "--seeds",
            "0-1",
            "--out-npy",
            "m.npy",
        ],
    );
    assert_eq!(
        read_npy(dir.path("n.npy")).unwrap(),
        read_npy(dir.path("m.npy")).unwrap()
    );
    ok(
        &dir,
        &[
            "generate",
            "--network",
            "m.safetensors",
            "--seeds",
            "3",
            "--outdir",
            "t",
        ],
    );
    ok(
        &dir,
        &[
            "project",
            "--network",
            "m.safetensors",
            "--target",
            "t/seed0003.png",
            "--outdir",
            "proj",
            "--num-steps",
            "2",
            "--w-avg-samples",
            "16",
        ],
    );
    let p: Value =
        serde_json::from_slice(&std::fs::read(dir.path("proj/project.json")).unwrap()).unwrap();
    assert_eq!(p["steps"], 2, "{p}");
    // Parsed as --steps, which clap names.
    fails(
        &dir,
        &[
            "project",
            "--target",
            "t/seed0003.png",
            "--outdir",
            "p",
            "--num-steps",
            "0",
        ],
        "'--steps <STEPS>': outside [1,",
    );
}

#[test]
fn projected_w_reads_nvidias_npz() {
    let dir = TempDir::new("nvidia-projected-w");
    // The embedded model's w of seeds 3 and 5, [2, L, D], and its images.
    ok(
        &dir,
        &[
            "generate",
            "--seeds",
            "3,5",
            "--save-dlatents",
            "w.npy",
            "--out-npy",
            "want.npy",
        ],
    );
    let w = read_npy(dir.path("w.npy")).unwrap();
    // stylegan2-ada's projector: np.savez(f'{outdir}/projected_w.npz', w=...), [1, num_ws,
    // w_dim]; a compressed float64 copy exercises the other entry kind and type.
    let made = numpy(
        &dir.0,
        "import numpy as np; w = np.load('w.npy'); \
         np.savez('projected_w.npz', w=w[1:2]); \
         np.savez_compressed('both.npz', w=w.astype(np.float64))",
    );
    if made.is_none() {
        let (l, d) = (w.shape[1], w.shape[2]);
        let one = &w.data[l * d..];
        write_npz(
            dir.path("projected_w.npz"),
            &[("w", &[1, l, d], NpzData::F32(one))],
            false,
        )
        .unwrap();
        let both: Vec<f64> = w.data.iter().map(|&v| v as f64).collect();
        write_npz(
            dir.path("both.npz"),
            &[("w", &w.shape, NpzData::F64(&both))],
            true,
        )
        .unwrap();
    }
    let out = ok(
        &dir,
        &[
            "generate",
            "--projected-w",
            "projected_w.npz",
            "--outdir",
            "o",
            "--out-npy",
            "p.npy",
        ],
    );
    assert!(out.contains("wrote 1 image to o"), "{out}");
    assert!(
        dir.path("o/proj00.png").is_file(),
        "NVIDIA's name proj00.png"
    );
    let (want, got) = (
        read_npy(dir.path("want.npy")).unwrap(),
        read_npy(dir.path("p.npy")).unwrap(),
    );
    let per = want.data.len() / 2;
    assert_eq!(
        got.data,
        want.data[per..],
        "seed 5's image from its projected w"
    );
    // --dlatents takes .npz too (float64 entries round to the same f32 w).
    ok(
        &dir,
        &["generate", "--dlatents", "both.npz", "--out-npy", "b.npy"],
    );
    assert_eq!(read_npy(dir.path("b.npy")).unwrap(), want);
    // Our own projected_w.npy works under the same flag.
    ok(
        &dir,
        &["generate", "--projected-w", "w.npy", "--out-npy", "c.npy"],
    );
    assert_eq!(read_npy(dir.path("c.npy")).unwrap(), want);
    // A wrong archive names the flag, the file and what it holds.
    write_npz(
        dir.path("stats.npz"),
        &[
            ("mu", &[2], NpzData::F64(&[0.0; 2])),
            ("sigma", &[1], NpzData::F64(&[1.0])),
        ],
        true,
    )
    .unwrap();
    fails(
        &dir,
        &["generate", "--projected-w", "stats.npz", "--outdir", "x"],
        "no array 'w'",
    );
    fails(
        &dir,
        &[
            "generate",
            "--projected-w",
            "w.npy",
            "--seeds",
            "1",
            "--outdir",
            "x",
        ],
        "--seeds",
    );
}

#[test]
fn fid_saves_and_reads_pytorch_fid_statistics() {
    let dir = TempDir::new("nvidia-fid-stats");
    ok(&dir, &["generate", "--seeds", "0-11", "--outdir", "a"]);
    ok(&dir, &["generate", "--seeds", "20-31", "--outdir", "b"]);
    let base = parse_fid(&ok(
        &dir,
        &[
            "fid",
            "a",
            "b",
            "--batch-size",
            "6",
            "--save-stats",
            "a.npz",
            "--json",
            "ab.json",
        ],
    ));
    // pytorch-fid's layout: float64 mu [d] and sigma [d, d] (read by numpy where it exists).
    let m = Moments::read_npz(&dir.path("a.npz")).unwrap();
    assert_eq!(m.sigma.shape(), (m.dim(), m.dim()));
    numpy(
        &dir.0,
        "import numpy as np; f = np.load('a.npz'); \
         assert f['mu'].dtype == np.float64 and f['sigma'].shape == (f['mu'].shape[0],) * 2",
    );
    // The statistics alone give the same FID; the same statistics twice give 0 (up to the
    // rounding of the matrix square root, as in pytorch-fid).
    let from_stats = parse_fid(&ok(&dir, &["fid", "a.npz", "b", "--json", "sb.json"]));
    assert!(
        (from_stats - base).abs() <= 1e-9 * base,
        "{from_stats} vs {base}"
    );
    let zero = parse_fid(&ok(&dir, &["fid", "a.npz", "a.npz"]));
    let trace = m.sigma.trace();
    eprintln!("FID(a, b) {base:.6}; FID(a.npz, a.npz) {zero:.3e} (trace of sigma {trace:.3})");
    assert!(zero.abs() <= 1e-6 * trace, "{zero}");
    let sb: Value = serde_json::from_slice(&std::fs::read(dir.path("sb.json")).unwrap()).unwrap();
    assert_eq!(
        (sb["n_a"].clone(), sb["n_b"].clone()),
        (Value::Null, 12.into())
    );
    // Statistics only, pytorch-fid's --save-stats use.
    let out = ok(&dir, &["fid", "b", "--save-stats", "b.npz"]);
    assert!(!out.contains("FID:"), "{out}");
    let ab = parse_fid(&ok(&dir, &["fid", "a.npz", "b.npz"]));
    assert!((ab - base).abs() <= 1e-9 * base);
    fails(&dir, &["fid", "a.npz", "b", "--kid"], "--kid");
    fails(
        &dir,
        &["fid", "a", "b", "--dims", "100"],
        "64, 192, 768 or 2048",
    );
    fails(&dir, &["fid", "a", "b", "--dims", "64"], "only Inception");
    fails(
        &dir,
        &["fid", "a.npz", "b.npz", "--dims", "2048"],
        "--dims 2048",
    );
    fails(
        &dir,
        &["fid", "--save-stats", "a", "out.npz"],
        "stylegan fid DATA --save-stats",
    );
}

#[test]
fn metrics_log_beside_the_model_with_the_official_keys() {
    let dir = TempDir::new("nvidia-metrics");
    std::fs::create_dir_all(dir.path("run")).unwrap();
    ok(
        &dir,
        &["init", "--preset", "tiny", "--out", "run/m.safetensors"],
    );
    ok(
        &dir,
        &[
            "generate",
            "--network",
            "run/m.safetensors",
            "--seeds",
            "0-7",
            "--outdir",
            "reals",
        ],
    );
    let args = [
        "metrics",
        "--network",
        "run/m.safetensors",
        "--data",
        "reals",
        "--features",
        "fmnist",
        "--cache-dir",
        "off",
        "--batch-size",
        "8",
    ];
    ok(&dir, &[&args[..], &["--metrics", "fid8,kid8"]].concat());
    for name in ["fid8", "kid8"] {
        let text = std::fs::read_to_string(dir.path(&format!("run/metric-{name}.jsonl"))).unwrap();
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        for k in [
            "results",
            "metric",
            "total_time",
            "total_time_str",
            "num_gpus",
            "snapshot_pkl",
            "timestamp",
        ] {
            assert!(v.get(k).is_some(), "metric-{name}.jsonl lacks {k}: {v}");
        }
        assert_eq!(v["metric"], name);
        assert_eq!(v["snapshot_pkl"], "m.safetensors");
        assert_eq!(v["num_gpus"], 1);
        assert!(v["results"][name].as_f64().unwrap().is_finite());
    }
    // --mirror: the 8 reals and their 8 x-flips; a second run appends a line.
    ok(
        &dir,
        &[&args[..], &["--metrics", "fid16", "--mirror"]].concat(),
    );
    ok(&dir, &[&args[..], &["--metrics", "fid16"]].concat());
    let text = std::fs::read_to_string(dir.path("run/metric-fid16.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["num_real"], 16, "mirrored: {}", lines[0]);
    assert_eq!(lines[1]["num_real"], 8, "plain: {}", lines[1]);
    // --json sends the lines there instead.
    ok(
        &dir,
        &[&args[..], &["--metrics", "kid8", "--json", "k.jsonl"]].concat(),
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("run/metric-kid8.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert!(dir.path("k.jsonl").is_file());
}

/// A stand-in for ffmpeg: answers `-version`, and otherwise copies the raw frames it is fed to
/// the output file (its last argument) and its arguments to `args.txt`.
fn fake_ffmpeg(dir: &TempDir) -> String {
    let path = dir.path("fake-ffmpeg.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\n[ \"$1\" = -version ] && exit 0\n\
         for a in \"$@\"; do last=\"$a\"; done\n\
         echo \"$@\" > \"$(dirname \"$0\")/args.txt\"\ncat > \"$last\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn run_env(dir: &TempDir, env: (&str, &str), args: &[&str]) -> String {
    let o = common::process::stylegan_command()
        .args(args)
        .env(env.0, env.1)
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "stylegan {args:?}:\n{text}");
    text
}

#[test]
fn videos_go_through_ffmpeg_else_gif_and_upscale() {
    let dir = TempDir::new("nvidia-video");
    let walk = [
        "interpolate",
        "--seeds",
        "1,2",
        "--frames",
        "4",
        "--outdir",
        "f",
        "--video",
        "walk.mp4",
        "--upscale",
        "3",
    ];
    // No ffmpeg: the GIF of the same name, upscaled 3x (32 -> 96), and a note.
    let out = run_env(&dir, ("STYLEGAN_FFMPEG", "/nonexistent/ffmpeg"), &walk);
    assert!(
        out.contains("no ffmpeg") && out.contains("walk.gif"),
        "{out}"
    );
    let gif = std::fs::read(dir.path("walk.gif")).unwrap();
    assert!(gif.starts_with(b"GIF8"));
    let (w, h) = (
        u16::from_le_bytes([gif[6], gif[7]]),
        u16::from_le_bytes([gif[8], gif[9]]),
    );
    assert_eq!((w, h), (96, 96), "GIF screen size");
    assert!(!dir.path("walk.mp4").exists());
    // The PNG frames keep the model's size.
    let png = std::fs::read(dir.path("f/frame0000.png")).unwrap();
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 32);

    // With "ffmpeg": raw RGB24 frames of even size piped in, H.264 yuv420p asked for, the
    // result moved to the output name and no temporary file left.
    let fake = fake_ffmpeg(&dir);
    let out = run_env(&dir, ("STYLEGAN_FFMPEG", &fake), &walk);
    assert!(out.contains("wrote walk.mp4"), "{out}");
    let raw = std::fs::read(dir.path("walk.mp4")).unwrap();
    assert_eq!(raw.len(), 4 * 96 * 96 * 3, "4 frames of 96x96 RGB24");
    let args = std::fs::read_to_string(dir.path("args.txt")).unwrap();
    for needle in [
        "-f rawvideo",
        "-pix_fmt rgb24",
        "-s 96x96",
        "-framerate 20",
        "libx264",
        "yuv420p",
    ] {
        assert!(args.contains(needle), "{needle} not in {args}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".ffmpeg"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // The frames are the PNG frames, each pixel repeated 3x3 (gray repeated to RGB).
    let (frame0, _, _, _) =
        stylegan_wgpu::io::images::load_image_chw(dir.path("f/frame0000.png")).unwrap();
    let to_u8 = stylegan_wgpu::io::images::to_u8;
    for (y, x) in [(0, 0), (95, 95), (40, 7)] {
        let want = to_u8(frame0[(y / 3) * 32 + x / 3]);
        assert_eq!(raw[(y * 96 + x) * 3], want, "pixel ({y}, {x})");
    }

    // project --save-video: target | projection, 64 wide, upscaled 2x.
    ok(&dir, &["generate", "--seeds", "4", "--outdir", "t"]);
    let proj = [
        "project",
        "--target",
        "t/seed0004.png",
        "--outdir",
        "p",
        "--num-steps",
        "3",
        "--w-avg-samples",
        "16",
        "--save-video",
        "--upscale",
        "2",
    ];
    run_env(&dir, ("STYLEGAN_FFMPEG", &fake), &proj);
    let raw = std::fs::read(dir.path("p/proj.mp4")).unwrap();
    let frame = 64 * 128 * 3;
    assert!(
        !raw.is_empty() && raw.len().is_multiple_of(frame),
        "{} bytes",
        raw.len()
    );
    assert!(std::fs::read_to_string(dir.path("args.txt"))
        .unwrap()
        .contains("-s 128x64"));
    run_env(&dir, ("STYLEGAN_FFMPEG", "/nonexistent/ffmpeg"), &proj);
    assert!(std::fs::read(dir.path("p/proj.gif"))
        .unwrap()
        .starts_with(b"GIF8"));

    // A real ffmpeg, where one is installed, makes an MP4 file.
    let real = Command::new("ffmpeg").arg("-version").output();
    if real.is_ok_and(|o| o.status.success()) {
        run_env(&dir, ("STYLEGAN_FFMPEG", "ffmpeg"), &walk);
        assert_eq!(&std::fs::read(dir.path("walk.mp4")).unwrap()[4..8], b"ftyp");
    } else {
        eprintln!("NOTE: no ffmpeg on this machine; the MP4 path ran against the stand-in only");
    }
}
