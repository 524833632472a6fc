//! Bookkeeping of `stylegan train`, run as the real binary: SIGTERM and SIGINT finish the step,
//! write a snapshot that resumes, and exit 143 / 130; snapshots less than 1 kimg apart get
//! distinct names; a resumed run does not repeat steps in log.jsonl and refuses architecture
//! flags that contradict its snapshot; `--help` shows `--resize` and the batch rule, which the
//! check and its error follow; non-square IDX images and upscaled images are warned about.
//!
//! Datasets are a few synthetic 8x8 grayscale PNGs or IDX files written by each test, the
//! network has a few hundred parameters, the batch is 4. Like the other GPU tests these need an
//! adapter (lavapipe will do) and fail without one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use stylegan_wgpu::io::safetensors::load;

mod common;
use common::tempdir::TempDir;

/// Any single wait for the child (its start-up included) fails the test after this long.
const PATIENCE: Duration = Duration::from_secs(180);

/// `n` distinct 8x8 grayscale PNGs in `dir/data`.
fn png_dataset(dir: &TempDir, n: u32) -> PathBuf {
    let data = dir.path("data");
    common::process::png_dataset(&data, n);
    data
}

/// An uncompressed IDX3 images file of `n` images of `rows x cols`.
fn idx_file(path: &Path, n: usize, rows: usize, cols: usize) {
    let mut v = vec![0, 0, 8, 3];
    for w in [n, rows, cols] {
        v.extend_from_slice(&(w as u32).to_be_bytes());
    }
    v.extend((0..n * rows * cols).map(|i| (i * 37 % 251) as u8 + 1));
    std::fs::write(path, v).unwrap();
}

/// A network of a few hundred parameters.
const TINY: &[&str] = common::process::TINY_NET;

struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// `TINY` then `extra`, for a fresh run (a resumed one takes its network from the snapshot,
/// and clap refuses a flag given twice).
fn tiny<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [TINY, extra].concat()
}

/// `stylegan train --data data --outdir outdir args...`, to completion. No run, good or bad,
/// may panic.
fn train(data: &Path, outdir: &Path, args: &[&str]) -> Out {
    let o = common::process::stylegan_command()
        .arg("train")
        .arg("--data")
        .arg(data)
        .arg("--outdir")
        .arg(outdir)
        .args(args)
        .output()
        .expect("cannot start the stylegan binary");
    let out = Out {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "train {args:?} panicked:\n{}",
        out.stderr
    );
    out
}

/// A training run that must finish (exit 0).
fn train_ok(data: &Path, outdir: &Path, extra: &[&str]) -> Out {
    let o = train(data, outdir, extra);
    assert!(
        o.status.success(),
        "train {extra:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        o.status,
        o.stdout,
        o.stderr
    );
    o
}

/// A training run that must fail with an `error:` naming every one of `needles`; returns the
/// error line(s).
fn train_fails(data: &Path, outdir: &Path, extra: &[&str], needles: &[&str]) -> String {
    let o = train(data, outdir, extra);
    assert!(
        !o.status.success(),
        "train {extra:?} should have failed:\n{}",
        o.stderr
    );
    let err: String = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect::<Vec<_>>()
        .join("\n");
    for n in needles {
        assert!(
            err.contains(n),
            "train {extra:?}: the error should mention {n:?}:\n{}",
            o.stderr
        );
    }
    eprintln!("train {extra:?} -> {err}");
    err
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What a user globbing `network-snapshot-*.safetensors` takes for a snapshot.
fn snapshots(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with("network-snapshot-") && n.ends_with(".safetensors"))
        .collect()
}

/// `(step, cur_nimg)` of a training snapshot, which must load.
fn position(p: &Path) -> (u64, u64) {
    let m = load(p).unwrap_or_else(|e| panic!("snapshot {} does not load: {e}", p.display()));
    let state: serde_json::Value = serde_json::from_str(
        m.metadata
            .get("train_state")
            .unwrap_or_else(|| panic!("{}: no train_state", p.display())),
    )
    .unwrap();
    (
        state["step"].as_u64().unwrap(),
        state["cur_nimg"].as_u64().unwrap(),
    )
}

/// The `step` of every line of `dir/log.jsonl`.
fn logged_steps(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}"));
            v["step"].as_u64().unwrap()
        })
        .collect()
}

/// `--kimg` that ends a run of batch 4 after exactly `nimg` images (`train` rounds kimg to
/// whole images, so e.g. 0.029 is 29 images, not 28).
fn kimg_for(nimg: u64) -> String {
    format!("{}", nimg as f64 / 1000.0)
}

/// Starts a training run with stdout/stderr in files of `outdir` (a pipe nobody reads could
/// block the child).
fn spawn_train(data: &Path, outdir: &Path, args: &[&str]) -> Child {
    std::fs::create_dir_all(outdir).unwrap();
    common::process::stylegan_command()
        .arg("train")
        .arg("--data")
        .arg(data)
        .arg("--outdir")
        .arg(outdir)
        .args(args)
        .stdout(Stdio::from(File::create(outdir.join(".stdout")).unwrap()))
        .stderr(Stdio::from(File::create(outdir.join(".stderr")).unwrap()))
        .spawn()
        .expect("cannot start the stylegan binary")
}

fn child_output(outdir: &Path) -> (String, String) {
    let r = |s: &str| std::fs::read_to_string(outdir.join(s)).unwrap_or_default();
    (r(".stdout"), r(".stderr"))
}

/// Waits for `child` to exit; kills it and fails after `PATIENCE`.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > PATIENCE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("no exit {PATIENCE:?} after {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (`TERM` or `INT`) to a run once it is stepping; it must exit with `code`
/// after writing a snapshot of where it stopped, from which a resumed run continues.
fn interrupt_then_resume(signal: &str, code: i32) {
    let dir = TempDir::new(signal);
    let data = png_dataset(&dir, 16);
    let out = dir.path("run");
    // 250 steps and no periodic snapshot, so a snapshot can only come from the interrupt.
    let mut child = spawn_train(
        &data,
        &out,
        &tiny(&["--batch", "4", "--kimg", "1", "--snapshot-kimg", "100"]),
    );
    // A log line (every 20 steps) means the loop, and the signal handlers, are running.
    let t0 = Instant::now();
    while !std::fs::read_to_string(out.join("log.jsonl")).is_ok_and(|l| l.contains('\n')) {
        if let Some(st) = child.try_wait().unwrap() {
            let (o, e) = child_output(&out);
            panic!("train exited ({st}) before stepping:\nstdout:\n{o}\nstderr:\n{e}");
        }
        if t0.elapsed() > PATIENCE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("no log line after {PATIENCE:?}: {:?}", child_output(&out));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Instant::now();
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(st.success(), "kill -{signal} failed");
    let st = wait_exit(&mut child, &format!("SIG{signal}"));
    let (stdout, stderr) = child_output(&out);
    assert_eq!(
        st.code(),
        Some(code),
        "SIG{signal}: exit status {st}, expected {code}:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("interrupted by SIG{signal}: writing a snapshot")),
        "{stderr}"
    );
    let snaps = snapshots(&out);
    assert_eq!(snaps.len(), 1, "one snapshot, the interrupt's: {snaps:?}");
    let snap = out.join(&snaps[0]);
    let (step, nimg) = position(&snap);
    assert!(
        (80..1000).contains(&nimg) && nimg == 4 * step,
        "the snapshot is not where the run stopped: step {step}, {nimg} images"
    );
    assert!(
        stdout.contains(&format!("wrote {}", snap.display())),
        "{stdout}"
    );
    println!(
        "SIG{signal}: exit {code} {:?} after the signal, snapshot {} at step {step}",
        sent.elapsed(),
        snaps[0]
    );

    // Two more steps from the snapshot: the run finishes (exit 0) where it should.
    let o = train_ok(
        &data,
        &out,
        &[
            "--resume",
            snap.to_str().unwrap(),
            "--kimg",
            &kimg_for(nimg + 8),
        ],
    );
    assert!(o.stderr.contains(&format!("(step {step})")), "{}", o.stderr);
    let newest = out.join(snapshots(&out).pop().unwrap());
    assert_eq!(
        position(&newest),
        (step + 2, nimg + 8),
        "{}",
        newest.display()
    );
}

#[test]
fn sigterm_writes_a_snapshot_exits_143_and_resumes() {
    interrupt_then_resume("TERM", 143);
}

#[test]
fn sigint_writes_a_snapshot_exits_130_and_resumes() {
    interrupt_then_resume("INT", 130);
}

#[test]
fn fractional_snapshot_kimg_gives_distinct_names() {
    let dir = TempDir::new("frac");
    let data = png_dataset(&dir, 16);
    let out = dir.path("run");
    // Every 0.2 kimg up to 1 kimg: four fractional positions, then a whole one.
    train_ok(
        &data,
        &out,
        &tiny(&["--batch", "4", "--kimg", "1", "--snapshot-kimg", "0.2"]),
    );
    let tags = [
        "000000_200",
        "000000_400",
        "000000_600",
        "000000_800",
        "000001",
    ];
    let snaps = snapshots(&out);
    assert_eq!(
        snaps,
        tags.map(|t| format!("network-snapshot-{t}.safetensors")),
        "all files: {:?}",
        names(&out)
    );
    for (s, nimg) in snaps.iter().zip([200, 400, 600, 800, 1000]) {
        assert_eq!(position(&out.join(s)).1, nimg, "{s}");
    }
    for tag in tags {
        assert!(
            out.join(format!("fakes-{tag}.png")).is_file(),
            "no fakes-{tag}.png in {:?}",
            names(&out)
        );
    }
    // A fractional name resumes like any other.
    let o = train_ok(
        &data,
        &out,
        &[
            "--resume",
            out.join(&snaps[1]).to_str().unwrap(),
            "--kimg",
            &kimg_for(408),
        ],
    );
    assert!(o.stderr.contains("resumed at 0.4 kimg"), "{}", o.stderr);
    assert_eq!(
        position(&out.join("network-snapshot-000000_408.safetensors")).1,
        408
    );
}

#[test]
fn resume_does_not_repeat_logged_steps() {
    let dir = TempDir::new("log");
    let data = png_dataset(&dir, 16);
    let out = dir.path("run");
    // 40 steps, logged at steps 20 and 40, snapshots at steps 20 and 40.
    train_ok(
        &data,
        &out,
        &tiny(&[
            "--batch",
            "4",
            "--kimg",
            &kimg_for(160),
            "--snapshot-kimg",
            "0.08",
        ]),
    );
    assert_eq!(logged_steps(&out), [20, 40]);
    // Back to step 20, on to step 60: step 40 is trained (and logged) again.
    let snap = out.join("network-snapshot-000000_080.safetensors");
    let o = train_ok(
        &data,
        &out,
        &["--resume", snap.to_str().unwrap(), "--kimg", &kimg_for(240)],
    );
    assert_eq!(
        logged_steps(&out),
        [20, 40, 60],
        "log.jsonl after resuming at step 20; stderr:\n{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("dropped 1 line(s) after step 20"),
        "{}",
        o.stderr
    );
}

#[test]
fn resume_refuses_contradicting_architecture_flags() {
    let dir = TempDir::new("arch");
    let data = png_dataset(&dir, 16);
    let out = dir.path("run");
    train_ok(
        &data,
        &out,
        &tiny(&["--batch", "4", "--kimg", &kimg_for(4)]),
    );
    let snap = out.join("network-snapshot-000000_004.safetensors");
    let snap = snap.to_str().unwrap();
    let before = names(&out);

    let err = train_fails(
        &data,
        &out,
        &[
            "--resume",
            snap,
            "--fmap-max",
            "16",
            "--latent-size",
            "12",
            "--mapping-layers",
            "1",
            "--kimg",
            "1",
        ],
        &[
            "--resume",
            "--fmap-max 16 (snapshot: 8)",
            "--latent-size 12 (snapshot: 8)",
        ],
    );
    assert!(!err.contains("--mapping-layers"), "it matches: {err}");
    // The default preset is no contradiction, an explicit one is: ffhq is 512 wide.
    train_fails(
        &data,
        &out,
        &["--resume", snap, "--preset", "ffhq", "--kimg", "1"],
        &["--preset ffhq", "fmap_base 8192, snapshot: 16"],
    );
    assert_eq!(
        names(&out),
        before,
        "a refused resume must not write anything"
    );

    // The command line the snapshot was made with, plus --resume, is no contradiction.
    let o = train_ok(
        &data,
        &out,
        &tiny(&["--resume", snap, "--kimg", &kimg_for(8)]),
    );
    assert!(o.stderr.contains("resumed at"), "{}", o.stderr);
}

#[test]
fn help_shows_resize_and_the_batch_rule() {
    let o = common::process::stylegan_command()
        .args(["train", "--help"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in ["--resize", "1 to 4, or a multiple of 4", "143"] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn batch_rule_matches_its_error() {
    let dir = TempDir::new("batch");
    let data = png_dataset(&dir, 16);
    // One step each: a batch below the group size is one group, a multiple of it whole groups.
    for b in ["1", "3", "4", "8"] {
        let out = dir.path(&format!("ok{b}"));
        let o = train_ok(&data, &out, &tiny(&["--batch", b, "--kimg", "0.001"]));
        assert!(o.stderr.contains(&format!("batch {b},")), "{}", o.stderr);
        assert!(!o.stderr.contains("warning:"), "{}", o.stderr);
    }
    for b in ["0", "5", "6", "10"] {
        let out = dir.path(&format!("bad{b}"));
        let needles: &[&str] = if b == "0" {
            // Refused while the command line is parsed (cli/src/commands/flags.rs).
            &["'--batch <BATCH>'", "outside [1, 4096]"]
        } else {
            &["--batch", b, "1 to 4 or a multiple of 4"]
        };
        train_fails(
            &data,
            &out,
            &tiny(&["--batch", b, "--kimg", "0.001"]),
            needles,
        );
    }
}

#[test]
fn non_square_idx_and_upscaled_images_warn() {
    let dir = TempDir::new("warn");
    // 6 rows x 3 columns, padded to 8x8.
    let idx = dir.path("narrow-images-idx3-ubyte");
    idx_file(&idx, 8, 6, 3);
    let o = train_ok(
        &idx,
        &dir.path("idx"),
        &tiny(&["--batch", "4", "--kimg", "0.004"]),
    );
    assert!(
        o.stderr.contains("warning:")
            && o.stderr.contains("6x3")
            && o.stderr.contains("not square")
            && o.stderr.contains("8x8"),
        "{}",
        o.stderr
    );
    // A square IDX file is padded as documented, without a warning.
    let square = dir.path("square-images-idx3-ubyte");
    idx_file(&square, 8, 6, 6);
    let o = train_ok(
        &square,
        &dir.path("sq"),
        &tiny(&["--batch", "4", "--kimg", "0.004"]),
    );
    assert!(!o.stderr.contains("warning:"), "{}", o.stderr);

    // A 1x1 image among 8x8 ones, resized to 8x8.
    let data = png_dataset(&dir, 4);
    image::GrayImage::from_pixel(1, 1, image::Luma([200]))
        .save(data.join("dot.png"))
        .unwrap();
    let o = train_ok(
        &data,
        &dir.path("dot"),
        &tiny(&["--resize", "8", "--batch", "4", "--kimg", "0.004"]),
    );
    assert!(
        o.stderr.contains("warning: 1 of 5 images")
            && o.stderr.contains("upscaled")
            && o.stderr.contains("dot.png, 1x1"),
        "{}",
        o.stderr
    );
}

/// Started by an MPI launcher with several ranks, a build without MPI refuses to train (each
/// rank would train alone and all would write the same files) and says how to build one.
#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_refuses_to_run_as_one_of_several_ranks() {
    let dir = TempDir::new("no-mpi");
    let data = png_dataset(&dir, 4);
    let out = dir.path("run");
    let o = common::process::stylegan_command()
        .args(["train", "--data"])
        .arg(&data)
        .arg("--outdir")
        .arg(&out)
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("one of 2 MPI ranks") && err.contains("--features mpi"),
        "{err}"
    );
    assert!(!out.exists(), "nothing may be written");
}

/// `--batch-per-res` reaches the run: with `--progressive` each level of detail trains with
/// its resolution's minibatch (said at the start, in the tick lines and log.jsonl, stored in
/// the snapshot); entries that are not minibatches, or that D cannot group, are refused.
#[test]
fn batch_per_res_flag() {
    let dir = TempDir::new("batch-per-res");
    let data = png_dataset(&dir, 8);
    // 4 images a step at 4x4, then 2 at 8x8: steps at 0, 4, 8, 12 (8x8 fades in) and 14.
    let o = train_ok(
        &data,
        &dir.path("run"),
        &tiny(&[
            "--progressive",
            "--lod-training-kimg",
            "0.008",
            "--lod-transition-kimg",
            "0.008",
            "--batch-per-res",
            "4:4, 8:2",
            "--kimg",
            "0.016",
        ]),
    );
    assert!(
        o.stderr
            .contains("minibatch per resolution: 4:4,8:2 (--batch-per-res over --batch 16)"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains(" minibatch 2 "), "{}", o.stderr);
    let snap = load(&dir.path("run/network-snapshot-000000_016.safetensors")).unwrap();
    let tc: serde_json::Value = serde_json::from_str(&snap.metadata["train_config"]).unwrap();
    assert_eq!(
        tc["batch_per_res"],
        serde_json::json!({"4": 4, "8": 2}),
        "{tc}"
    );
    let state: serde_json::Value = serde_json::from_str(&snap.metadata["train_state"]).unwrap();
    assert_eq!(
        (state["step"].as_u64(), state["cur_nimg"].as_u64()),
        (Some(5), Some(16))
    );
    let log = std::fs::read_to_string(dir.path("run/log.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["step"].as_u64(), last["batch"].as_u64()),
        (Some(5), Some(2)),
        "{last}"
    );

    let o = train(&data, &dir.path("bad"), &tiny(&["--batch-per-res", "8:0"]));
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("--batch-per-res") && o.stderr.contains("outside [1, 4096]"),
        "{}",
        o.stderr
    );
    train_fails(
        &data,
        &dir.path("bad"),
        &tiny(&["--batch-per-res", "4:4,8:6"]),
        &["--batch-per-res 8:6: must be 1 to 4 or a multiple of 4"],
    );
}

/// `--preset ffhq` trains with the release's FFHQ schedule (the library's
/// `TrainConfig::ffhq_schedule`) where no flag says otherwise, and `train --help` shows it.
#[test]
fn preset_ffhq_trains_the_release_schedule() {
    let o = common::process::stylegan_command()
        .args(["train", "--help"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let ffhq = stylegan_wgpu::train::TrainConfig::ffhq_schedule().describe_schedule();
    assert_eq!(
        ffhq,
        "batch 32, per resolution 4:512,8:256,16:128,32:64,64:32; lr per resolution \
         128:0.0015,256:0.002,512:0.003,1024:0.003"
    );
    assert!(
        help.contains("--batch-per-res <RES:N,...>")
            && help.contains(&format!(
                "the release's FFHQ schedule (8 GPUs), {ffhq}, except"
            )),
        "{help}"
    );

    let dir = TempDir::new("preset-ffhq");
    let data = png_dataset(&dir, 8);
    // The ffhq preset narrowed to a few hundred parameters.
    let net = [
        "--preset",
        "ffhq",
        "--fmap-base",
        "16",
        "--fmap-max",
        "8",
        "--latent-size",
        "8",
        "--mapping-layers",
        "1",
    ];
    // No schedule flags: 256 images a step at 8x8, one step.
    let o = train_ok(
        &data,
        &dir.path("run"),
        &[&net[..], &["--kimg", "0.256"]].concat(),
    );
    assert!(
        o.stderr
            .contains(&format!("--preset ffhq: the release's schedule, {ffhq}")),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("trainable parameters; batch 256,"),
        "{}",
        o.stderr
    );
    let snap = load(&dir.path("run/network-snapshot-000000_256.safetensors")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&snap.metadata["train_state"]).unwrap();
    assert_eq!(state["step"], 1, "{state}");
    // A flag replaces its part only: the minibatch table here, the base and the rates stay.
    let o = train_ok(
        &data,
        &dir.path("own"),
        &[&net[..], &["--batch-per-res", "8:4", "--kimg", "0.004"]].concat(),
    );
    assert!(
        o.stderr.contains("trainable parameters; batch 4,"),
        "{}",
        o.stderr
    );
    let snap = load(&dir.path("own/network-snapshot-000000_004.safetensors")).unwrap();
    let tc: serde_json::Value = serde_json::from_str(&snap.metadata["train_config"]).unwrap();
    assert_eq!(tc["batch"], 32, "{tc}");
    assert_eq!(tc["batch_per_res"], serde_json::json!({"8": 4}), "{tc}");
    assert_eq!(tc["lr_per_res"]["1024"], 0.003, "{tc}");
}

/// The release's learning-rate schedule flags reach the run: a rate per resolution over
/// `--lr`, and the ramp-up; bad pairs are refused at parse time.
#[test]
fn learning_rate_schedule_flags() {
    let dir = TempDir::new("lr-schedule");
    let data = png_dataset(&dir, 8);
    let o = train_ok(
        &data,
        &dir.path("run"),
        &tiny(&[
            "--batch",
            "4",
            "--kimg",
            "0.004",
            "--lr",
            "0.01",
            "--lr-per-res",
            "4:0.002,8:0.003",
            "--lr-rampup-kimg",
            "1",
        ]),
    );
    assert!(
        o.stderr.contains("lr 0.003 (ramped up over 1 kimg)"),
        "{}",
        o.stderr
    );
    let snap = load(&dir.path("run/network-snapshot-000000_004.safetensors")).unwrap();
    let tc: serde_json::Value = serde_json::from_str(&snap.metadata["train_config"]).unwrap();
    assert_eq!(tc["lr_per_res"]["8"], 0.003, "{tc}");
    assert_eq!(tc["lr_rampup_kimg"], 1.0, "{tc}");
    let o = train(
        &data,
        &dir.path("bad"),
        &tiny(&["--lr-per-res", "8:0,16:0.1"]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("--lr-per-res") && o.stderr.contains("greater than 0"),
        "{}",
        o.stderr
    );
}
