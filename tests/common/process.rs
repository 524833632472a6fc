//! Running other programs from tests (the reference Python scripts; the CLI crate's tests add
//! our own binary) and the test images they share.

use std::path::Path;
use std::process::Command;

use rand::Rng;

/// The interpreter of the reference scripts: `STYLEGAN_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("STYLEGAN_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `program` with the switches that make our binary's results reproducible: the fixed kernel
/// order (`STYLEGAN_TUNE=off`), whatever a tuning table on this machine holds. Every test that
/// runs the binary starts it through this (or `run`).
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env("STYLEGAN_TUNE", "off");
    c
}

/// Runs `program` in `dir`, echoes its output, panics when it fails; returns stdout + stderr.
pub fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let o = command(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("$ {program} {}\n{text}", args.join(" "));
    assert!(o.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// `n` random images `c x s x s` as PNGs named 000.png, 001.png, … in `dir`; smooth enough
/// (a random low-frequency pattern plus noise) that resizing matters.
pub fn write_images(dir: &Path, n: usize, c: usize, s: usize, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = stylegan_wgpu::rng::seeded(seed);
    for i in 0..n {
        let (fx, fy, ph): (f64, f64, f64) = (rng.random(), rng.random(), rng.random());
        let mut hwc = Vec::with_capacity(s * s * c);
        for y in 0..s {
            for x in 0..s {
                for ch in 0..c {
                    let v = 127.0
                        + 90.0
                            * ((x as f64 * fx * 0.3 + y as f64 * fy * 0.2 + ph * 6.0 + ch as f64)
                                .sin())
                        + rng.random_range(-30.0..30.0);
                    hwc.push(v.clamp(0.0, 255.0) as u8);
                }
            }
        }
        let path = dir.join(format!("{i:03}.png"));
        let color = if c == 1 {
            image::ExtendedColorType::L8
        } else {
            image::ExtendedColorType::Rgb8
        };
        image::save_buffer(&path, &hwc, s as u32, s as u32, color).unwrap();
    }
}
