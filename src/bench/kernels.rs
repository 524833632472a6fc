//! The `kernels` suite: the convolutions at the shapes of the 1024² network, the fused up-conv
//! (G) and down-conv (D) at 128², the dense matmul of the mapping network, AdaIN, the layer
//! epilogue, a same-shape add and a per-channel broadcast. Each conv and matmul is timed on the
//! kernel the planner picks (`conv3x3`, with the kernel in `kernel`) and on every other kernel
//! that takes the shape (`conv3x3 tiled`, `dense matmul blocked`, ...), so one run holds the
//! before/after of a kernel change.
//!
//! FLOPs count the multiply-adds of the direct convolution (2 per tap); for the fused
//! resampling convs, the 4x4 stride-2 kernel's taps: 2·N·Hin·Win·16·C·K for the transposed
//! up-conv, 2·N·Hout·Wout·16·C·K for the down-conv. Bytes of the memory-bound kernels count
//! one read of every input and one write of the output.
//!
//! The weight gradients of the 3x3 conv and of the stride-2 down-conv are timed the same way, on
//! every weight-gradient kernel that takes the shape (`conv3x3 wgrad`, `conv3x3 wgrad blocked`).
//!
//! `--quick` keeps the shapes up to about a GFLOP per call and runs the fused convs at 32²
//! with 64 channels; `tiny` keeps only the smallest conv shape.

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::ops;
use crate::ops::conv::{ConvGeometry, ConvKernel, Precision, WgradKernel};
use crate::rng::lcg_fill;
use crate::tape::{NoGradGuard, Var};

use super::{is_capacity_error, time_op, BenchOptions, BenchResult, Sink};

const SUITE: &str = "kernels";

/// conv3x3 shapes (N, C = K, H = W) of the full suite: every stage of the 1024² generator
/// from 8² to 256² (the discriminator mirrors them).
pub const CONV_SHAPES: [(usize, usize, usize); 7] = [
    (4, 512, 8),
    (4, 512, 16),
    (4, 512, 32),
    (4, 256, 64),
    (4, 128, 128),
    (4, 64, 256),
    (4, 32, 32),
];

/// conv3x3 shapes of `--quick`: the small official stages and two mid-sized ones.
pub const CONV_SHAPES_QUICK: [(usize, usize, usize); 4] =
    [(1, 512, 4), (1, 512, 8), (4, 128, 16), (4, 32, 32)];

fn filled(gpu: &Gpu, shape: &[usize], seed: u64) -> Result<Tensor> {
    Tensor::from_slice(gpu, shape, &lcg_fill(shape.iter().product(), seed))
}

/// Pushes a GFLOP/s result (or a skipped case); `kernel` names the conv kernel that ran.
fn push_flops(
    sink: &mut Sink<'_>,
    name: &str,
    shape: String,
    flops: f64,
    kernel: Option<&str>,
    t: Result<super::Timing>,
) -> Result<()> {
    let r = t.map(|t| {
        let mut r = BenchResult::new(SUITE, name, shape.clone(), &t);
        r.gflops = Some(flops / t.median / 1e9);
        r.kernel = kernel.map(str::to_string);
        r
    });
    sink.record(SUITE, name, shape, r)
}

/// One forward conv case: `name` on the kernel the planner picks for this adapter (reported in
/// `kernel`), then `"{name} {kernel}"` on every other kernel that takes the shape, for
/// before/after comparisons. `fuse` first builds the 4x4 kernel of the fused resampling convs
/// from the 3x3 weight, as `conv_up2_fused` / `conv_down2_fused` do per call.
#[allow(clippy::too_many_arguments)]
async fn conv_case(
    gpu: &Gpu,
    opts: &BenchOptions,
    sink: &mut Sink<'_>,
    name: &str,
    shape: String,
    flops: f64,
    geom: &ConvGeometry,
    fuse: bool,
    x: &Tensor,
    w: &Tensor,
    alpha: f32,
) -> Result<()> {
    let weight = || -> Result<Tensor> {
        if fuse {
            ops::conv::fuse_kernel_t(w)
        } else {
            Ok(w.clone())
        }
    };
    let caps = gpu.caps();
    let picked = ops::conv::plan(geom, &caps, gpu.policy(), Precision::F32)
        .ok_or_else(|| Error::Invalid(format!("{name}: no kernel takes {}", geom.label())))?;
    // The others that take the shape, unless the policy turned them off (on Chrome's
    // SwiftShader the tiled kernel is off: it never finishes there).
    let policy = gpu.policy();
    let others = ConvKernel::ALL
        .iter()
        .copied()
        .filter(|&k| k != picked && k.enabled(policy) && ops::conv::supports(k, geom, &caps));
    for kernel in std::iter::once(picked).chain(others) {
        let t = time_op(gpu, opts, &mut || {
            ops::conv::conv_on(kernel, x, &weight()?, geom, alpha).map(drop)
        })
        .await;
        let label = if kernel == picked {
            name.to_string()
        } else {
            format!("{name} {}", kernel.name())
        };
        push_flops(sink, &label, shape.clone(), flops, Some(kernel.name()), t)?;
    }
    Ok(())
}

/// Pushes a GB/s result (or a skipped case).
fn push_bytes(
    sink: &mut Sink<'_>,
    name: &str,
    shape: String,
    bytes: f64,
    t: Result<super::Timing>,
) -> Result<()> {
    let r = t.map(|t| {
        let mut r = BenchResult::new(SUITE, name, shape.clone(), &t);
        r.gbps = Some(bytes / t.median / 1e9);
        r
    });
    sink.record(SUITE, name, shape, r)
}

async fn conv3x3_cases(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink<'_>) -> Result<()> {
    let shapes: &[(usize, usize, usize)] = if opts.tiny {
        &CONV_SHAPES_QUICK[..1]
    } else if opts.quick {
        &CONV_SHAPES_QUICK
    } else {
        &CONV_SHAPES
    };
    for (i, &(n, c, hw)) in shapes.iter().enumerate() {
        let k = c;
        let shape = format!("N{n} C{c}->K{k} {hw}x{hw}");
        let flops = 2.0 * (n * hw * hw * 9 * c * k) as f64;
        let alpha = 1.0 / ((9 * c) as f32).sqrt();
        let inputs = filled(gpu, &[n, c, hw, hw], 10 + i as u64)
            .and_then(|x| Ok((x, filled(gpu, &[3, 3, c, k], 20 + i as u64)?)));
        let (x, w) = match inputs {
            Ok(v) => v,
            Err(e) if is_capacity_error(&e) => {
                sink.skip(SUITE, "conv3x3", shape, e.to_string());
                continue;
            }
            Err(e) => return Err(e),
        };
        conv_case(
            gpu,
            opts,
            sink,
            "conv3x3",
            shape,
            flops,
            &ConvGeometry::same(x.shape(), w.shape())?,
            false,
            &x,
            &w,
            alpha,
        )
        .await?;
    }
    Ok(())
}

/// The fused resampling convs: G's up-conv producing 128² (256 -> 128 channels) and D's
/// down-conv consuming 128² (128 -> 256 channels), as in the 1024² networks.
async fn resample_cases(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink<'_>) -> Result<()> {
    let (n, side, cbig, csmall) = if opts.quick || opts.tiny {
        (1, 32, 64, 64)
    } else {
        (4, 128, 256, 128)
    };
    let half = side / 2;
    // Up: [n, cbig, half²] -> [n, csmall, side²].
    let x = filled(gpu, &[n, cbig, half, half], 50)?;
    let w = filled(gpu, &[3, 3, cbig, csmall], 51)?;
    let alpha = 1.0 / ((9 * cbig) as f32).sqrt();
    let flops = 2.0 * (n * half * half * 16 * cbig * csmall) as f64;
    let shape = format!("N{n} C{cbig}->K{csmall} {half}x{half}->{side}x{side}");
    conv_case(
        gpu,
        opts,
        sink,
        "conv_up2_fused",
        shape,
        flops,
        &ConvGeometry::up2(x.shape(), &[4, 4, cbig, csmall])?,
        true,
        &x,
        &w,
        alpha,
    )
    .await?;
    // Down: [n, csmall, side²] -> [n, cbig, half²].
    let x = filled(gpu, &[n, csmall, side, side], 52)?;
    let w = filled(gpu, &[3, 3, csmall, cbig], 53)?;
    let alpha = 1.0 / ((9 * csmall) as f32).sqrt();
    let flops = 2.0 * (n * half * half * 16 * csmall * cbig) as f64;
    let shape = format!("N{n} C{csmall}->K{cbig} {side}x{side}->{half}x{half}");
    conv_case(
        gpu,
        opts,
        sink,
        "conv_down2_fused",
        shape,
        flops,
        &ConvGeometry::down2(x.shape(), &[4, 4, csmall, cbig])?,
        true,
        &x,
        &w,
        alpha,
    )
    .await
}

/// Weight-gradient shapes (N, C = O, H = W of the conv's input): the default model's 32² layer
/// (batch 16), a mid-sized official one and the widest small one; `--quick` keeps them all,
/// the full suite adds 64² and 128² official layers.
const WGRAD_SHAPES: [(usize, usize, usize); 3] = [(16, 32, 32), (4, 128, 16), (1, 512, 8)];
const WGRAD_SHAPES_FULL: [(usize, usize, usize); 2] = [(4, 256, 64), (4, 128, 128)];

/// The weight gradients of the 3x3 "same" conv (`conv3x3 wgrad`) and of the 4x4 stride-2
/// down-conv (`conv_down2 wgrad`, C -> C channels, H -> H/2; the up-conv's is the same kernel
/// with x and dy exchanged), on the kernel `plan_wgrad` picks and then on every other kernel
/// that takes the shape (`conv3x3 wgrad blocked`, ...). FLOPs: 2 per tap, as the forward conv.
async fn wgrad_cases(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink<'_>) -> Result<()> {
    let mut shapes = WGRAD_SHAPES.to_vec();
    if opts.tiny {
        shapes.truncate(1);
    } else if !opts.quick {
        shapes.extend(WGRAD_SHAPES_FULL);
    }
    for (i, &(n, c, hw)) in shapes.iter().enumerate() {
        for down in [false, true] {
            let (name, geom) = if down {
                let g = ConvGeometry::down2(&[n, c, hw, hw], &[4, 4, c, c])?;
                ("conv_down2 wgrad", g)
            } else {
                (
                    "conv3x3 wgrad",
                    ConvGeometry::same(&[n, c, hw, hw], &[3, 3, c, c])?,
                )
            };
            let shape = format!("N{n} C{c}->K{c} {hw}x{hw}->{}x{}", geom.ho, geom.wo);
            let inputs = filled(gpu, &[n, c, hw, hw], 60 + i as u64)
                .and_then(|x| Ok((x, filled(gpu, &geom.out_shape(), 70 + i as u64)?)));
            let (x, dy) = match inputs {
                Ok(v) => v,
                Err(e) if is_capacity_error(&e) => {
                    sink.skip(SUITE, name, shape, e.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            };
            let caps = gpu.caps();
            let picked = ops::conv::plan_wgrad(&geom, &caps, gpu.policy());
            // The generic kernel is the any-shape fallback (1-2 GFLOP/s): timed only where it is
            // the pick, since one call of it takes seconds on CPU WebGPU, past the browser's GPU
            // watchdog.
            let others = WgradKernel::ALL.iter().copied().filter(|&k| {
                k != picked
                    && k.name() != "generic"
                    && k.enabled(gpu.policy())
                    && ops::conv::wgrad_supports(k, &geom, &caps)
            });
            for kernel in std::iter::once(picked).chain(others) {
                let t = time_op(gpu, opts, &mut || {
                    ops::conv::wgrad_on(kernel, &x, &dy, &geom, 0.5).map(drop)
                })
                .await;
                let label = if kernel == picked {
                    name.to_string()
                } else {
                    format!("{name} {}", kernel.name())
                };
                let flops = 2.0 * (n * geom.ho * geom.wo * geom.kh * geom.kw * c * c) as f64;
                push_flops(sink, &label, shape.clone(), flops, Some(kernel.name()), t)?;
            }
        }
    }
    Ok(())
}

/// Dense matmul shapes `(m, k, n, trans_a, trans_b)` of `--quick`: the mapping network's layer
/// at batch 64 (every flag combination: its gradients run with the others) and at batch 4, and
/// VGG16's fc7 at batch 16 (weights stored `[out, in]`: `trans_b`).
pub const DENSE_SHAPES_QUICK: [(usize, usize, usize, bool, bool); 7] = [
    (64, 512, 512, false, false),
    (64, 512, 512, true, false),
    (64, 512, 512, false, true),
    (64, 512, 512, true, true),
    (4, 512, 512, false, false),
    (512, 4, 512, true, false),
    (16, 4096, 4096, false, true),
];

/// The full suite adds the weight gradient of VGG16's fc7 and Inception's fc (2048 -> 1008)
/// at batch 64.
pub const DENSE_SHAPES_MORE: [(usize, usize, usize, bool, bool); 2] =
    [(4096, 16, 4096, true, false), (64, 2048, 1008, false, true)];

/// Dense matmul: `dense matmul` on the kernel the planner picks (reported in `kernel`), then
/// `dense matmul {kernel}` on every other kernel that takes the shape. FLOPs: 2·m·k·n.
pub async fn dense_cases(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink<'_>) -> Result<()> {
    let shapes: Vec<_> = if opts.tiny {
        DENSE_SHAPES_QUICK[..1].to_vec()
    } else if opts.quick {
        DENSE_SHAPES_QUICK.to_vec()
    } else {
        DENSE_SHAPES_QUICK
            .iter()
            .chain(&DENSE_SHAPES_MORE)
            .copied()
            .collect()
    };
    let caps = gpu.caps();
    for (i, (m, k, n, ta, tb)) in shapes.into_iter().enumerate() {
        let flags = match (ta, tb) {
            (false, false) => "",
            (true, false) => " (a^T)",
            (false, true) => " (b^T)",
            (true, true) => " (a^T b^T)",
        };
        let shape = format!("{m}x{k} @ {k}x{n}{flags}");
        let a = filled(gpu, &(if ta { [k, m] } else { [m, k] }), 30 + 2 * i as u64)?;
        let b = filled(gpu, &(if tb { [n, k] } else { [k, n] }), 31 + 2 * i as u64)?;
        let s = ops::dense::MatmulShape {
            m,
            k,
            n,
            trans_a: ta,
            trans_b: tb,
        };
        let policy = gpu.policy();
        let Some(picked) = ops::dense::matmul_plan(&s, &caps, policy) else {
            sink.skip(SUITE, "dense matmul", shape, "no kernel takes it".into());
            continue;
        };
        let others = ops::dense::MatmulKernel::ALL.iter().copied().filter(|&k| {
            k != picked && k.enabled(policy) && ops::dense::matmul_supports(k, &s, &caps)
        });
        for kernel in std::iter::once(picked).chain(others) {
            let t = time_op(gpu, opts, &mut || {
                ops::dense::matmul_on(kernel, &a, &b, ta, tb, 1.0).map(drop)
            })
            .await;
            let name = if kernel == picked {
                "dense matmul".to_string()
            } else {
                format!("dense matmul {}", kernel.name())
            };
            let r = t.map(|t| {
                let mut r = BenchResult::new(SUITE, &name, shape.clone(), &t);
                r.gflops = Some(2.0 * (m * k * n) as f64 / t.median / 1e9);
                r.kernel = Some(kernel.name().to_string());
                r
            });
            sink.record(SUITE, &name, shape.clone(), r)?;
        }
    }
    Ok(())
}

/// AdaIN and the epilogue (noise, bias, leaky ReLU) on one activation.
async fn memory_bound_cases(
    gpu: &Gpu,
    n: usize,
    c: usize,
    hw: usize,
    sink: &mut Sink<'_>,
    opts: &BenchOptions,
) -> Result<()> {
    let numel = n * c * hw * hw;
    let x = Var::constant(filled(gpu, &[n, c, hw, hw], 40)?);
    let style = Var::constant(filled(gpu, &[n, 2 * c], 41)?);
    let t = time_op(gpu, opts, &mut || ops::adain::adain(&x, &style).map(drop)).await;
    let bytes = 4.0 * (2 * numel + n * 2 * c) as f64;
    push_bytes(sink, "adain", format!("N{n} C{c} {hw}x{hw}"), bytes, t)?;

    let noise = Var::constant(filled(gpu, &[n, 1, hw, hw], 42)?);
    let strength = Var::constant(filled(gpu, &[c], 43)?);
    let bias = Var::constant(filled(gpu, &[c], 44)?);
    let t = time_op(gpu, opts, &mut || {
        ops::epilogue::epilogue(&x, Some(&noise), &strength, &bias, 1.0, 0.2).map(drop)
    })
    .await;
    let bytes = 4.0 * (2 * numel + n * hw * hw + 2 * c) as f64;
    push_bytes(
        sink,
        "epilogue",
        format!("N{n} C{c} {hw}x{hw} +noise"),
        bytes,
        t,
    )?;

    // The two most frequent kernels of a training step: same-shape elementwise (gradient
    // accumulation, the backward rules' products) and the broadcast of per-channel values over
    // the planes (every bias, strength and statistic in the backward passes).
    let x2 = Var::constant(filled(gpu, &[n, c, hw, hw], 45)?);
    let t = time_op(gpu, opts, &mut || ops::add(&x, &x2).map(drop)).await;
    let shape = format!("N{n} C{c} {hw}x{hw}");
    push_bytes(
        sink,
        "binary add",
        shape.clone(),
        4.0 * (3 * numel) as f64,
        t,
    )?;
    let per_channel = Var::constant(filled(gpu, &[n, c, 1, 1], 46)?);
    let t = time_op(gpu, opts, &mut || {
        ops::broadcast_to(&per_channel, &[n, c, hw, hw]).map(drop)
    })
    .await;
    let bytes = 4.0 * (numel + n * c) as f64;
    push_bytes(sink, "broadcast", format!("[N,C,1,1] -> {shape}"), bytes, t)
}

pub async fn kernels_into(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink<'_>) -> Result<()> {
    let guard = NoGradGuard::new();
    conv3x3_cases(gpu, opts, sink).await?;
    resample_cases(gpu, opts, sink).await?;
    // The weight gradients and the dense sweep are native only: the page's CPU WebGPU
    // (SwiftShader) lost the device within them (Chrome's GPU watchdog), and the page
    // benchmarks what it runs, the forward pass: its dense case is the first shape alone.
    if cfg!(target_arch = "wasm32") {
        dense_cases(
            gpu,
            &BenchOptions {
                tiny: true,
                ..opts.clone()
            },
            sink,
        )
        .await?;
    } else {
        wgrad_cases(gpu, opts, sink).await?;
        dense_cases(gpu, opts, sink).await?;
    }

    memory_bound_cases(gpu, 4, 64, 64, sink, opts).await?;
    if !opts.quick && !opts.tiny {
        // A 256² layer of the 1024² generator (64 channels): 64 MiB, well past any cache.
        memory_bound_cases(gpu, 4, 64, 256, sink, opts).await?;
    }
    drop(guard);
    gpu.trim_pool()
}
