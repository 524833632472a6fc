//! The library's modules depend on each other in one direction only, from the GPU runtime up
//! to training: no arrow runs back up. Each module may name (`crate::<module>` outside
//! comments) only the modules below it. Needs no GPU.

use std::collections::BTreeSet;
use std::path::Path;

/// Each module and the modules it may use. `io::images` and `io::npy` are leaf formats (they
/// use only `error`), so `nn` may save images although the model-file parts of `io` use `nn`.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("rng", &["error"]),
    ("gpu", &["error"]),
    ("graph", &["error", "gpu"]),
    ("ops", &["error", "gpu", "graph", "rng"]),
    ("autodiff", &["error", "gpu", "graph", "ops"]),
    (
        "nn",
        &[
            "error",
            "gpu",
            "graph",
            "ops",
            "autodiff",
            "rng",
            "io::images",
        ],
    ),
    ("reference", &["error", "nn"]),
    ("io", &["error", "gpu", "nn", "rng"]),
    (
        "train",
        &[
            "error", "gpu", "graph", "ops", "autodiff", "nn", "io", "rng",
        ],
    ),
    ("model", &["error", "gpu", "io", "nn"]),
    ("metrics", &["error", "graph", "io", "nn", "rng", "train"]),
    ("kernels", &["error", "gpu", "ops", "train"]),
    ("bench", &["error", "gpu", "graph", "ops", "rng"]),
    (
        "projector",
        &[
            "error", "gpu", "graph", "ops", "autodiff", "nn", "io", "rng", "train",
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

/// The library holds the benchmark suites (the browser page runs them too), but never the
/// command line: nothing in `src/` outside `src/bin` names clap or the binary's `cli` module.
#[test]
fn the_library_does_not_hold_the_binary() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(!lib.contains("mod cli;"), "lib.rs declares cli");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let bin = src.join("bin");
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&bin)) {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("clap::") || code.contains("crate::cli") {
                bad.push(format!("{}: {}", f.display(), line.trim()));
            }
        }
    }
    assert!(files.len() > 40, "only {} library files found", files.len());
    assert!(
        bad.is_empty(),
        "the library names the CLI:\n{}",
        bad.join("\n")
    );
}
