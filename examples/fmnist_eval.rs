//! Measures a Fashion-MNIST generator: a nearest-class-mean classifier on pixels (fit on the
//! training set, its accuracy on the test set printed for calibration) labels generated
//! samples; the class histogram and the margin between the nearest and second-nearest class
//! mean are compared with the same statistics on real test images; and the distance from a
//! few samples to their nearest training image shows whether the model copies. A class-
//! conditional model makes seed s of class s mod label_size, as `stylegan generate` does.
//!
//!     cargo run --release --example fmnist_eval -- MODEL [DATA_DIR] [N]
//!
//! DATA_DIR defaults to /usr/share/datasets/fashion-mnist (Debian: dataset-fashion-mnist).

use std::io::Read;
use std::path::{Path, PathBuf};

use stylegan_wgpu::nn::generator::{Generator, NoiseMode, Truncation};
use stylegan_wgpu::nn::labels;
use stylegan_wgpu::rng::NumpyRandomState;
use stylegan_wgpu::Gpu;

use stylegan_wgpu::eval::classifier::FMNIST_CLASSES as CLASSES;

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open IDX file"))
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

/// IDX images padded 28x28 -> 32x32 (as the training loader does), in [-1, 1].
fn images(path: &Path) -> Vec<Vec<f32>> {
    let b = gunzip(path);
    let n = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
    (0..n)
        .map(|i| {
            let mut img = vec![-1.0f32; 32 * 32];
            for y in 0..28 {
                for x in 0..28 {
                    img[(y + 2) * 32 + x + 2] = b[16 + i * 784 + y * 28 + x] as f32 / 127.5 - 1.0;
                }
            }
            img
        })
        .collect()
}

fn labels(path: &Path) -> Vec<usize> {
    gunzip(path)[8..].iter().map(|&l| l as usize).collect()
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// (predicted class, margin = (d2 - d1) / d1 with d1 <= d2 the two smallest distances).
fn classify(means: &[Vec<f32>], x: &[f32]) -> (usize, f32) {
    let mut d: Vec<(f32, usize)> = means
        .iter()
        .enumerate()
        .map(|(k, m)| (dist2(m, x).sqrt(), k))
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    (d[0].1, (d[1].0 - d[0].0) / d[0].0.max(1e-6))
}

fn report(name: &str, means: &[Vec<f32>], xs: &[Vec<f32>]) -> Vec<usize> {
    let mut hist = vec![0usize; 10];
    let mut margin = 0.0;
    for x in xs {
        let (k, m) = classify(means, x);
        hist[k] += 1;
        margin += m;
    }
    println!(
        "{name}: {} images, mean margin {:.3}",
        xs.len(),
        margin / xs.len() as f32
    );
    for (k, c) in CLASSES.iter().enumerate() {
        println!(
            "  {c:<12} {:>5} ({:>4.1}%)",
            hist[k],
            100.0 * hist[k] as f32 / xs.len() as f32
        );
    }
    hist
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = PathBuf::from(
        args.get(1)
            .expect("usage: fmnist_eval MODEL [DATA_DIR] [N]"),
    );
    let data = PathBuf::from(
        args.get(2)
            .cloned()
            .unwrap_or("/usr/share/datasets/fashion-mnist".into()),
    );
    let n: usize = args.get(3).map(|s| s.parse().expect("N")).unwrap_or(1000);
    let train = images(&data.join("train-images-idx3-ubyte.gz"));
    let train_y = labels(&data.join("train-labels-idx1-ubyte.gz"));
    let test = images(&data.join("t10k-images-idx3-ubyte.gz"));
    let test_y = labels(&data.join("t10k-labels-idx1-ubyte.gz"));
    let mut means = vec![vec![0.0f32; 1024]; 10];
    let mut counts = vec![0usize; 10];
    for (x, &y) in train.iter().zip(&train_y) {
        counts[y] += 1;
        for (m, v) in means[y].iter_mut().zip(x) {
            *m += v;
        }
    }
    for (m, c) in means.iter_mut().zip(&counts) {
        m.iter_mut().for_each(|v| *v /= *c as f32);
    }
    let correct = test
        .iter()
        .zip(&test_y)
        .filter(|(x, &y)| classify(&means, x).0 == y)
        .count();
    println!(
        "nearest-class-mean classifier: test accuracy {:.1}% (10000 test images)",
        100.0 * correct as f32 / 10000.0
    );

    let gpu = Gpu::new().expect("GPU");
    let m = stylegan_wgpu::io::safetensors::load(&model).expect("model");
    let w = m.nets.get("Gs").or(m.nets.get("G")).expect("generator");
    let g = Generator::new(&gpu, &m.config, w).expect("generator");
    let k = m.config.latent_size;
    let mut samples = Vec::with_capacity(n);
    for start in (0..n).step_by(50) {
        let b = 50.min(n - start);
        let z: Vec<f32> = (start..start + b)
            .flat_map(|s| {
                NumpyRandomState::new(s as u32)
                    .randn(k)
                    .into_iter()
                    .map(|v| v as f32)
            })
            .collect();
        // A class-conditional model gives seed s its class s mod label_size, as the CLI does.
        let classes: Option<Vec<u32>> = m.config.is_conditional().then(|| {
            (start..start + b)
                .map(|s| labels::class_of_seed(&m.config, s as u32))
                .collect()
        });
        let w = g
            .map_latents_classes(&z, classes.as_deref(), &Truncation::NONE)
            .expect("mapping");
        let images = g
            .synthesize_dlatents(&w, NoiseMode::Const)
            .expect("synthesis");
        samples.extend(images.iter().map(|im| {
            im.data
                .iter()
                .map(|v| v.clamp(-1.0, 1.0))
                .collect::<Vec<f32>>()
        }));
    }
    report("real test images (NCM predictions)", &means, &test);
    let hist = report(
        &format!("generated (seeds 0-{}, psi 1, const noise)", n - 1),
        &means,
        &samples,
    );
    let classes_used = hist
        .iter()
        .filter(|&&c| c as f32 >= 0.02 * n as f32)
        .count();
    println!("classes with >= 2% of samples: {classes_used}/10");

    println!("nearest training image (RMS pixel distance in [-1,1] units), seeds 0-7:");
    let rms = |d2: f32| (d2 / 1024.0).sqrt();
    for (s, x) in samples.iter().take(8).enumerate() {
        let best = train.iter().map(|t| dist2(t, x)).fold(f32::MAX, f32::min);
        println!("  seed {s}: {:.3}", rms(best));
    }
    let mut real_nn = 0.0;
    for x in test.iter().take(8) {
        real_nn += rms(train.iter().map(|t| dist2(t, x)).fold(f32::MAX, f32::min));
    }
    println!(
        "  (for comparison, real test images 0-7: mean {:.3})",
        real_nn / 8.0
    );
}
