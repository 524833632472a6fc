//! Bounded by design (issue 28), as the binary shows it: every numeric flag is refused at
//! parse time by name (NaN, negatives, sizes no machine holds), a FIFO is never opened as a
//! dataset, an output's extension must match what is written, requests bounded by memory are
//! refused before the work, and `generate` / `project` keep what they made on SIGINT/SIGTERM.
//! The library's parts (limits, the stop request, streaming, the pickle budget) have their own
//! tests; these check that the command line reaches them. Runs needing a GPU use lavapipe.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::tempdir::TempDir;

const PATIENCE: Duration = Duration::from_secs(180);

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(dir: &TempDir, args: &[&str]) -> Out {
    let mut child = common::process::stylegan_command()
        .args(args)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the stylegan binary");
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > PATIENCE {
            child.kill().unwrap();
            panic!("stylegan {args:?}: still running after {PATIENCE:?} (blocked?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    let out = Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "{args:?} panicked:\n{}",
        out.stderr
    );
    out
}

/// A usage error (exit 2) whose message holds every needle.
fn refused(dir: &TempDir, args: &[&str], needles: &[&str]) {
    let o = run(dir, args);
    assert_eq!(o.code, Some(2), "{args:?}: expected exit 2:\n{}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "{args:?}: no {n:?} in:\n{}", o.stderr);
    }
}

/// A failure (exit 1) whose message holds every needle.
fn fails(dir: &TempDir, args: &[&str], needles: &[&str]) {
    let o = run(dir, args);
    assert_eq!(
        o.code,
        Some(1),
        "{args:?}: expected exit 1:\n{}\n{}",
        o.stdout,
        o.stderr
    );
    for n in needles {
        assert!(o.stderr.contains(n), "{args:?}: no {n:?} in:\n{}", o.stderr);
    }
}

#[test]
fn every_float_flag_of_train_refuses_nan_infinity_and_negatives() {
    let dir = TempDir::new("bounds-train-flags");
    let base = ["train", "--data", "d", "--outdir", "o", "--progressive"];
    for flag in [
        "--kimg",
        "--lod-training-kimg",
        "--lod-transition-kimg",
        "--gamma",
        "--lr",
        "--snapshot-kimg",
        "--ema-kimg",
    ] {
        for (v, why) in [
            ("nan", "not a finite number"),
            ("inf", "not a finite number"),
            ("-1", "outside"),
        ] {
            let arg = format!("{flag}={v}");
            let args: Vec<&str> = base.iter().copied().chain([arg.as_str()]).collect();
            refused(&dir, &args, &[flag, why]);
        }
    }
    // Zero where it means nothing: a run of no images, a learning rate of 0.
    for flag in ["--kimg", "--lr", "--snapshot-kimg"] {
        let arg = format!("{flag}=0");
        let args: Vec<&str> = base.iter().copied().chain([arg.as_str()]).collect();
        refused(&dir, &args, &[flag, "greater than 0"]);
    }
}

#[test]
fn sizes_no_machine_holds_are_refused_by_name() {
    let dir = TempDir::new("bounds-sizes");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "train",
                "--data",
                "d",
                "--outdir",
                "o",
                "--batch",
                "1073741824",
            ],
            "--batch",
        ),
        (
            &[
                "train",
                "--data",
                "d",
                "--outdir",
                "o",
                "--fmap-base",
                "4294967295",
            ],
            "--fmap-base",
        ),
        (
            &[
                "train",
                "--data",
                "d",
                "--outdir",
                "o",
                "--fmap-max",
                "4294967295",
            ],
            "--fmap-max",
        ),
        (
            &["interpolate", "--seeds", "1,2", "--frames", "4294967295"],
            "--frames",
        ),
        (
            &[
                "project",
                "--target",
                "t.png",
                "--w-avg-samples",
                "4294967295",
            ],
            "--w-avg-samples",
        ),
        (
            &[
                "init",
                "--latent-size",
                "4294967295",
                "--out",
                "m.safetensors",
            ],
            "--latent-size",
        ),
        (&["generate", "--batch", "2.5", "--outdir", "g"], "--batch"),
        (&["generate", "--trunc", "1e30", "--outdir", "g"], "--trunc"),
        (
            &[
                "train",
                "--data",
                "d",
                "--outdir",
                "o",
                "--resolution",
                "48",
            ],
            "--resolution",
        ),
    ];
    for (args, flag) in cases {
        refused(&dir, args, &[flag, "invalid value"]);
    }
    // Bounded by memory, before any image is made.
    fails(
        &dir,
        &["generate", "--seeds", "0-1048575", "--grid", "big.png"],
        &["--grid", "1048576 images", "at most 1024"],
    );
    assert!(!dir.path("big.png").exists());
}

#[test]
fn outputs_must_have_their_formats_extension() {
    let dir = TempDir::new("bounds-ext");
    let cases: &[(&[&str], &str)] = &[
        (
            &["interpolate", "--seeds", "1,2", "--gif", "x.png"],
            "writes .gif",
        ),
        (
            &["generate", "--grid", "g.txt"],
            "writes .png or .jpg or .jpeg",
        ),
        (&["generate", "--out-npy", "x.png"], "writes .npy"),
        (&["features", "imgs", "--out", "f.json"], "writes .npy"),
        (&["fid", "a", "b", "--json", "r.npy"], "writes .json"),
        (&["init", "--out", "m.pkl"], "writes .safetensors"),
    ];
    for (args, needle) in cases {
        refused(&dir, args, &[needle]);
    }
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

#[test]
fn fifo_datasets_are_refused_not_opened() {
    let dir = TempDir::new("bounds-fifo");
    mkfifo(&dir.path("data.zip"));
    // Without the check, each of these blocked in open() until killed.
    fails(
        &dir,
        &["train", "--data", "data.zip", "--outdir", "o"],
        &["data.zip", "FIFO"],
    );
    fails(
        &dir,
        &["features", "data.zip", "--out", "f.npy"],
        &["data.zip", "FIFO"],
    );
    fails(
        &dir,
        &["fid", "data.zip", "data.zip"],
        &["data.zip", "FIFO"],
    );
}

/// Spawns `stylegan args` in `dir`, sends `signal` once `ready()` holds, and returns its exit
/// code and output.
fn interrupt(dir: &TempDir, args: &[&str], signal: &str, ready: &dyn Fn() -> bool) -> Out {
    let mut child = common::process::stylegan_command()
        .args(args)
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the stylegan binary");
    let t0 = Instant::now();
    while !ready() {
        if let Some(st) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            panic!(
                "{args:?} ended ({st}) before the signal:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        assert!(
            t0.elapsed() < PATIENCE,
            "{args:?}: never ready for the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn pngs(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count()
    })
}

#[test]
fn generate_keeps_every_image_it_made_on_sigint() {
    let dir = TempDir::new("bounds-generate-sigint");
    let out = dir.path("g");
    // The embedded model; images are written batch by batch, so files appear at once.
    let o = interrupt(
        &dir,
        &[
            "generate", "--seeds", "0-99999", "--outdir", "g", "--batch", "8",
        ],
        "INT",
        &|| pngs(&out) >= 24,
    );
    assert_eq!(o.code, Some(130), "exit status:\n{}", o.stderr);
    let made = pngs(&out);
    assert!((24..100_000).contains(&made), "{made} images");
    assert!(
        o.stderr.contains(&format!(
            "interrupted by SIGINT: wrote the {made} of 100000 images made"
        )),
        "{}",
        o.stderr
    );
    assert!(
        o.stdout.contains(&format!("wrote {made} images to")),
        "{}",
        o.stdout
    );
    // Every file is a whole image, the seeds in order from 0.
    for i in 0..made {
        let p = out.join(format!("seed{i:04}.png"));
        let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!((img.width(), img.height()), (32, 32));
    }
}

#[test]
fn project_writes_its_state_on_sigterm() {
    let dir = TempDir::new("bounds-project-sigterm");
    let o = run(&dir, &["generate", "--seeds", "3", "--outdir", "t"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let target = dir.path("t/seed0003.png");
    let target = target.to_str().unwrap();
    let out = dir.path("p");
    // target.png is written before the w statistics; a few seconds later the loop runs.
    let started = std::cell::Cell::new(None::<Instant>);
    let o = interrupt(
        &dir,
        &[
            "project", "--target", target, "--outdir", "p", "--steps", "100000",
        ],
        "TERM",
        &|| {
            if !out.join("target.png").exists() {
                return false;
            }
            let t = started.get().unwrap_or_else(Instant::now);
            started.set(Some(t));
            t.elapsed() > Duration::from_secs(3)
        },
    );
    assert_eq!(o.code, Some(143), "exit status:\n{}", o.stderr);
    assert!(
        o.stderr
            .contains("interrupted by SIGTERM: wrote the projection after"),
        "{}",
        o.stderr
    );
    for f in [
        "proj.png",
        "projected_w.npy",
        "projected_noise.safetensors",
        "project.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing after SIGTERM");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("project.json")).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    let done = json["steps_done"].as_u64().unwrap();
    assert!((1..100_000).contains(&done), "steps_done {done}");
}
