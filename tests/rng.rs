//! The first values of every seeded stream, pinned (`src/rng/mod.rs` lists the streams). A
//! dependency bump or a refactor that moves one fails here instead of silently changing
//! initial weights, training runs (a resumed run must continue exactly), metrics or images.
//! numpy's and SplitMix64's values are their published reference outputs; the others were
//! recorded from this crate (rand 0.9.5, rand_chacha 0.9.0). Needs no GPU.

use rand::Rng;
use stylegan_wgpu::data::{epoch_order, flip_at};
use stylegan_wgpu::nn::params::{generator_specs, init_host};
use stylegan_wgpu::rng::splitmix::{image_key, key, SplitMix64};
use stylegan_wgpu::rng::{lcg_fill, seed_latent, seeded, std_normal, NumpyRandomState};
use stylegan_wgpu::Config;

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn numpy_random_state_is_numpys() {
    // python3 -c "import numpy; print(numpy.random.RandomState(0).randn(4).tolist())"
    close(
        &NumpyRandomState::new(0).randn(4),
        &[
            1.764052345967664,
            0.4001572083672233,
            0.9787379841057392,
            2.240893199201458,
        ],
        "RandomState(0).randn(4)",
    );
    // RandomState(123).randn(2), the projector's w statistics seed.
    close(
        &NumpyRandomState::new(123).randn(2),
        &[-1.0856306033005612, 0.9973454465835858],
        "RandomState(123).randn(2)",
    );
    assert_eq!(
        seed_latent(0, 2),
        [1.764052345967664f64 as f32, 0.4001572083672233f64 as f32]
    );
}

#[test]
fn splitmix64_is_the_reference() {
    // Vigna's splitmix64.c seeded with 0.
    let mut r = SplitMix64(0);
    assert_eq!(
        [r.next_u64(), r.next_u64(), r.next_u64()],
        [
            0xe220_a839_7b1d_cdaf,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f
        ]
    );
}

#[test]
fn seeded_streams_are_pinned() {
    let mut r = seeded(0);
    let first = [r.random::<u64>(), r.random::<u64>()];
    let f32s = [r.random::<f32>(), r.random::<f32>()];
    let range: Vec<usize> = (0..4).map(|_| r.random_range(1..14)).collect();
    let normals = std_normal(&mut seeded(42), 3);
    let keys = [key(0, 0), key(7, 3), image_key(1, 2, 1, 5)];
    let draws = std_normal(&mut seeded(image_key(0, 10, 0, 3)), 2);
    let order = epoch_order(10, 0, 1);
    let flips: Vec<bool> = (0..8).map(|p| flip_at(5, p)).collect();
    let lcg = lcg_fill(3, 9);
    let cfg = Config::preset("tiny").unwrap();
    let init = init_host(&generator_specs(&cfg), 0);
    let w = &init["G_mapping/Dense0/weight"].data[..3];
    assert_eq!(
        first,
        [0xbb2a_3fb2_cd2c_6f7f, 0xc601_7c94_8e27_697b],
        "ChaCha12 u64"
    );
    assert_eq!(
        f32s,
        [0.809342, 0.025844634],
        "uniform f32 (style-mixing decision)"
    );
    assert_eq!(range, [9, 8, 12, 4], "range 1..14 (style-mixing crossover)");
    assert_eq!(normals, [-1.0920367, -0.7892424, -2.2347095], "std_normal");
    assert_eq!(
        keys,
        [
            0x8209_b480_faed_1b10,
            0xf175_5cba_1933_645e,
            0x7a8e_2b0a_110e_b78e
        ],
        "step and image keys"
    );
    assert_eq!(
        draws,
        [-0.28959298, -0.6097386],
        "an image's training latent"
    );
    assert_eq!(order, [0, 7, 9, 5, 8, 3, 4, 2, 1, 6], "epoch order");
    assert_eq!(
        flips,
        [false, true, true, true, true, false, true, true],
        "mirroring"
    );
    assert_eq!(lcg, [0.5421537, 0.9852959, -0.52791834], "lcg_fill");
    assert_eq!(w, [11.623959, -233.46353, 22.533468], "initial weights");
}
