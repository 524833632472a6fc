//! Compiled pipelines are kept across runs (Vulkan): a context writes its pipeline cache when it
//! goes away, the next one starts warm; a truncated, corrupted or foreign cache file is ignored
//! (never fatal) and replaced by a good one.

mod common;
use common::*;

use stylegan_wgpu::gpu::Policy;
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::Precision::F32;

/// A context caching pipelines in `dir`, and one conv run on it (compiling its kernel).
fn run_once(dir: &std::path::Path) -> Option<(std::path::PathBuf, bool)> {
    let g = gpu_with(Policy {
        pipeline_cache: Some(dir.to_path_buf()),
        ..Policy::default()
    });
    let state = g.pipeline_cache().map(|(p, warm)| (p.to_path_buf(), warm));
    let mut r = rng(1);
    let x = param(&g, &randn(&mut r, &[1, 4, 8, 8]));
    let w = param(&g, &randn(&mut r, &[3, 3, 4, 16]));
    let y = ops::conv2d(&x, &w, 0.5, F32).unwrap().to_vec().unwrap();
    assert!(y.iter().all(|v| v.is_finite()));
    state
}

#[test]
fn a_cache_survives_the_run_and_bad_files_are_ignored() {
    let dir = std::env::temp_dir().join(format!("stylegan-pc-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let Some((path, warm)) = run_once(&dir) else {
        let g = gpu();
        assert_ne!(
            g.info().backend,
            wgpu::Backend::Vulkan,
            "Vulkan adapters keep a pipeline cache"
        );
        eprintln!(
            "{:?} keeps no pipeline cache: nothing to check",
            g.info().backend
        );
        return;
    };
    assert!(!warm, "a fresh folder starts cold");
    let bytes = std::fs::read(&path).expect("the cache is written when the context goes away");
    eprintln!("{}: {} bytes", path.display(), bytes.len());
    assert!(bytes.len() > 24);
    assert_eq!(
        run_once(&dir).map(|s| s.1),
        Some(true),
        "the next run starts warm"
    );

    // Truncated, corrupted, foreign: ignored, the run works, and a good cache replaces it.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x5a;
    for (what, bad) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("corrupted", flipped),
        ("foreign", b"not a pipeline cache at all".to_vec()),
    ] {
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(
            run_once(&dir).map(|s| s.1),
            Some(false),
            "{what} file counts as cold"
        );
        assert_eq!(
            run_once(&dir).map(|s| s.1),
            Some(true),
            "rewritten after a {what} file"
        );
        eprintln!("{what} cache file: ignored and replaced");
    }
    std::fs::remove_dir_all(&dir).ok();
}
