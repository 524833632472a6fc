//! The synthesis-layer epilogue `lrelu(x + noise*strength[c] + bias[c]*bias_mul)` (noise
//! injection, bias and activation in one kernel) and its noise-free form `bias_act`, used by the
//! discriminator and the mapping network. The backward rule is composed of differentiable ops
//! so the R1 penalty can differentiate through it again; where a backward pass records no
//! history (G's step, D's final gradients) the same arithmetic runs as one kernel instead of
//! up to ten dispatches ([`epilogue_backward`]).

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::tensor::view_align;
use crate::gpu::{Tensor, SEQ_WG};
use crate::ops::elementwise::{groups, leaky_mask, mul};
use crate::ops::reduce::{broadcast_to, reshape, rows_one_part, rows_sequential, sum_to};
use crate::ops::rendered::rendered_kernel;
use crate::ops::MAX_LOOP;
use crate::tape::{records, Var};
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/epilogue/epilogue.wgsl`, both forms (`n` and `hw` count vec4s in
    /// the vec4 one).
    pub struct EpilogueParams {
        n: u32, c: u32, hw: u32, has_noise: u32, noise_n: u32, bias_mul: f32, slope: f32,
    }
}

kernel_params! {
    /// Parameters of `shaders/epilogue/backward.wgsl`.
    pub struct EpilogueBackwardParams {
        n: u32, c: u32, hw: u32, planar: u32, has_noise: u32, noise_n: u32, bias_mul: f32,
        slope: f32, str_off: u32,
    }
}

kernel!(
    EPILOGUE_BACKWARD_PER_CHANNEL,
    "epilogue/backward.wgsl",
    "per_channel",
    EpilogueBackwardParams,
    [Read, Read, Read, ReadWrite, ReadWrite]
);
kernel!(
    EPILOGUE_BACKWARD_PER_WORKGROUP,
    "epilogue/backward.wgsl",
    "per_workgroup",
    EpilogueBackwardParams,
    [Read, Read, Read, ReadWrite, ReadWrite]
);

rendered_kernel!(
    EPILOGUE,
    "epilogue/epilogue.wgsl",
    "scalar",
    "main",
    EpilogueParams,
    [Read, Read, Read, Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    EPILOGUE4,
    "epilogue/epilogue.wgsl",
    "vec4",
    "main",
    EpilogueParams,
    [Read, Read, Read, Read, ReadWrite],
    { VEC4 => true, }
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![
        EPILOGUE.get()?.clone(),
        EPILOGUE4.get()?.clone(),
        EPILOGUE_BACKWARD_PER_CHANNEL,
        EPILOGUE_BACKWARD_PER_WORKGROUP,
    ])
}

/// Shape `[1, C, 1, ...]` of a per-channel vector broadcast against `shape`.
fn channel_shape(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    s[1] = shape[1];
    s
}

/// `lrelu(x + noise[n,0,h,w]*strength[c] + bias[c]*bias_mul, slope)`.
///
/// `x` is `[N, C, H, W]` (or `[N, C]` without noise); `noise` is `[N, 1, H, W]` or `[1, 1, H, W]`
/// (one map shared by the whole batch); `strength` and `bias` are `[C]`.
pub fn epilogue(
    x: &Var,
    noise: Option<&Var>,
    strength: &Var,
    bias: &Var,
    bias_mul: f32,
    slope: f32,
) -> Result<Var> {
    let op = "epilogue";
    let xs = x.shape().to_vec();
    if xs.len() != 2 && xs.len() != 4 {
        return shape_err(op, format!("x must be [N, C] or [N, C, H, W], got {xs:?}"));
    }
    let c = xs[1];
    if bias.shape() != [c] {
        return shape_err(
            op,
            format!(
                "bias {:?} does not match the {c} channels of x {xs:?}",
                bias.shape()
            ),
        );
    }
    if let Some(nz) = noise {
        let ns = nz.shape();
        if xs.len() != 4
            || ns.len() != 4
            || (ns[0] != 1 && ns[0] != xs[0])
            || ns[1] != 1
            || ns[2..] != xs[2..]
        {
            return shape_err(
                op,
                format!(
                    "noise {ns:?} must be [{}, 1, H, W] or [1, 1, H, W] for x {xs:?}",
                    xs.first().unwrap_or(&0)
                ),
            );
        }
        if strength.shape() != [c] {
            return shape_err(
                op,
                format!(
                    "strength {:?} does not match the {c} channels of x {xs:?}",
                    strength.shape()
                ),
            );
        }
    }
    let n = x.value().numel();
    let hw: usize = xs[2..].iter().product();
    let (nt, st, noise_n) = match noise {
        Some(nz) => (nz.value(), strength.value(), nz.shape()[0]),
        // Placeholders for the unused bindings.
        None => (bias.value(), bias.value(), 1),
    };
    let y = Tensor::empty(x.value().gpu(), &xs)?;
    // Planes of a multiple of 4 elements go four at a time (vec4 loads, a quarter of the
    // invocations; 1.8x the scalar kernel's GB/s on lavapipe at N4 C64 64², see
    // `benches/results/2026-12-03-lavapipe-planner-before-after`); dense activations [N, C]
    // and odd planes one at a time.
    let by4 = hw.is_multiple_of(4) && hw >= 4;
    let (kernel, per) = if by4 {
        (EPILOGUE4.get()?, 4)
    } else {
        (EPILOGUE.get()?, 1)
    };
    let p = EpilogueParams {
        n: u32p(n / per),
        c: u32p(c),
        hw: u32p(hw.max(1) / per),
        has_noise: noise.is_some() as u32,
        noise_n: u32p(noise_n),
        bias_mul,
        slope,
    };
    x.value().gpu().dispatch(
        kernel,
        &[x.value(), nt, st, bias.value(), &y],
        &p,
        groups(n / per),
    )?;

    // lrelu keeps the sign of its input, so the output serves as the mask of the derivative.
    let mask = Var::constant(y.clone());
    let noise_c = noise.cloned();
    let strength_c = strength.clone();
    let mut inputs: Vec<&Var> = vec![x, bias];
    if let Some(nz) = noise {
        inputs.push(nz);
        inputs.push(strength);
    }
    Ok(Var::from_op(y, op, &inputs, move |g, needs| {
        let cs = channel_shape(&xs);
        let c = xs[1];
        let mut ins = vec![g, &strength_c];
        ins.extend(noise_c.as_ref());
        let fused = if records(&ins) {
            None
        } else {
            let noise = noise_c.as_ref().filter(|_| needs[3]);
            epilogue_backward(g, &mask, noise, bias_mul, slope)?
        };
        if let Some(f) = fused {
            // The noise map's gradient (only a projection optimizes it) by the composite.
            let dnoise = match &noise_c {
                Some(nz) if needs[2] => {
                    let sb = broadcast_to(&reshape(&strength_c, &cs)?, &xs)?;
                    Some(sum_to(&mul(&f.dx, &sb)?, nz.shape(), 1.0)?)
                }
                _ => None,
            };
            let mut out = vec![needs[0].then_some(f.dx), needs[1].then_some(f.dbias)];
            if noise_c.is_some() {
                out.push(dnoise);
                out.push(f.dstrength.filter(|_| needs[3]));
            }
            return Ok(out);
        }
        let dpre = leaky_mask(&mask, g, 1.0, slope)?;
        let dbias = if needs[1] {
            Some(reshape(&sum_to(&dpre, &cs, bias_mul)?, &[c])?)
        } else {
            None
        };
        let mut out = vec![None, dbias];
        if let Some(nz) = &noise_c {
            let dnoise = if needs[2] {
                let sb = broadcast_to(&reshape(&strength_c, &cs)?, &xs)?;
                Some(sum_to(&mul(&dpre, &sb)?, nz.shape(), 1.0)?)
            } else {
                None
            };
            let dstrength = if needs[3] {
                let nb = broadcast_to(nz, &xs)?;
                Some(reshape(&sum_to(&mul(&dpre, &nb)?, &cs, 1.0)?, &[c])?)
            } else {
                None
            };
            out.push(dnoise);
            out.push(dstrength);
        }
        out[0] = if needs[0] { Some(dpre) } else { None };
        Ok(out)
    }))
}

/// `lrelu(x + bias[c]*bias_mul, slope)` for `x` of shape `[N, C]` or `[N, C, H, W]`.
pub fn bias_act(x: &Var, bias: &Var, bias_mul: f32, slope: f32) -> Result<Var> {
    epilogue(x, None, bias, bias, bias_mul, slope)
}

/// `x + bias[c]*bias_mul` (no activation: ToRGB and the last dense layer). lrelu with slope 1 is
/// the identity, so this is the same kernel.
pub fn bias_add(x: &Var, bias: &Var, bias_mul: f32) -> Result<Var> {
    epilogue(x, None, bias, bias, bias_mul, 1.0)
}

/// What [`epilogue_backward`] computes.
pub struct EpilogueGrads {
    /// The gradient of the pre-activation, which is also that of `x`.
    pub dx: Var,
    /// `[C]`.
    pub dbias: Var,
    /// `[C]`, when a noise map was given.
    pub dstrength: Option<Var>,
}

/// The gradients of `epilogue` with respect to `x`, the bias and (given the noise map) the
/// noise strength, from the gradient `g` of its output `y`, in one dispatch that records no
/// history (the results are constants). It computes exactly what the composite backward rule
/// computes, operation for operation and each sum in the order `sum_to` adds
/// (`shaders/epilogue/backward.wgsl`), so training results do not change; the rule stays the
/// definition and the one used whenever history is recorded. `None` where `sum_to` would
/// add in another way (rows over 4M values, batches over 16384, a dense layer of one image,
/// one channel with a noise map shared by several images).
pub fn epilogue_backward(
    g: &Var,
    y: &Var,
    noise: Option<&Var>,
    bias_mul: f32,
    slope: f32,
) -> Result<Option<EpilogueGrads>> {
    let op = "epilogue_backward";
    let xs = y.shape().to_vec();
    if g.shape() != xs || (xs.len() != 2 && xs.len() != 4) {
        return shape_err(
            op,
            format!(
                "gradient {:?} and output {xs:?} must be the same [N, C] or [N, C, H, W]",
                g.shape()
            ),
        );
    }
    let (n, c) = (xs[0], xs[1]);
    let hw: usize = xs[2..].iter().product();
    if let Some(nz) = noise {
        let ns = nz.shape();
        if hw < 2 || ns.len() != 4 || (ns[0] != 1 && ns[0] != n) || ns[1] != 1 || ns[2..] != xs[2..]
        {
            return shape_err(op, format!("noise {ns:?} does not fit the output {xs:?}"));
        }
    }
    let noise_n = noise.map_or(1, |nz| nz.shape()[0]);
    // `sum_to` to [1, C, 1, ...] first sums the trailing dims where the target is 1 as rows:
    // the planes, or with a single channel the whole tensor as one row (n = 1 below; a
    // per-image noise map then lines up with it, a shared one does not).
    let (rows_n, rows_hw, noise_n) = match (c, noise_n) {
        (1, 1) if n > 1 && noise.is_some() => return Ok(None),
        (1, _) => (1, n * hw, 1),
        _ => (n, hw, noise_n),
    };
    let planar = rows_hw > 1;
    if !rows_one_part(rows_hw) || rows_n > MAX_LOOP || (!planar && rows_n == 1) {
        return Ok(None);
    }
    let gpu = y.value().gpu();
    let dx = Tensor::empty(gpu, &xs)?;
    // dbias at 0, dstrength at the next binding-aligned offset (they share one binding).
    let str_off = c.div_ceil(view_align(gpu)) * view_align(gpu);
    let dp = Tensor::empty(gpu, &[if noise.is_some() { str_off + c } else { c }])?;
    let p = EpilogueBackwardParams {
        n: u32p(rows_n),
        c: u32p(c),
        hw: u32p(rows_hw),
        planar: planar as u32,
        has_noise: noise.is_some() as u32,
        noise_n: u32p(noise_n),
        bias_mul,
        slope,
        str_off: u32p(str_off),
    };
    let nt = noise.map_or(y.value(), |nz| nz.value());
    let bufs = [g.value(), y.value(), nt, &dx, &dp];
    if planar && !rows_sequential(gpu, rows_n * c, rows_hw) {
        gpu.dispatch(&EPILOGUE_BACKWARD_PER_WORKGROUP, &bufs, &p, u32p(c))?;
    } else {
        gpu.dispatch(
            &EPILOGUE_BACKWARD_PER_CHANNEL,
            &bufs,
            &p,
            u32p(c.div_ceil(SEQ_WG as usize)),
        )?;
    }
    Ok(Some(EpilogueGrads {
        dx: Var::constant(dx),
        dbias: Var::constant(dp.view(0, &[c])?),
        dstrength: match noise {
            Some(_) => Some(Var::constant(dp.view(str_off, &[c])?)),
            None => None,
        },
    }))
}
