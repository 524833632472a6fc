//! The library's modules depend on each other in one direction only, from the GPU runtime up
//! to training: no arrow runs back up. Each module may name (`crate::<module>` outside
//! comments) only the modules below it. And the library holds no command line: no clap,
//! anyhow or indicatif among its dependencies, no file naming the CLI. Needs no GPU.

use std::collections::BTreeSet;
use std::path::Path;

/// Each module and the modules it may use. `io::images` and `io::npy` are leaf formats (they
/// use only `error`), so `nn` may save images although the model-file parts of `io` use `nn`.
/// `data` reads files through `io::read_file` (regular files only; `io::atomic` describes the
/// others and writes the archives of `data::convert_dataset`, named by `io::format`): those
/// use only `error`. `metrics` measures generators without using `train`; `train` measures its snapshots with
/// `metrics`. `bench` sits on `train`: its `tune` suite meets a model's conv shapes by running a
/// training step.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("limits", &["error"]),
    ("hash", &[]),
    ("progress", &["error"]),
    ("rng", &["error"]),
    ("gpu", &["error", "hash"]),
    ("tape", &["error", "gpu"]),
    ("ops", &["error", "gpu", "tape", "rng"]),
    ("autodiff", &["error", "gpu", "tape", "ops"]),
    (
        "nn",
        &[
            "error",
            "gpu",
            "tape",
            "ops",
            "autodiff",
            "rng",
            "io::images",
            "limits",
        ],
    ),
    (
        "eval",
        &["error", "gpu", "tape", "ops", "autodiff", "nn", "rng"],
    ),
    ("reference", &["error", "nn", "eval"]),
    ("io", &["error", "gpu", "nn", "eval", "rng", "limits"]),
    (
        "data",
        &[
            "error",
            "rng",
            "limits",
            "progress",
            "io::images",
            "io::read_file",
            "io::atomic",
            "io::format",
        ],
    ),
    ("dist", &["error"]),
    (
        "metrics",
        &[
            "error", "gpu", "tape", "io", "nn", "eval", "rng", "data", "dist", "hash", "progress",
        ],
    ),
    (
        "train",
        &[
            "error", "gpu", "tape", "ops", "autodiff", "nn", "eval", "io", "rng", "data", "dist",
            "metrics", "progress", "limits",
        ],
    ),
    ("model", &["error", "gpu", "io", "nn"]),
    (
        "bench",
        &["error", "gpu", "tape", "ops", "rng", "nn", "train"],
    ),
    (
        "projector",
        &[
            "error", "gpu", "tape", "ops", "autodiff", "nn", "eval", "io", "rng", "train",
        ],
    ),
];

fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            sources(&e.unwrap().path(), out);
        }
    } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
        out.push(path.to_path_buf());
    }
}

/// The module a name at the crate root belongs to: the root re-exports `error::{Error,
/// Result}`, and `gpu` exports the `kernel!` / `kernel_params!` macros there.
fn home(name: String) -> String {
    match name.as_str() {
        "Error" | "Result" => "error".into(),
        "kernel" | "kernel_params" => "gpu".into(),
        _ => name,
    }
}

/// `crate::x` and `crate::x::y` names in code (not comments) of `text`.
fn uses(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let ident = |s: &str| -> String {
                s.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            };
            if let Some(list) = rest.strip_prefix('{') {
                // `crate::{a, b::c}`: each item.
                for item in list.split('}').next().unwrap_or("").split(',') {
                    let item = item.trim();
                    let first = ident(item);
                    let second = item[first.len()..]
                        .strip_prefix("::")
                        .map(ident)
                        .unwrap_or_default();
                    out.insert((home(first), second));
                }
                continue;
            }
            let first = ident(rest);
            let second = rest[first.len()..]
                .strip_prefix("::")
                .map(ident)
                .unwrap_or_default();
            out.insert((home(first), second));
        }
    }
    out
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    let mut checked = 0;
    for (module, allowed) in LAYERS {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            sources(&dir, &mut files);
        } else {
            files.push(src.join(format!("{module}.rs")));
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (first, second) in uses(&text) {
                if first == *module {
                    continue;
                }
                let ok = allowed
                    .iter()
                    .any(|a| *a == first || *a == format!("{first}::{second}"));
                if !ok {
                    bad.push(format!("{}: crate::{first}::{second}", f.display()));
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} uses found");
    assert!(
        bad.is_empty(),
        "arrows that run back up:\n{}",
        bad.join("\n")
    );
}

/// Every module `lib.rs` declares has its place in `LAYERS`: a new module must say what it
/// sits on.
#[test]
fn every_module_has_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(declared.len() > 10, "only {declared:?} in lib.rs");
    let missing: Vec<_> = declared
        .iter()
        .filter(|m| !LAYERS.iter().any(|(l, _)| l == *m))
        .collect();
    assert!(missing.is_empty(), "modules without a layer: {missing:?}");
}

/// The library holds the benchmark suites (the browser page runs them too), but never the
/// command line (the `stylegan-cli` crate in cli/): no library file names clap, anyhow,
/// indicatif or the binary's modules or prints, and none of those crates is among the library's
/// dependencies, direct or not (`cargo tree -p stylegan-wgpu`; read from Cargo.lock, whose
/// lists include dev-dependencies, so this is stricter).
#[test]
fn the_library_does_not_hold_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(!lib.contains("mod cli;"), "lib.rs declares cli");
    assert!(
        !src.join("bin").exists(),
        "src/bin: the binary lives in cli/"
    );
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            // The library reports through `log` and `progress::Progress`; it never prints.
            for name in [
                "clap::",
                "anyhow",
                "indicatif",
                "crate::cli",
                "crate::commands",
                "println!",
                "eprintln!",
            ] {
                if code.contains(name) {
                    bad.push(format!("{}: {}", f.display(), line.trim()));
                }
            }
        }
    }
    assert!(files.len() > 40, "only {} library files found", files.len());
    assert!(
        bad.is_empty(),
        "the library names the CLI:\n{}",
        bad.join("\n")
    );

    let deps = lock_closure(
        &std::fs::read_to_string(root.join("Cargo.lock")).unwrap(),
        "stylegan-wgpu",
    );
    assert!(
        deps.contains("wgpu") && deps.contains("safetensors"),
        "{deps:?}"
    );
    for cli_only in ["clap", "anyhow", "indicatif", "ctrlc"] {
        assert!(
            !deps.contains(cli_only),
            "the library depends on {cli_only}"
        );
    }
}

/// Every package reachable from `root` in a Cargo.lock.
fn lock_closure(lock: &str, root: &str) -> BTreeSet<String> {
    let mut deps: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for block in lock.split("[[package]]").skip(1) {
        let name = block
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .map(|n| n.trim_matches('"').to_string())
            .unwrap_or_default();
        let list = block
            .split("dependencies = [")
            .nth(1)
            .map(|d| d.split(']').next().unwrap_or(""))
            .unwrap_or("");
        // Entries are "name" or "name version" (when several versions are locked).
        let names = list
            .split(',')
            .filter_map(|e| e.trim().trim_matches('"').split(' ').next())
            .filter(|n| !n.is_empty())
            .map(String::from);
        deps.entry(name).or_default().extend(names);
    }
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        if seen.insert(p.clone()) {
            todo.extend(deps.get(&p).cloned().unwrap_or_default());
        }
    }
    seen
}
