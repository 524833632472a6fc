//! Progress where no terminal shows bars: with stderr piped (as in a log file, CI or a cluster
//! job) the binary prints plain progress lines, here at every update
//! (`STYLEGAN_PROGRESS_SECS=0`): `generate`, `features` and `fid` print counts and a final line
//! per task, `train` prints tick lines with kimg, time, sec/kimg, losses and memory.
//!
//! Like the other GPU tests these need an adapter (lavapipe will do) and fail without one.

use std::path::Path;

mod common;
use common::tempdir::TempDir;

/// `stylegan args...` in `dir` with a progress line at every update; its stderr. It must
/// succeed.
fn stderr_of(dir: &Path, args: &[&str]) -> String {
    let o = common::process::stylegan_command()
        .args(args)
        .current_dir(dir)
        .env("STYLEGAN_PROGRESS_SECS", "0")
        .output()
        .expect("cannot start the stylegan binary");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    eprintln!("$ stylegan {}\n{err}", args.join(" "));
    assert!(
        o.status.success(),
        "stylegan {args:?} failed:\nstdout:\n{}\nstderr:\n{err}",
        String::from_utf8_lossy(&o.stdout)
    );
    err
}

/// The lines of `text` that start with `prefix` followed by a count.
fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect()
}

#[test]
fn generate_prints_counts_and_a_final_line() {
    let dir = TempDir::new("progress_generate");
    let err = stderr_of(
        &dir.0,
        &[
            "generate", "--seeds", "0-39", "--batch", "8", "--outdir", "g",
        ],
    );
    let got = lines(&err, "generating: ");
    // A line after each batch but the last, then the final one.
    let want = [
        "generating: 8/40 images (20%), ",
        "generating: 16/40 images (40%), ",
        "generating: 24/40 images (60%), ",
        "generating: 32/40 images (80%), ",
        "generating: 40/40 images in ",
    ];
    assert_eq!(got.len(), want.len(), "{err}");
    for (g, w) in got.iter().zip(want) {
        assert!(g.starts_with(w), "{g:?} should start with {w:?}");
    }
    for g in &got[..4] {
        assert!(g.contains(" images/s, eta "), "{g}");
    }
    assert!(
        got[4].contains(" images/s); 40 files written"),
        "{}",
        got[4]
    );
}

#[test]
fn features_and_fid_print_counts_and_a_final_line() {
    let dir = TempDir::new("progress_features");
    common::process::write_images(&dir.path("imgs"), 12, 1, 32, 7);
    let err = stderr_of(
        &dir.0,
        &["features", "imgs", "--out", "f.npy", "--batch", "4"],
    );
    let got = lines(&err, "features: ");
    assert_eq!(got.len(), 3, "{err}");
    assert!(got[0].starts_with("features: 4/12 images (33%), "), "{err}");
    assert!(got[1].starts_with("features: 8/12 images (67%), "), "{err}");
    assert!(got[2].starts_with("features: 12 images in "), "{err}");
    for g in &got[..2] {
        assert!(g.contains(" images/s, eta "), "{g}");
    }

    // fid measures both sets through the library's tasks, each named by its folder.
    let err = stderr_of(&dir.0, &["fid", "imgs", "imgs", "--batch", "4"]);
    let got: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("features of ") && l.contains(" images"))
        .collect();
    assert_eq!(got.len(), 6, "two sets of three lines:\n{err}");
    for pair in [&got[..3], &got[3..]] {
        assert!(pair[0].contains(": 4/12 images (33%), "), "{err}");
        assert!(pair[1].contains(": 8/12 images (67%), "), "{err}");
        assert!(pair[2].contains(": 12 images in "), "{err}");
    }
}

#[test]
fn train_prints_tick_lines() {
    let dir = TempDir::new("progress_train");
    common::process::png_dataset(&dir.path("data"), 16);
    // 40 steps of 4 images: ticks (every 20 steps) at 0.08 and 0.16 kimg.
    let args = [
        &["train", "--data", "data", "--outdir", "run"],
        common::process::TINY_NET,
        &["--batch", "4", "--kimg", "0.16"],
    ]
    .concat();
    let err = stderr_of(&dir.0, &args);
    let ticks = lines(&err, "tick ");
    assert_eq!(ticks.len(), 2, "{err}");
    for (i, (t, kimg)) in ticks.iter().zip(["0.08", "0.16"]).enumerate() {
        let fields: Vec<&str> = t.split_whitespace().collect();
        let after = |key: &str| {
            let at = fields.iter().position(|f| *f == key);
            at.map(|i| fields[i + 1])
                .unwrap_or_else(|| panic!("no {key} in {t:?}"))
        };
        assert_eq!(after("tick"), (i + 1).to_string(), "{t}");
        assert_eq!(after("kimg"), kimg, "{t}");
        assert!(after("time").ends_with('s'), "{t}");
        let spk: f64 = after("sec/kimg").parse().unwrap();
        assert!(spk > 0.0 && spk.is_finite(), "{t}");
        for loss in ["G", "D", "R1"] {
            let v: f64 = after(loss).parse().unwrap();
            assert!(v.is_finite(), "{loss} in {t}");
        }
        let mib: f64 = after("gpumem").parse().unwrap();
        assert!(mib >= 0.0, "{t}");
        assert!(t.contains(" eta "), "{t}");
    }
    assert!(ticks[1].ends_with("eta 0s"), "the last tick: {}", ticks[1]);
}
