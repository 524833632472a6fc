//! The gradient of a gradient that the R1 penalty needs, through a tiny discriminator made of
//! the real ops: conv1x1 (FromRGB) -> lrelu -> conv3x3 -> lrelu -> blur -> conv3x3 -> 2x2
//! downsample (or the fused stride-2 conv) -> lrelu -> minibatch stddev -> conv3x3 -> lrelu
//! -> dense -> lrelu -> dense. With F(θ) = Σ_i ||∂(Σ D(x))/∂x_i||², the GPU's dF/dθ (double
//! backward) is compared with nested central finite differences of the f64 reference.

mod common;
use common::*;
use stylegan_wgpu::autodiff::grad_scalar;
use stylegan_wgpu::ops;
use stylegan_wgpu::ops::conv::Precision::F32;
use stylegan_wgpu::reference::{self as r, Arr};
use stylegan_wgpu::tape::Var;

const N: usize = 4;
const C: usize = 2;
const S: usize = 8;

fn shapes() -> Vec<Vec<usize>> {
    vec![
        vec![1, 1, C, 3], // 0 FromRGB weight
        vec![3],          // 1 bias
        vec![3, 3, 3, 3], // 2 Conv0
        vec![3],          // 3
        vec![3, 3, 3, 4], // 4 Conv1_down
        vec![4],          // 5
        vec![3, 3, 5, 4], // 6 4x4/Conv (after mbstd: 4+1 channels)
        vec![4],          // 7
        vec![64, 8],      // 8 Dense0
        vec![8],          // 9
        vec![8, 1],       // 10 Dense1
        vec![1],          // 11
    ]
}

fn he(fan_in: usize) -> f64 {
    2f64.sqrt() / (fan_in as f64).sqrt()
}

/// Reference D: scores [N, 1].
fn d_ref(x: &Arr, p: &[Arr], fused: bool) -> Arr {
    let act = |h: Arr, b: &Arr| r::epilogue::epilogue(&h, None, &Arr::zeros(&b.shape), b, 1.0, 0.2);
    let h = act(r::conv::conv2d(x, &p[0], he(C)), &p[1]);
    let h = act(r::conv::conv2d(&h, &p[2], he(27)), &p[3]);
    let h = r::resample::blur(&h);
    let h = if fused {
        r::conv::conv_down2_fused(&h, &p[4], he(27))
    } else {
        r::resample::downsample2(&r::conv::conv2d(&h, &p[4], he(27)), 0.25)
    };
    let h = act(h, &p[5]);
    let h = r::mbstd::minibatch_stddev(&h, 4).expect("group");
    let h = act(r::conv::conv2d(&h, &p[6], he(45)), &p[7]);
    let h = r::dense::dense(&h, &p[8], Some(&p[9]), 2f64.sqrt(), 1.0)
        .map(|v| r::elementwise::lrelu(v, 0.2));
    r::dense::dense(&h, &p[10], Some(&p[11]), 1.0, 1.0)
}

/// GPU D, the same network.
fn d_gpu(x: &Var, p: &[Var], fused: bool) -> stylegan_wgpu::Result<Var> {
    let h = ops::bias_act(&ops::conv2d(x, &p[0], he(C) as f32, F32)?, &p[1], 1.0, 0.2)?;
    let h = ops::bias_act(
        &ops::conv2d(&h, &p[2], he(27) as f32, F32)?,
        &p[3],
        1.0,
        0.2,
    )?;
    let h = ops::blur(&h)?;
    let h = if fused {
        ops::conv_down2_fused(&h, &p[4], he(27) as f32, F32)?
    } else {
        ops::downsample2(&ops::conv2d(&h, &p[4], he(27) as f32, F32)?, 0.25)?
    };
    let h = ops::bias_act(&h, &p[5], 1.0, 0.2)?;
    let h = ops::minibatch_stddev(&h, 4)?;
    let h = ops::bias_act(
        &ops::conv2d(&h, &p[6], he(45) as f32, F32)?,
        &p[7],
        1.0,
        0.2,
    )?;
    let h = ops::lrelu(
        &ops::dense(&h, &p[8], Some(&p[9]), 2f32.sqrt(), 1.0)?,
        0.2,
        1.0,
    )?;
    ops::dense(&h, &p[10], Some(&p[11]), 1.0, 1.0)
}

/// ∂(Σ D)/∂x by central differences of the reference.
fn dx_ref(x: &Arr, p: &[Arr], fused: bool, eps: f64) -> Arr {
    let mut xx = x.clone();
    let mut g = Arr::zeros(&x.shape);
    for j in 0..x.numel() {
        let v = x.data[j];
        xx.data[j] = v + eps;
        let fp: f64 = d_ref(&xx, p, fused).data.iter().sum();
        xx.data[j] = v - eps;
        let fm: f64 = d_ref(&xx, p, fused).data.iter().sum();
        xx.data[j] = v;
        g.data[j] = (fp - fm) / (2.0 * eps);
    }
    g
}

fn penalty_ref(x: &Arr, p: &[Arr], fused: bool) -> f64 {
    dx_ref(x, p, fused, 1e-6).data.iter().map(|v| v * v).sum()
}

fn run(fused: bool) {
    let g = gpu();
    let mut rg = rng(if fused { 11 } else { 10 });
    let x = randn(&mut rg, &[N, C, S, S]);
    let params: Vec<Arr> = shapes()
        .iter()
        .map(|s| {
            if s.len() == 1 {
                randn(&mut rg, s).map(|v| 0.1 * v)
            } else {
                randn(&mut rg, s)
            }
        })
        .collect();

    let xv = param(&g, &x);
    let pv: Vec<Var> = params.iter().map(|a| param(&g, a)).collect();
    let d = d_gpu(&xv, &pv, fused).unwrap();
    let s = ops::sum(&d).unwrap();
    let gx = grad_scalar(&s, std::slice::from_ref(&xv), true).unwrap()[0]
        .clone()
        .unwrap();
    let per_image = ops::sum_sq_per_sample(&gx).unwrap();
    let f = ops::sum(&per_image).unwrap();
    let gp = grad_scalar(&f, &pv, false).unwrap();
    let tag = if fused { "fused down" } else { "blur+box down" };

    assert_close(
        &format!("R1 [{tag}] D(x)"),
        &download(&d),
        &d_ref(&x, &params, fused),
        1e-5,
    );
    let gx_ref = dx_ref(&x, &params, fused, 1e-6);
    assert_close(&format!("R1 [{tag}] dD/dx"), &download(&gx), &gx_ref, 1e-4);
    let pen_ref: Vec<f64> = (0..N)
        .map(|i| {
            gx_ref.data[i * C * S * S..(i + 1) * C * S * S]
                .iter()
                .map(|v| v * v)
                .sum()
        })
        .collect();
    assert_close(
        &format!("R1 [{tag}] penalty per image"),
        &download(&per_image),
        &Arr::new(&[N], pen_ref),
        1e-4,
    );

    // dF/dθ_k along a random direction U_k, for every parameter tensor. Errors are relative to
    // the largest directional derivative: biases only act on F through lrelu masks (piecewise
    // constant) and the minibatch-stddev sqrt, so their derivatives are tiny and the finite
    // differences of those carry the noise of the kinks.
    let eps = 1e-5;
    let mut rows = vec![];
    for (k, shape) in shapes().iter().enumerate() {
        let u = randn(&mut rg, shape);
        // None: F does not depend on θ_k (the last bias); the finite difference must agree.
        let got = gp[k].as_ref().map(|v| download(v).dot(&u)).unwrap_or(0.0);
        let shifted = |t: f64| {
            let mut p = params.clone();
            p[k] = p[k].zip(&u, |a, b| a + t * b);
            penalty_ref(&x, &p, fused)
        };
        rows.push((
            k,
            shape.clone(),
            got,
            (shifted(eps) - shifted(-eps)) / (2.0 * eps),
        ));
    }
    let scale = rows.iter().fold(0.0f64, |m, r| m.max(r.3.abs()));
    assert!(scale > 1e-6, "degenerate test: all derivatives ~0");
    for (k, shape, got, want) in rows {
        let rel = (got - want).abs() / scale;
        eprintln!("R1 [{tag}] dF/dθ{k:<2} {shape:?} along U: gpu {got:+.6e}  fd {want:+.6e}  err/max {rel:.2e}");
        assert!(
            rel < 1e-3,
            "R1 [{tag}] parameter {k}: gpu {got} vs finite differences {want}"
        );
    }
}

#[test]
fn r1_grad_of_grad_matches_finite_differences() {
    run(false);
}

#[test]
fn r1_grad_of_grad_fused_downsample() {
    run(true);
}
