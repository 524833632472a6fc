//! Crash safety of `stylegan train`: a run killed with SIGKILL during a snapshot write leaves
//! the previous snapshot loadable, a half-written temp file is never taken for a snapshot, the
//! run resumes from what is left, and SIGINT ends a run cleanly with a final snapshot (and exit
//! status 130, which tells it from a finished run).
//!
//! These run the real binary on 16 synthetic 8x8 grayscale images and a network of a few
//! hundred parameters, snapshotting every 2 steps (`--snapshot-kimg 0.008`, batch 4), so the
//! kills land while snapshots are being written. Like the other GPU tests they need an adapter
//! (lavapipe will do).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stylegan_wgpu::io::safetensors::{load, Checkpoint};

mod common;
use common::tempdir::TempDir;

/// Any single wait for the child (its start-up included) fails the test after this long.
const PATIENCE: Duration = Duration::from_secs(90);

/// 16 distinct 8x8 grayscale PNGs (gradients at different angles) in `dir/data`.
fn write_dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..16u32 {
        let img = image::GrayImage::from_fn(8, 8, |x, y| {
            image::Luma([((x * (i % 4) + y * (i / 4)) * 9 % 256) as u8])
        });
        img.save(data.join(format!("img{i:02}.png"))).unwrap();
    }
    data
}

/// The tiny network, batch 4, a snapshot every 8 images.
fn tiny() -> Vec<&'static str> {
    [
        common::process::TINY_NET,
        &["--batch", "4", "--snapshot-kimg", "0.008"],
    ]
    .concat()
}

/// Starts `stylegan train` with stdout/stderr going to files in `outdir` (`.stdout.N`,
/// `.stderr.N`; a pipe nobody reads could block the child).
fn spawn_train(data: &Path, outdir: &Path, extra: &[&str], tag: usize) -> Child {
    std::fs::create_dir_all(outdir).unwrap();
    let mut cmd = common::process::stylegan_command();
    cmd.arg("train")
        .arg("--data")
        .arg(data)
        .arg("--outdir")
        .arg(outdir)
        .args(extra);
    cmd.stdout(Stdio::from(
        File::create(outdir.join(format!(".stdout.{tag}"))).unwrap(),
    ));
    cmd.stderr(Stdio::from(
        File::create(outdir.join(format!(".stderr.{tag}"))).unwrap(),
    ));
    cmd.spawn().expect("cannot start the stylegan binary")
}

fn output(outdir: &Path, tag: usize) -> (String, String) {
    let r =
        |s: &str| std::fs::read_to_string(outdir.join(format!(".{s}.{tag}"))).unwrap_or_default();
    (r("stdout"), r("stderr"))
}

fn names(outdir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(outdir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What the test (and a user globbing `network-snapshot-*.safetensors`) takes for a snapshot.
fn is_snapshot(name: &str) -> bool {
    name.starts_with("network-snapshot-") && name.ends_with(".safetensors")
}

fn snapshots(outdir: &Path) -> Vec<PathBuf> {
    names(outdir)
        .into_iter()
        .filter(|n| is_snapshot(n))
        .map(|n| outdir.join(n))
        .collect()
}

/// `write_atomic`'s temp file for `pid`: `.{name}.tmp{pid}`.
fn temp_of(pid: u32) -> impl Fn(&str) -> bool {
    let suffix = format!(".tmp{pid}");
    move |n: &str| n.starts_with('.') && n.ends_with(&suffix)
}

/// Loads `p` and checks it is a complete training snapshot; returns its `cur_nimg`.
fn check_snapshot(p: &Path) -> u64 {
    let m: Checkpoint =
        load(p).unwrap_or_else(|e| panic!("snapshot {} does not load: {e}", p.display()));
    for net in [
        "G", "D", "Gs", "G_adam_m", "G_adam_v", "D_adam_m", "D_adam_v",
    ] {
        let w = m
            .nets
            .get(net)
            .unwrap_or_else(|| panic!("{}: no network {net}", p.display()));
        assert!(!w.is_empty(), "{}: network {net} is empty", p.display());
        for (k, t) in w {
            assert_eq!(
                t.data.len(),
                t.shape.iter().product::<usize>(),
                "{}: {net}/{k}",
                p.display()
            );
        }
    }
    // Adam state exists for the trainable variables (not e.g. dlatent_avg), under their names.
    for (net, opt) in [
        ("G", "G_adam_m"),
        ("G", "G_adam_v"),
        ("D", "D_adam_m"),
        ("D", "D_adam_v"),
    ] {
        for k in m.nets[opt].keys() {
            assert!(
                m.nets[net].contains_key(k),
                "{}: {opt}/{k} has no {net}/{k}",
                p.display()
            );
        }
    }
    assert!(
        m.metadata.contains_key("train_config"),
        "{}: no train_config",
        p.display()
    );
    let state: serde_json::Value = serde_json::from_str(
        m.metadata
            .get("train_state")
            .unwrap_or_else(|| panic!("{}: no train_state", p.display())),
    )
    .unwrap();
    assert_eq!(m.config.resolution, 8);
    state["cur_nimg"]
        .as_u64()
        .unwrap_or_else(|| panic!("{}: train_state {state}", p.display()))
}

/// Every file that looks like a snapshot is a complete one; returns the largest `cur_nimg`.
fn check_dir(outdir: &Path) -> u64 {
    let snaps = snapshots(outdir);
    assert!(!snaps.is_empty(), "no snapshot in {:?}", names(outdir));
    snaps.iter().map(|p| check_snapshot(p)).max().unwrap()
}

fn kill_and_reap(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
}

/// Polls `cond` on the directory listing every half millisecond until it holds; fails (after
/// killing the child) if the child exits or `PATIENCE` runs out first.
fn wait_for(
    child: &mut Child,
    outdir: &Path,
    tag: usize,
    what: &str,
    cond: impl Fn(&[String]) -> bool,
) {
    let t0 = Instant::now();
    loop {
        if cond(&names(outdir)) {
            return;
        }
        if let Some(st) = child.try_wait().unwrap() {
            let (out, err) = output(outdir, tag);
            panic!("train exited ({st}) before {what}:\nstdout:\n{out}\nstderr:\n{err}");
        }
        if t0.elapsed() > PATIENCE {
            kill_and_reap(child);
            let (out, err) = output(outdir, tag);
            panic!("no {what} after {PATIENCE:?}:\nstdout:\n{out}\nstderr:\n{err}");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[test]
fn sigkill_during_snapshot_writes_leaves_loadable_snapshots() {
    let dir = TempDir::new("kill");
    let data = write_dataset(&dir.0);
    let out = dir.0.join("run");
    // Kill this long after the child is first seen writing a snapshot temp file: 0 lands
    // between create and rename; the others land in later steps, snapshot writes or fake grids.
    let delays_ms = [0u64, 0, 0, 1, 3, 7, 15, 40, 100];
    let mut last_nimg = 0;
    let mut caught_mid_write = 0;
    for (run, &delay) in delays_ms.iter().enumerate() {
        let mut args: Vec<String> = tiny().iter().map(|s| s.to_string()).collect();
        args.extend(["--kimg".into(), "1".into()]);
        if run > 0 {
            // Continue from what the previous kill left, as a user would.
            let newest = snapshots(&out).pop().unwrap();
            args.extend(["--resume".into(), newest.to_str().unwrap().into()]);
        }
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let mut child = spawn_train(&data, &out, &args, run);
        let pid = child.id();
        let is_tmp = temp_of(pid);
        // The fresh run first needs one complete snapshot to protect.
        wait_for(&mut child, &out, run, "a complete snapshot", |n| {
            n.iter().any(|n| is_snapshot(n))
        });
        wait_for(&mut child, &out, run, "a snapshot write", |n| {
            n.iter().any(|n| is_tmp(n))
        });
        std::thread::sleep(Duration::from_millis(delay));
        assert!(
            child.try_wait().unwrap().is_none(),
            "run {run} finished before the kill"
        );
        kill_and_reap(&mut child);

        let left = names(&out);
        let stale: Vec<&String> = left.iter().filter(|n| is_tmp(n)).collect();
        caught_mid_write += usize::from(!stale.is_empty());
        for n in &stale {
            assert!(!is_snapshot(n), "temp file {n} is named like a snapshot");
        }
        let nimg = check_dir(&out);
        assert!(
            nimg >= last_nimg,
            "run {run}: snapshot went back from {last_nimg} to {nimg} images"
        );
        println!(
            "run {run}: killed {delay} ms after a temp file appeared; {} snapshot(s) load, newest at {nimg} images; \
             stale temp files: {stale:?}",
            snapshots(&out).len()
        );
        last_nimg = nimg;
    }
    println!(
        "{caught_mid_write} of {} kills left a half-written temp file behind",
        delays_ms.len()
    );

    // Resume from the newest snapshot for two more steps (8 images); the run must finish, append
    // to log.jsonl and write a snapshot at the new position.
    let log_lines = |p: &Path| {
        std::fs::read_to_string(p.join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = log_lines(&out);
    let newest = snapshots(&out).pop().unwrap();
    let kimg = format!("{}", (last_nimg + 8) as f64 / 1000.0);
    let tag = delays_ms.len();
    let mut child = spawn_train(
        &data,
        &out,
        &["--kimg", &kimg, "--resume", newest.to_str().unwrap()],
        tag,
    );
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > PATIENCE {
            kill_and_reap(&mut child);
            panic!("the resumed run did not finish in {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = output(&out, tag);
    assert!(
        st.success(),
        "resume failed ({st}):\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("resumed at {:.1} kimg", last_nimg as f64 / 1000.0)),
        "{stderr}"
    );
    assert!(
        log_lines(&out) > before,
        "log.jsonl not appended to ({before} lines before)"
    );
    let last: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(out.join("log.jsonl"))
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .expect("the last log line is JSON");
    assert_eq!(
        last["kimg"].as_f64().unwrap(),
        (last_nimg + 8) as f64 / 1000.0,
        "{last}"
    );
    assert_eq!(check_dir(&out), last_nimg + 8);
}

#[test]
fn sigint_writes_a_final_snapshot_and_exits_130() {
    let dir = TempDir::new("int");
    let data = write_dataset(&dir.0);
    let out = dir.0.join("run");
    let mut args: Vec<&str> = tiny();
    args.extend(["--kimg", "1"]);
    let mut child = spawn_train(&data, &out, &args, 0);
    // A snapshot means the training loop (and the Ctrl-C handler) is running.
    wait_for(&mut child, &out, 0, "a snapshot", |n| {
        n.iter().any(|n| is_snapshot(n))
    });
    let sent = Instant::now();
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(st.success(), "kill -INT failed");
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if sent.elapsed() > PATIENCE {
            kill_and_reap(&mut child);
            panic!("no exit {PATIENCE:?} after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = output(&out, 0);
    assert_eq!(
        st.code(),
        Some(130),
        "SIGINT exit status {st}:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("interrupted by SIGINT: writing a snapshot"),
        "{stderr}"
    );
    // "wrote PATH (X kimg)": the final snapshot holds the state at the stop.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("wrote "))
        .unwrap_or_else(|| panic!("stdout: {stdout}"));
    let (path, kimg) = line["wrote ".len()..].rsplit_once(" (").unwrap();
    let nimg = check_snapshot(Path::new(path));
    assert_eq!(format!("{:.1} kimg)", nimg as f64 / 1000.0), kimg);
    assert!(
        nimg > 0 && nimg < 1000,
        "the run was not interrupted mid-way ({nimg} images)"
    );
    println!(
        "SIGINT: exit 130 after {:?}, final snapshot at {nimg} images",
        sent.elapsed()
    );
}
