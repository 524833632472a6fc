//! Nothing lost, nothing clobbered, nothing non-finite (issue 13): every output of the
//! `stylegan` binary and of the library is written atomically with checked errors, symlinks are
//! written through, FIFOs / devices / folders are neither read nor replaced, `convert` does not
//! overwrite its input, grids are encoded as their extension says, and non-finite inputs,
//! truncations, configs and outputs are refused with an error naming the flag, file or field.
//!
//! Full disks are simulated portably with `RLIMIT_FSIZE` (`ulimit -f` in `sh`, SIGXFSZ
//! ignored so that writes past the limit fail with EFBIG instead of killing the process).
//! Tests that run `generate` need a GPU adapter (lavapipe will do) and fail without one.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stylegan_wgpu::io::atomic::{same_file, write_atomic};
use stylegan_wgpu::io::images::load_image_chw;
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::io::safetensors::{save, Checkpoint};
use stylegan_wgpu::{Config, Model};

mod common;
use common::tempdir::TempDir;

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Longest any run may take; a FIFO that blocks would hang the test without it.
const PATIENCE: Duration = Duration::from_secs(120);

/// Runs `cmd` in `dir` with a deadline (a hung child is killed and the test fails).
fn run(dir: &TempDir, mut cmd: Command, what: &str) -> Out {
    let mut child = cmd
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the stylegan binary");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {PATIENCE:?} (blocked?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |r: Option<&mut dyn std::io::Read>| {
        let mut s = Vec::new();
        if let Some(r) = r {
            r.read_to_end(&mut s).unwrap();
        }
        String::from_utf8_lossy(&s).into_owned()
    };
    let stdout = read(child.stdout.as_mut().map(|r| r as &mut dyn std::io::Read));
    let stderr = read(child.stderr.as_mut().map(|r| r as &mut dyn std::io::Read));
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
    Out {
        ok: status.success(),
        stdout,
        stderr,
    }
}

fn stylegan(dir: &TempDir, args: &[&str]) -> Out {
    let mut cmd = common::process::stylegan_command();
    cmd.args(args);
    run(dir, cmd, &format!("stylegan {args:?}"))
}

/// `stylegan args...` with files limited to `blocks` blocks (`ulimit -f`: 512 bytes in dash,
/// 1024 in bash), SIGXFSZ ignored: a write past the limit fails with EFBIG like on a full disk.
fn stylegan_limited(dir: &TempDir, blocks: u32, args: &[&str]) -> Out {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' XFSZ; ulimit -f \"$1\" || exit 99; shift; exec \"$@\"")
        .arg("sh")
        .arg(blocks.to_string())
        .arg(env!("CARGO_BIN_EXE_stylegan"))
        .args(args);
    let o = run(dir, cmd, &format!("ulimit -f {blocks}; stylegan {args:?}"));
    assert!(
        !o.stderr.contains("ulimit"),
        "the shell could not set the limit:\n{}",
        o.stderr
    );
    o
}

fn ok(dir: &TempDir, args: &[&str]) -> Out {
    let o = stylegan(dir, args);
    assert!(
        o.ok,
        "stylegan {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        o.stdout, o.stderr
    );
    o
}

/// Checks that a run failed with an `error:` message containing every one of `needles`
/// (case-insensitive).
fn check_fails(o: &Out, what: &str, needles: &[&str]) {
    assert!(!o.ok, "{what} should have failed; stdout:\n{}", o.stdout);
    let err = o.stderr.to_lowercase();
    assert!(
        err.contains("error"),
        "{what}: no error message:\n{}",
        o.stderr
    );
    for n in needles {
        assert!(
            err.contains(&n.to_lowercase()),
            "{what}: message should mention {n:?}:\n{}",
            o.stderr
        );
    }
    eprintln!(
        "{what} -> {}",
        o.stderr
            .lines()
            .filter(|l| l.contains("error") && !l.contains("XDG"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

fn fails(dir: &TempDir, args: &[&str], needles: &[&str]) -> Out {
    let o = stylegan(dir, args);
    check_fails(&o, &format!("stylegan {args:?}"), needles);
    o
}

/// Names in `dir` that are temporary files of `write_atomic` (`.{name}[.k].tmp{pid}`).
fn temp_files(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with('.') && n.contains(".tmp"))
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// No temporary file and no empty file anywhere directly in `dir`.
fn assert_clean(dir: &Path) {
    assert_eq!(
        temp_files(dir),
        Vec::<String>::new(),
        "temporary files left"
    );
    for n in names(dir) {
        let m = std::fs::symlink_metadata(dir.join(&n)).unwrap();
        assert!(
            !(m.is_file() && m.len() == 0),
            "{n} in {} is an empty file",
            dir.display()
        );
    }
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_fifo())
        .unwrap_or(false)
}

/// A temp dir holding `m.safetensors`, the tiny preset (3 channels, 32², 8 layers).
fn with_model(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    ok(
        &dir,
        &["init", "--preset", "tiny", "--out", "m.safetensors"],
    );
    dir
}

/// The config of the embedded model (what `generate` uses without `--model`).
fn embedded() -> Config {
    Model::embedded().unwrap().config().clone()
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = b"\xff\xd8\xff";

// ---------------------------------------------------------------------------------------------
// Full disks: every write is checked, nothing partial is left.

/// The issue's reproduction (300 KiB tmpfs, `generate --seeds 0-7 --outdir`) printed "wrote 8
/// images", exited 0 and left 0-byte PNGs. With no room at all, the first PNG must fail, be
/// named, and leave nothing behind.
#[test]
fn full_disk_outdir_fails_naming_the_file_and_leaves_nothing() {
    let dir = TempDir::new("enospc-outdir");
    std::fs::create_dir(dir.path("out")).unwrap();
    let o = stylegan_limited(&dir, 0, &["generate", "--seeds", "0-7", "--outdir", "out"]);
    check_fails(&o, "generate --outdir (no room)", &["seed0000.png"]);
    assert!(!o.stdout.contains("wrote"), "claims success:\n{}", o.stdout);
    assert_eq!(
        names(&dir.path("out")),
        Vec::<String>::new(),
        "a failed write must leave no file, partial or temporary"
    );
}

#[test]
fn full_disk_grid_leaves_no_file() {
    let dir = TempDir::new("enospc-grid");
    let o = stylegan_limited(&dir, 0, &["generate", "--seeds", "0-3", "--grid", "g.png"]);
    check_fails(&o, "generate --grid (no room)", &["g.png"]);
    assert!(
        !dir.path("g.png").exists(),
        "a 0-byte or partial grid was left"
    );
    assert_clean(&dir.0);
}

/// Room for the small PNGs but not for the 32 KiB `.npy`: the PNGs are complete, the `.npy`
/// write fails naming it, and the old `.npy` survives untouched (atomic replace).
#[test]
fn disk_full_midway_keeps_complete_files_and_the_old_npy() {
    let dir = TempDir::new("enospc-npy");
    std::fs::create_dir(dir.path("out")).unwrap();
    write_npy(dir.path("x.npy"), &[1], &[42.0]).unwrap();
    let old = bytes(&dir.path("x.npy"));
    // 16 blocks = 8 or 16 KiB: more than a 32x32 grayscale PNG, less than 8 x 32 x 32 f32.
    let o = stylegan_limited(
        &dir,
        16,
        &[
            "generate",
            "--seeds",
            "0-7",
            "--outdir",
            "out",
            "--out-npy",
            "x.npy",
        ],
    );
    check_fails(&o, "generate --out-npy (disk full)", &["x.npy"]);
    assert_eq!(bytes(&dir.path("x.npy")), old, "the old x.npy was lost");
    let pngs = names(&dir.path("out"));
    assert_eq!(pngs.len(), 8, "{pngs:?}");
    for p in &pngs {
        let (_, c, h, w) = load_image_chw(dir.path("out").join(p))
            .unwrap_or_else(|e| panic!("{p} is not a complete PNG: {e}"));
        assert_eq!((c, h, w), (1, 32, 32));
    }
    assert_clean(&dir.0);
    assert_clean(&dir.path("out"));
}

// ---------------------------------------------------------------------------------------------
// Temp-and-rename must not replace what the path is.

#[test]
fn symlink_output_is_written_through() {
    let dir = TempDir::new("symlink");
    std::fs::create_dir(dir.path("real")).unwrap();
    std::fs::write(dir.path("real/x.npy"), b"old").unwrap();
    std::os::unix::fs::symlink("real/x.npy", dir.path("link.npy")).unwrap();
    // A dangling link: its target is created.
    std::os::unix::fs::symlink("real/new.npy", dir.path("dangling.npy")).unwrap();
    ok(
        &dir,
        &[
            "generate",
            "--seeds",
            "0",
            "--out-npy",
            "link.npy",
            "--save-latents",
            "dangling.npy",
        ],
    );
    for (link, target, shape) in [
        ("link.npy", "real/x.npy", vec![1, 1, 32, 32]),
        (
            "dangling.npy",
            "real/new.npy",
            vec![1, embedded().latent_size],
        ),
    ] {
        let m = std::fs::symlink_metadata(dir.path(link)).unwrap();
        assert!(m.file_type().is_symlink(), "{link} is no longer a symlink");
        assert_eq!(read_npy(dir.path(target)).unwrap().shape, shape, "{target}");
    }
    assert_clean(&dir.0);
    assert_clean(&dir.path("real"));
}

#[test]
fn fifo_output_is_refused_without_blocking() {
    let dir = TempDir::new("fifo-out");
    mkfifo(&dir.path("x.npy"));
    std::fs::create_dir(dir.path("folder.npy")).unwrap();
    fails(
        &dir,
        &["generate", "--seeds", "0", "--out-npy", "x.npy"],
        &["x.npy", "fifo", "not a regular file"],
    );
    assert!(is_fifo(&dir.path("x.npy")), "the FIFO was replaced");
    fails(
        &dir,
        &["generate", "--seeds", "0", "--out-npy", "folder.npy"],
        &["folder.npy", "directory"],
    );
    assert!(dir.path("folder.npy").is_dir());
    // Through the library too (write_atomic is what every output uses).
    let e = write_atomic(&dir.path("x.npy"), b"data")
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.npy") && e.contains("FIFO"), "{e}");
    assert!(is_fifo(&dir.path("x.npy")));
    assert_clean(&dir.0);
}

/// `--out-npy /dev/full` as root replaced the device node. Through a symlink here, so that a
/// regression replaces our link rather than the machine's `/dev/full`.
#[test]
#[cfg(target_os = "linux")]
fn device_output_is_refused() {
    use std::os::unix::fs::FileTypeExt;
    let dir = TempDir::new("device-out");
    std::os::unix::fs::symlink("/dev/full", dir.path("x.npy")).unwrap();
    fails(
        &dir,
        &["generate", "--seeds", "0", "--out-npy", "x.npy"],
        &["x.npy", "/dev/full", "character device"],
    );
    assert!(std::fs::symlink_metadata(dir.path("x.npy"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
}

// ---------------------------------------------------------------------------------------------
// convert must not overwrite its own input.

#[test]
fn convert_refuses_to_overwrite_its_input() {
    let dir = with_model("same-file");
    let before = bytes(&dir.path("m.safetensors"));
    std::os::unix::fs::symlink("m.safetensors", dir.path("sym.safetensors")).unwrap();
    std::fs::hard_link(dir.path("m.safetensors"), dir.path("hard.safetensors")).unwrap();
    for (input, output) in [
        ("m.safetensors", "m.safetensors"),
        ("m.safetensors", "./m.safetensors"),
        ("m.safetensors", "sym.safetensors"),
        ("sym.safetensors", "m.safetensors"),
        ("m.safetensors", "hard.safetensors"),
    ] {
        fails(
            &dir,
            &["convert", input, output, "--only", "Gs"],
            &["same file", input],
        );
    }
    assert_eq!(
        bytes(&dir.path("m.safetensors")),
        before,
        "the input changed"
    );
    assert!(std::fs::symlink_metadata(dir.path("sym.safetensors"))
        .unwrap()
        .file_type()
        .is_symlink());
    // Another file is fine.
    ok(
        &dir,
        &["convert", "m.safetensors", "gs.safetensors", "--only", "Gs"],
    );
    assert!(same_file(
        &dir.path("m.safetensors"),
        &dir.path("hard.safetensors")
    ));
    assert!(!same_file(
        &dir.path("m.safetensors"),
        &dir.path("gs.safetensors")
    ));
    assert!(!same_file(&dir.path("m.safetensors"), &dir.path("missing")));
}

// ---------------------------------------------------------------------------------------------
// Image formats follow the extension.

#[test]
fn grid_format_follows_the_extension() {
    let dir = TempDir::new("grid-format");
    ok(
        &dir,
        &[
            "generate",
            "--seeds",
            "0-3",
            "--grid",
            "g.jpg",
            "--out-npy",
            "x.npy",
        ],
    );
    ok(&dir, &["generate", "--seeds", "0-3", "--grid", "g.PNG"]);
    let jpg = bytes(&dir.path("g.jpg"));
    assert!(jpg.starts_with(JPEG_MAGIC), "g.jpg is not a JPEG");
    assert!(
        bytes(&dir.path("g.PNG")).starts_with(PNG_MAGIC),
        "g.PNG is not a PNG"
    );
    // The JPEG holds the 2x2 grid of the images.
    let (grid, c, h, w) = load_image_chw(dir.path("g.jpg")).unwrap();
    assert_eq!((c, h, w), (1, 64, 64));
    let x = read_npy(dir.path("x.npy")).unwrap();
    let err = (0..32 * 32)
        .map(|p| (grid[(p / 32) * 64 + p % 32] - x.data[p]).abs())
        .fold(0.0f32, |a, b| a + b)
        / 1024.0;
    assert!(
        err < 0.05,
        "JPEG grid differs from image 0 by {err} on average"
    );

    for bad in ["g.bmp", "g", "g.jpg.txt"] {
        fails(
            &dir,
            &["generate", "--seeds", "0", "--grid", bad],
            &["--grid", bad, ".png"],
        );
        assert!(!dir.path(bad).exists());
    }
    fails(
        &dir,
        &[
            "mix", "--rows", "1", "--cols", "2", "--styles", "0", "--out", "mix.gif",
        ],
        &["--out", "mix.gif", "'.gif'"],
    );
    assert!(!dir.path("mix.gif").exists());
}

// ---------------------------------------------------------------------------------------------
// Models from non-regular files.

#[test]
fn models_from_devices_fifos_and_folders_are_refused_quickly() {
    let dir = TempDir::new("model-special");
    mkfifo(&dir.path("fifo.pkl"));
    std::fs::create_dir(dir.path("folder.safetensors")).unwrap();
    let start = Instant::now();
    for (model, kind) in [
        ("/dev/zero", "character device"),
        ("fifo.pkl", "fifo"),
        ("folder.safetensors", "directory"),
    ] {
        fails(
            &dir,
            &[
                "generate",
                "--model",
                model,
                "--seeds",
                "0",
                "--out-npy",
                "x.npy",
            ],
            &[model, kind, "not a regular file"],
        );
        fails(&dir, &["info", model], &[model, kind]);
        fails(&dir, &["convert", model, "out.safetensors"], &[model, kind]);
    }
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "refusing took {:?}",
        start.elapsed()
    );
    assert!(is_fifo(&dir.path("fifo.pkl")));
    assert!(!dir.path("out.safetensors").exists() && !dir.path("x.npy").exists());
    // The library's loaders refuse them the same way.
    let e = Model::load("/dev/zero").unwrap_err().to_string();
    assert!(
        e.contains("/dev/zero") && e.contains("not a regular file"),
        "{e}"
    );
    let e = read_npy(dir.path("fifo.pkl")).unwrap_err().to_string();
    assert!(e.contains("fifo.pkl") && e.contains("FIFO"), "{e}");
    let e = load_image_chw(dir.path("fifo.pkl"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("fifo.pkl") && e.contains("FIFO"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Finite values.

#[test]
fn non_finite_latents_and_dlatents_are_refused_naming_the_file() {
    let dir = TempDir::new("nan-latents");
    let cfg = embedded();
    let (k, l, d) = (cfg.latent_size, cfg.num_layers(), cfg.dlatent_size);
    let mut z = vec![0.5f32; 2 * k];
    z[3] = f32::NAN;
    write_npy(dir.path("z.npy"), &[2, k], &z).unwrap();
    // Value 2 of the second image's w.
    let mut w = vec![0.1f32; 2 * l * d];
    w[l * d + 2] = f32::INFINITY;
    write_npy(dir.path("w.npy"), &[2, l, d], &w).unwrap();
    let w_at = format!("value {} (row 1)", l * d + 2);
    fails(
        &dir,
        &["generate", "--latents", "z.npy", "--out-npy", "x.npy"],
        &["--latents z.npy", "value 3", "nan"],
    );
    fails(
        &dir,
        &["generate", "--dlatents", "w.npy", "--out-npy", "x.npy"],
        &["--dlatents w.npy", &w_at, "inf"],
    );
    assert!(!dir.path("x.npy").exists());
}

#[test]
fn non_finite_or_absurd_truncation_is_refused() {
    let dir = TempDir::new("trunc");
    for psi in ["nan", "inf", "-inf", "1e30", "10.5", "-11"] {
        let arg = format!("--trunc={psi}");
        fails(
            &dir,
            &["generate", "--seeds", "0", &arg, "--out-npy", "x.npy"],
            &["--trunc", psi],
        );
        fails(
            &dir,
            &[
                "mix", "--rows", "1", "--cols", "2", "--styles", "0", &arg, "--out", "m.png",
            ],
            &["--trunc"],
        );
    }
    assert!(!dir.path("x.npy").exists() && !dir.path("m.png").exists());
    // The limits themselves, and negative values written without `=`, are accepted.
    ok(
        &dir,
        &[
            "generate",
            "--seeds",
            "0",
            "--trunc",
            "-0.5",
            "--out-npy",
            "x.npy",
        ],
    );
    ok(
        &dir,
        &[
            "generate",
            "--seeds",
            "0",
            "--trunc",
            "10",
            "--out-npy",
            "y.npy",
        ],
    );
    assert_ne!(bytes(&dir.path("x.npy")), bytes(&dir.path("y.npy")));
    let help = ok(&dir, &["generate", "--help"]).stdout;
    assert!(
        help.contains("|psi| <= 10"),
        "--help should give the range:\n{help}"
    );
}

/// A safetensors model whose config JSON has `field` set to the raw JSON number `raw`:
/// written with the safetensors crate, since our writer refuses such configs.
fn model_with_config_value(path: &Path, field: &str, raw: &str) {
    let m = Model::init(&Config::preset("tiny").unwrap(), 0).unwrap();
    let bytes = stylegan_wgpu::io::safetensors::to_bytes(m.file()).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let json = &meta["config"];
    let key = format!("\"{field}\":");
    let at = json
        .find(&key)
        .unwrap_or_else(|| panic!("{field} not in {json}"))
        + key.len();
    let end = at + json[at..].find([',', '}']).unwrap();
    let edited = format!("{}{raw}{}", &json[..at], &json[end..]);
    meta.insert("config".into(), edited);
    let tensors: Vec<(String, safetensors::tensor::TensorView)> =
        st.tensors().into_iter().collect();
    let out = safetensors::tensor::serialize(tensors, Some(meta)).unwrap();
    std::fs::write(path, out).unwrap();
}

#[test]
fn bad_config_values_are_refused_naming_the_field() {
    let dir = TempDir::new("config");
    for (field, raw, needle) in [
        ("mapping_lrmul", "1e6", "1000000"),
        ("truncation_psi", "1e308", "1e308"),
        ("truncation_psi", "null", "null"),
        ("dlatent_avg_beta", "1.5", "1.5"),
        ("style_mixing_prob", "-0.1", "-0.1"),
        ("fmap_decay", "-1", "-1"),
    ] {
        let file = format!("{field}-{raw}.safetensors");
        model_with_config_value(&dir.path(&file), field, raw);
        fails(&dir, &["info", &file], &[&file, field, needle]);
        fails(
            &dir,
            &["convert", &file, "out.safetensors"],
            &[&file, field],
        );
        assert!(!dir.path("out.safetensors").exists());
    }
    // Unchanged, the same file is fine (so the edits above are what is refused).
    model_with_config_value(&dir.path("good.safetensors"), "truncation_psi", "0.5");
    ok(&dir, &["convert", "good.safetensors", "out.safetensors"]);
    let m = Model::load(dir.path("out.safetensors")).unwrap();
    assert_eq!(m.config().truncation_psi, 0.5);

    // The library: validation names field and value, and neither init nor save writes a
    // config that could not be read back.
    let tiny = Config::preset("tiny").unwrap();
    for (cfg, field) in [
        (
            Config {
                mapping_lrmul: 1e6,
                ..tiny.clone()
            },
            "mapping_lrmul",
        ),
        (
            Config {
                truncation_psi: f32::INFINITY,
                ..tiny.clone()
            },
            "truncation_psi",
        ),
        (
            Config {
                fmap_decay: f32::NAN,
                ..tiny.clone()
            },
            "fmap_decay",
        ),
        (
            Config {
                style_mixing_prob: 2.0,
                ..tiny.clone()
            },
            "style_mixing_prob",
        ),
        (
            Config {
                dlatent_avg_beta: -1.0,
                ..tiny.clone()
            },
            "dlatent_avg_beta",
        ),
    ] {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(field), "{e}");
        assert!(Model::init(&cfg, 0).is_err());
        let mut file: Checkpoint = Model::init(&tiny, 0).unwrap().into_file();
        file.config = cfg;
        let path = dir.path("lib.safetensors");
        let e = save(&path, &file).unwrap_err().to_string();
        assert!(e.contains(field) && e.contains("lib.safetensors"), "{e}");
        assert!(!path.exists());
    }
}

/// A model whose weights overflow: the error says which images are non-finite.
#[test]
fn non_finite_outputs_name_the_images() {
    let dir = TempDir::new("nonfinite-out");
    let tiny = Config::preset("tiny").unwrap();
    let base = Model::init(&tiny, 0).unwrap().into_file();
    for (var, file, needle) in [
        (
            "G_synthesis/ToRGB_lod0/bias",
            "torgb.safetensors",
            "non-finite values",
        ),
        (
            "G_mapping/Dense0/bias",
            "mapping.safetensors",
            "non-finite dlatents",
        ),
    ] {
        let mut m = base.clone();
        let t = m
            .nets
            .get_mut("Gs")
            .unwrap()
            .get_mut(var)
            .unwrap_or_else(|| panic!("no Gs/{var}"));
        t.data.iter_mut().for_each(|v| *v = f32::INFINITY);
        save(&dir.path(file), &m).unwrap();
        fails(
            &dir,
            &[
                "generate", "--model", file, "--seeds", "3,5", "--batch", "2", "--outdir", "out",
            ],
            &[needle, "seed0003.png", "seed0005.png"],
        );
        assert!(
            !dir.path("out/seed0003.png").exists(),
            "images written despite the error"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// generate without --seeds.

#[test]
fn generate_without_seeds_makes_8_images_and_says_so() {
    let dir = TempDir::new("default-seeds");
    let help = ok(&dir, &["generate", "--help"]).stdout;
    assert!(
        help.contains("8 images"),
        "--help should say 8 images:\n{help}"
    );
    ok(&dir, &["generate", "--outdir", "out"]);
    let want: Vec<String> = (0..8).map(|s| format!("seed{s:04}.png")).collect();
    assert_eq!(names(&dir.path("out")), want);
}

// ---------------------------------------------------------------------------------------------
// write_atomic itself (what training snapshots use too).

#[test]
fn write_atomic_replaces_keeps_permissions_and_survives_concurrent_writers() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("atomic");
    let p = dir.path("f.bin");
    write_atomic(&p, b"first").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    write_atomic(&p, b"second").unwrap();
    assert_eq!(bytes(&p), b"second");
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o640,
        "replacing a file must keep its permissions"
    );
    // A stale temporary file (a crashed earlier run with our pid) is neither written through
    // nor in the way.
    let stale = dir.path(&format!(".f.bin.tmp{}", std::process::id()));
    std::fs::write(&stale, b"stale").unwrap();
    write_atomic(&p, b"third").unwrap();
    assert_eq!(bytes(&p), b"third");
    assert_eq!(bytes(&stale), b"stale");
    std::fs::remove_file(&stale).unwrap();

    // Threads writing the same path: each write is whole, no temporary file is left.
    let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 100_000]).collect();
    std::thread::scope(|s| {
        for data in &payloads {
            let p = &p;
            s.spawn(move || {
                for _ in 0..5 {
                    write_atomic(p, data).unwrap();
                }
            });
        }
    });
    let got = bytes(&p);
    assert!(payloads.contains(&got), "interleaved writes");
    assert_clean(&dir.0);

    // Errors name the file; no temporary file is left behind.
    let e = write_atomic(&dir.path("missing/f.bin"), b"x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing/f.bin"), "{e}");
    assert_clean(&dir.0);
}
