//! README.md's examples run as written: every `stylegan` command of its `sh` blocks that needs
//! only the embedded model, the tiny preset, or files an earlier example wrote, runs in one
//! temporary folder in README order and must succeed, so the README cannot drift from the
//! binary. Commands that need downloads (official weights, Inception, VGG16), a dataset on
//! disk, a GPU cluster or long training are listed as skipped with the reason; the test fails
//! if fewer than `MIN_RUN` commands ran (a README change that silently skips everything).

#![cfg(unix)]

use std::process::Stdio;

mod common;
use common::tempdir::TempDir;

/// What a command needs that this test cannot provide, by a substring of the command.
const NEEDS: &[(&str, &str)] = &[
    ("ffhq", "official FFHQ weights (a download)"),
    ("karras2019", "official weights (a download)"),
    ("inception", "pytorch-fid's Inception weights (a download)"),
    ("vgg16", "VGG16 weights (a download)"),
    ("/usr/share/datasets", "Fashion-MNIST on disk"),
    ("my-photos", "a folder of the user's photos"),
    ("photos/", "a folder of the user's photos"),
    ("runs/", "a training run of hours"),
    ("real/", "image sets of the user's"),
    ("real.zip", "image sets of the user's"),
    ("face.jpg", "a photo of the user's"),
    ("mpirun", "several processes with MPI"),
    (
        "bench ",
        "minutes of benchmarks (cli/tests/bench.rs runs every suite)",
    ),
];

/// Files the README's examples take from the user, made here: a shirt for the projector
/// (any 32x32 image of the embedded model's kind) and a folder of 28x28 digits.
fn prepare(dir: &std::path::Path) {
    common::process::stylegan(dir, &["generate", "--seeds", "7", "--grid", "shirt.png"]);
    assert!(dir.join("shirt.png").is_file(), "shirt.png was not made");
    common::process::write_images(&dir.join("digits"), 12, 1, 28, 3);
}

const MIN_RUN: usize = 8;

/// The `stylegan` commands of README.md's `sh` blocks, continuations joined and comments
/// dropped, in order.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(common::workspace_root().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = line.split(" #").next().unwrap_or("").trim_end();
        if let Some(cont) = code.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(code);
        let cmd = std::mem::take(&mut pending)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if cmd.starts_with("stylegan ") {
            out.push(cmd);
        }
    }
    out
}

#[test]
fn readme_examples_run_as_written() {
    let dir = TempDir::new("readme");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_stylegan"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    prepare(&dir.0);
    let (mut ran, mut skipped) = (Vec::new(), Vec::new());
    for cmd in readme_commands() {
        if let Some((_, why)) = NEEDS.iter().find(|(k, _)| cmd.contains(k)) {
            skipped.push(format!("{cmd}\n      ({why})"));
            continue;
        }
        let t0 = std::time::Instant::now();
        let o = common::process::command("sh")
            .arg("-c")
            .arg(&cmd)
            .env("PATH", &path)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "README example failed: {cmd}\n{out}");
        assert!(!out.contains("panicked"), "{cmd} panicked:\n{out}");
        eprintln!("ok ({:.1} s): {cmd}", t0.elapsed().as_secs_f64());
        ran.push(cmd);
    }
    eprintln!("skipped {}:\n  {}", skipped.len(), skipped.join("\n  "));
    assert!(
        ran.len() >= MIN_RUN,
        "only {} README examples ran (at least {MIN_RUN} expected): {ran:?}",
        ran.len()
    );
}
