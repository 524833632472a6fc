//! Shared test harness: the GPU context (failing, never skipping, when no adapter is found),
//! random inputs, and the one way every op is checked:
//!   1. forward: GPU vs the f64 reference, max abs/rel error printed and asserted;
//!   2. backward: GPU autodiff of <y, R> vs central finite differences of the reference;
//!   3. double backward: the GPU's derivative of <grad, V> along U vs nested finite
//!      differences of the reference.
#![allow(dead_code)]

pub mod golden;
pub mod losses;
pub mod official_pickle;
pub mod process;
pub mod snapshots;
pub mod tempdir;
pub mod torch_ops;

use rand::Rng;

/// The 8x8 grayscale network of the training tests: a few hundred parameters, 8 channels at
/// every stage, official defaults otherwise.
pub fn tiny8() -> stylegan_wgpu::Config {
    stylegan_wgpu::Config {
        resolution: 8,
        num_channels: 1,
        latent_size: 8,
        dlatent_size: 8,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 16,
        fmap_max: 8,
        ..stylegan_wgpu::Config::default()
    }
}

/// Every tensor of every network of `a` equals `b`'s bit for bit (a resumed run against the
/// uninterrupted one).
pub fn assert_same_weights(
    a: &stylegan_wgpu::io::safetensors::Checkpoint,
    b: &stylegan_wgpu::io::safetensors::Checkpoint,
) {
    for (net, w) in &a.nets {
        for (name, t) in w {
            assert!(
                t.data == b.nets[net][name].data,
                "resumed {net}/{name} differs"
            );
        }
    }
}

/// A class-conditional official `(G, D, Gs)` pickle of an 8x8 RGB network with `label_size`
/// 3 and official-initialization weights, written to `path`; returns its config and G's
/// weights (Gs holds the same).
pub fn write_conditional_pickle(
    path: &std::path::Path,
) -> (stylegan_wgpu::Config, stylegan_wgpu::nn::HostWeights) {
    use stylegan_wgpu::nn::params::{discriminator_specs, generator_specs, init_host};
    let cfg = stylegan_wgpu::Config {
        resolution: 8,
        latent_size: 8,
        dlatent_size: 8,
        label_size: 3,
        mapping_layers: 1,
        mapping_fmaps: 8,
        fmap_base: 16,
        fmap_max: 4,
        ..Default::default()
    };
    let g = init_host(&generator_specs(&cfg), 1);
    let d = init_host(&discriminator_specs(&cfg), 2);
    let bytes = official_pickle::pickle_bytes(
        &official_pickle::generator("G", &cfg, &g),
        &official_pickle::discriminator(&cfg, &d),
        &official_pickle::generator("Gs", &cfg, &g),
    );
    std::fs::write(path, bytes).unwrap();
    (cfg, g)
}
use stylegan_wgpu::autodiff::{grad, grad_scalar};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::rng::Seeded;
use stylegan_wgpu::tape::Var;
use stylegan_wgpu::{ops, Gpu, Tensor};

/// The workspace root (the library's folder), from the library's tests and the CLI crate's.
pub fn workspace_root() -> std::path::PathBuf {
    let m = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if m.join("tests/fixtures").is_dir() {
        m.to_path_buf()
    } else {
        m.parent().expect("cli/ has a parent").to_path_buf()
    }
}

/// A committed file of tests/fixtures.
pub fn fixture(name: &str) -> std::path::PathBuf {
    workspace_root().join("tests/fixtures").join(name)
}

/// Every kernel of the crate: each op module's and the optimizer's.
pub fn all_kernels() -> Vec<stylegan_wgpu::gpu::Kernel> {
    let mut out = stylegan_wgpu::ops::kernels().expect("kernels");
    out.extend(stylegan_wgpu::train::optim::kernels());
    out
}

/// The context of the environment's adapter and switches, untuned (`Policy::untuned`): the
/// fixed kernel order, so results do not depend on what a tuning table on this machine holds.
pub fn gpu() -> Gpu {
    let choice = stylegan_wgpu::gpu::AdapterChoice::from_env();
    match Gpu::with_policy(&choice, stylegan_wgpu::gpu::Policy::from_env().untuned()) {
        Ok(g) => {
            eprintln!("adapter: {}", g.describe());
            g
        }
        Err(e) => panic!(
            "GPU tests need an adapter and fail without one (CI={}): {e}",
            std::env::var("CI").unwrap_or_default()
        ),
    }
}

/// A context under an explicit policy (instead of steering kernels through the environment
/// while other tests run); fails like `gpu` without an adapter. `Policy::default()` is
/// untuned.
pub fn gpu_with(policy: stylegan_wgpu::gpu::Policy) -> Gpu {
    let choice = stylegan_wgpu::gpu::AdapterChoice::from_env();
    Gpu::with_policy(&choice, policy).unwrap_or_else(|e| {
        panic!(
            "GPU tests need an adapter and fail without one (CI={}): {e}",
            std::env::var("CI").unwrap_or_default()
        )
    })
}

pub fn rng(seed: u64) -> Seeded {
    stylegan_wgpu::rng::seeded(seed)
}

/// Standard normal values (Box-Muller; tests only need determinism).
pub fn randn(rng: &mut Seeded, shape: &[usize]) -> Arr {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(1e-12);
            let u2: f64 = rng.random::<f64>();
            stylegan_wgpu::rng::box_muller(u1, u2)
        })
        .collect();
    Arr::new(shape, data)
}

/// Uniform values in [lo, hi).
pub fn uniform(rng: &mut Seeded, shape: &[usize], lo: f64, hi: f64) -> Arr {
    let n: usize = shape.iter().product();
    Arr::new(
        shape,
        (0..n)
            .map(|_| lo + (hi - lo) * rng.random::<f64>())
            .collect(),
    )
}

pub fn upload(g: &Gpu, a: &Arr) -> Tensor {
    Tensor::from_slice(g, &a.shape, &a.to_f32()).expect("upload")
}

pub fn param(g: &Gpu, a: &Arr) -> Var {
    Var::param(upload(g, a))
}

pub fn download(v: &Var) -> Arr {
    Arr::from_f32(v.shape(), &v.to_vec().expect("download"))
}

/// Max abs error, and that error relative to the largest reference magnitude.
pub fn errors(got: &[f64], want: &[f64]) -> (f64, f64) {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-30);
    let abs = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    (abs, abs / scale)
}

/// [`errors`] of f32 values.
pub fn errors_f32(got: &[f32], want: &[f32]) -> (f64, f64) {
    let w = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    errors(&w(got), &w(want))
}

/// Prints and asserts the error of `got` against `want`.
pub fn assert_close(what: &str, got: &Arr, want: &Arr, rel_tol: f64) {
    assert_eq!(got.shape, want.shape, "{what}: shape");
    let (abs, rel) = errors(&got.data, &want.data);
    eprintln!("{what:<40} max abs err {abs:.3e}  rel {rel:.3e}  (tol {rel_tol:.0e})");
    assert!(
        rel <= rel_tol,
        "{what}: relative error {rel:.3e} > {rel_tol:.0e}"
    );
    assert!(
        got.data.iter().all(|v| v.is_finite()),
        "{what}: non-finite values"
    );
}

pub struct Check {
    pub fwd_tol: f64,
    pub grad_tol: f64,
    pub second_order: bool,
    pub eps: f64,
    /// Inputs that are not differentiated (e.g. integer-like or structural inputs).
    pub no_grad: Vec<usize>,
}

impl Default for Check {
    fn default() -> Self {
        Check {
            fwd_tol: 1e-5,
            grad_tol: 1e-4,
            second_order: true,
            eps: 1e-4,
            no_grad: vec![],
        }
    }
}

type GpuFn<'a> = dyn Fn(&[Var]) -> stylegan_wgpu::Result<Var> + 'a;
type RefFn<'a> = dyn Fn(&[Arr]) -> Arr + 'a;

fn fd_grad(f: &RefFn, inputs: &[Arr], r: &Arr, which: usize, eps: f64) -> Arr {
    let mut x = inputs.to_vec();
    let mut out = Arr::zeros(&inputs[which].shape);
    for j in 0..inputs[which].numel() {
        let v = inputs[which].data[j];
        x[which].data[j] = v + eps;
        let lp = f(&x).dot(r);
        x[which].data[j] = v - eps;
        let lm = f(&x).dot(r);
        x[which].data[j] = v;
        out.data[j] = (lp - lm) / (2.0 * eps);
    }
    out
}

/// Checks an op's forward, backward and double backward (see the module doc).
pub fn check_op(name: &str, g: &Gpu, inputs: &[Arr], gpu_fn: &GpuFn, ref_fn: &RefFn, c: &Check) {
    let mut r = rng(0xC0FFEE);
    let vars: Vec<Var> = inputs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if c.no_grad.contains(&i) {
                Var::constant(upload(g, a))
            } else {
                param(g, a)
            }
        })
        .collect();
    let y = gpu_fn(&vars).unwrap_or_else(|e| panic!("{name}: {e}"));
    let want = ref_fn(inputs);
    assert_close(&format!("{name} forward"), &download(&y), &want, c.fwd_tol);

    let proj = randn(&mut r, &want.shape);
    let pv = Var::constant(upload(g, &proj));
    let diff: Vec<usize> = (0..inputs.len())
        .filter(|i| !c.no_grad.contains(i))
        .collect();
    let wrt: Vec<Var> = diff.iter().map(|&i| vars[i].clone()).collect();
    let grads = grad(
        std::slice::from_ref(&y),
        std::slice::from_ref(&pv),
        &wrt,
        c.second_order,
    )
    .expect("backward");
    for (k, &i) in diff.iter().enumerate() {
        let fd = fd_grad(ref_fn, inputs, &proj, i, c.eps);
        let got = match &grads[k] {
            Some(v) => download(v),
            None => Arr::zeros(&inputs[i].shape),
        };
        assert_close(&format!("{name} d/dinput{i}"), &got, &fd, c.grad_tol);
    }
    if !c.second_order {
        return;
    }
    // S = Σ_k <grad_k, V_k>; check dS/dx_i along U_i against nested differences.
    let vs: Vec<Arr> = diff
        .iter()
        .map(|&i| randn(&mut r, &inputs[i].shape))
        .collect();
    let us: Vec<Arr> = diff
        .iter()
        .map(|&i| randn(&mut r, &inputs[i].shape))
        .collect();
    let mut s: Option<Var> = None;
    for (k, gk) in grads.iter().enumerate() {
        let Some(gk) = gk else { continue };
        let term = ops::sum(&ops::mul(gk, &Var::constant(upload(g, &vs[k]))).unwrap()).unwrap();
        s = Some(match s {
            Some(prev) => ops::add(&prev, &term).unwrap(),
            None => term,
        });
    }
    let Some(s) = s else { return };
    let h = if s.requires_grad() {
        grad_scalar(&s, &wrt, false).expect("double backward")
    } else {
        vec![None; wrt.len()]
    };
    let got: f64 = h
        .iter()
        .zip(&us)
        .map(|(hk, u)| hk.as_ref().map(|v| download(v).dot(u)).unwrap_or(0.0))
        .sum();
    let s_ref = |x: &[Arr]| -> f64 {
        diff.iter()
            .enumerate()
            .map(|(k, &i)| fd_grad(ref_fn, x, &proj, i, c.eps).dot(&vs[k]))
            .sum()
    };
    let eps2 = 1e-3;
    let shifted = |t: f64| -> Vec<Arr> {
        let mut x = inputs.to_vec();
        for (k, &i) in diff.iter().enumerate() {
            x[i] = x[i].zip(&us[k], |a, b| a + t * b);
        }
        x
    };
    let want = (s_ref(&shifted(eps2)) - s_ref(&shifted(-eps2))) / (2.0 * eps2);
    let scale = want.abs().max(got.abs()).max(1e-6);
    let rel = (got - want).abs() / scale;
    eprintln!("{name:<30} d2 along U: gpu {got:.6e} fd {want:.6e} rel {rel:.2e}");
    assert!(
        rel <= c.grad_tol * 10.0 || (got - want).abs() < 1e-5,
        "{name}: second order {got} vs {want}"
    );
}

/// A generator's official init, plus random biases, dlatent_avg (all zero at init), noise
/// strengths (zero at init; std `noise_std` here) and const (ones at init) so every path of the
/// network matters.
pub fn lively_generator_weights(
    cfg: &stylegan_wgpu::nn::Config,
    seed: u64,
    noise_std: f64,
) -> stylegan_wgpu::nn::HostWeights {
    let mut w = stylegan_wgpu::nn::params::init_host(
        &stylegan_wgpu::nn::params::generator_specs(cfg),
        seed,
    );
    let mut r = rng(seed ^ 0xB1A5);
    for (name, t) in w.iter_mut() {
        let std = if name.starts_with("G_mapping/") && name.ends_with("/bias") {
            // Used as bias * lrmul: scale up so the mapping biases are O(0.5) at run time.
            0.5 / cfg.mapping_lrmul as f64
        } else if name.ends_with("Noise/weight") {
            noise_std
        } else if name.ends_with("/bias") || name == "dlatent_avg" {
            0.5
        } else if name.ends_with("Const/const") {
            // At init (ones) every 4x4 plane is flat, so without noise the first instance norm
            // divides rounding noise by sqrt(eps): the result is ill-conditioned, not wrong.
            1.0
        } else {
            continue;
        };
        t.data = randn(&mut r, &[t.data.len()])
            .data
            .iter()
            .map(|v| (v * std) as f32)
            .collect();
    }
    w
}
