//! The library's test harness (`tests/common` at the workspace root: the GPU context, random
//! inputs, temporary folders, snapshot comparisons), plus running this crate's binary.
#![allow(dead_code, unused_imports)]

#[path = "../../../tests/common/mod.rs"]
mod shared;
pub use shared::*;

pub mod process {
    pub use super::shared::process::*;
    use std::path::Path;

    /// Our binary, untuned (see `command`).
    pub fn stylegan_command() -> std::process::Command {
        command(env!("CARGO_BIN_EXE_stylegan"))
    }

    /// Runs our binary in `dir`; panics with its output when it fails.
    pub fn stylegan(dir: &Path, args: &[&str]) -> String {
        run(dir, env!("CARGO_BIN_EXE_stylegan"), args)
    }

    /// What a run of our binary printed, and how it ended.
    pub struct Out {
        pub ok: bool,
        pub code: Option<i32>,
        pub stdout: String,
        pub stderr: String,
    }

    /// Runs our binary in `dir` to its end, whatever the outcome; no run, good or bad, may
    /// panic.
    pub fn output(dir: &Path, args: &[&str]) -> Out {
        let o = stylegan_command()
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("cannot start the stylegan binary");
        let out = Out {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        assert!(
            !out.stderr.contains("panicked"),
            "stylegan {args:?} panicked:\n{}",
            out.stderr
        );
        out
    }

    /// A run that must succeed.
    pub fn ok(dir: &Path, args: &[&str]) -> Out {
        let o = output(dir, args);
        assert!(
            o.ok,
            "stylegan {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            o.stdout, o.stderr
        );
        o
    }

    /// A run that must fail with an error mentioning every one of `needles`
    /// (case-insensitive); returns its stderr.
    pub fn fails(dir: &Path, args: &[&str], needles: &[&str]) -> String {
        let o = output(dir, args);
        assert!(
            !o.ok,
            "stylegan {args:?} should have failed; stdout:\n{}",
            o.stdout
        );
        let err = o.stderr.to_lowercase();
        assert!(
            err.contains("error"),
            "stylegan {args:?}: no error message:\n{}",
            o.stderr
        );
        for n in needles {
            assert!(
                err.contains(&n.to_lowercase()),
                "stylegan {args:?}: message should mention {n:?}:\n{}",
                o.stderr
            );
        }
        eprintln!(
            "stylegan {args:?} -> {}",
            o.stderr
                .lines()
                .filter(|l| l.contains("error:") && !l.contains("XDG"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        o.stderr
    }

    /// The smallest network `train` runs quickly: the tiny preset narrowed to 8 channels.
    pub const TINY_NET: &[&str] = &[
        "--preset",
        "tiny",
        "--fmap-base",
        "16",
        "--fmap-max",
        "8",
        "--latent-size",
        "8",
        "--mapping-layers",
        "1",
    ];

    /// `n` distinct 8x8 grayscale PNGs (gradients at different angles) in `dir`.
    pub fn png_dataset(dir: &Path, n: u32) {
        std::fs::create_dir_all(dir).unwrap();
        for i in 0..n {
            let img = image::GrayImage::from_fn(8, 8, |x, y| {
                image::Luma([((x * (i % 4) + y * (i / 4)) * 9 % 256) as u8])
            });
            img.save(dir.join(format!("img{i:02}.png"))).unwrap();
        }
    }
}
