//! A stop request (`progress::request_stop`, what the CLI's SIGINT/SIGTERM handlers set) ends
//! the library's long loops after the batch in flight: what was made is kept where the API can
//! hand it on, and the rest of the work is an `Error::Stopped` saying where it stopped.
//!
//! Its own test binary: the request is process-wide, and other tests must not see it.

mod common;
use common::*;
use stylegan_wgpu::data::Dataset;
use stylegan_wgpu::metrics::features::{
    dataset_features, dataset_features_each, generator_features,
};
use stylegan_wgpu::metrics::networks::NetChoice;
use stylegan_wgpu::progress::{request_stop, stop_requested};
use stylegan_wgpu::{Error, Model};

#[test]
fn a_stop_request_ends_long_loops_after_their_batch() {
    let g = gpu();
    let net = NetChoice::Fmnist.load(&g).unwrap();
    let n = 40;
    let pixels: Vec<u8> = (0..n * 32 * 32).map(|i| (i * 7 % 251) as u8).collect();
    let ds = Dataset::from_memory(pixels, 1, 32, "40 test images").unwrap();

    // Before the request: every batch.
    let full = dataset_features(&*net.net, &ds, None, 8, &mut |_| {}).unwrap();
    assert_eq!(full.len(), n * 128);

    request_stop();
    assert!(stop_requested());
    // The batch in flight finishes and is handed on; nothing after it.
    let mut got = Vec::new();
    let done = dataset_features_each(&*net.net, &ds, None, 8, &mut |f, b| {
        assert_eq!(f.len(), b * 128);
        got.extend_from_slice(f);
        Ok(())
    })
    .unwrap();
    assert_eq!(done, 8);
    assert_eq!(
        got,
        full[..8 * 128],
        "the kept batch differs from the full run's"
    );

    // Calls that must return every row say where they stopped instead.
    match dataset_features(&*net.net, &ds, None, 8, &mut |_| {}) {
        Err(Error::Stopped(msg)) => {
            assert!(msg.contains("8 of 40 images"), "{msg}");
            eprintln!("dataset_features: {}", Error::Stopped(msg));
        }
        other => panic!("expected Error::Stopped, got {:?}", other.map(|v| v.len())),
    }
    let model = Model::embedded().unwrap();
    let gen = model.generator(&g).unwrap();
    match generator_features(&*net.net, &gen, 100, 10, 1, &mut |_| {}) {
        Err(Error::Stopped(msg)) => assert!(msg.contains("10 of 100 generated"), "{msg}"),
        other => panic!("expected Error::Stopped, got {:?}", other.map(|v| v.len())),
    }
}
