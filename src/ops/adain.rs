//! Instance normalization and AdaIN (instance norm followed by the per-channel style scale and
//! shift), the synthesis layer's steps 3-4. The forward pass is one kernel, one workgroup per
//! (image, channel) plane. The backward rules are composed of differentiable ops (recomputing
//! the normalized planes rather than saving them) so they differentiate again; where a
//! backward pass records no history (a generator step: nothing differentiates G's gradients
//! again) the same arithmetic runs as one kernel instead of ~35 dispatches
//! ([`adain_backward`]).

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::{Tensor, SEQ_WG};
use crate::ops::elementwise::{add, affine, axpby, mul, rsqrt, square, sub};
use crate::ops::reduce::{broadcast_to, reshape, rows_one_part, rows_sequential, sum_to};
use crate::ops::rendered::rendered_kernel;
use crate::tape::{records, Var};
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/adain/adain.wgsl`, both forms.
    pub struct AdainParams { planes: u32, hw: u32, c: u32, mode: u32, eps: f32 }
}

kernel_params! {
    /// Parameters of `shaders/adain/backward.wgsl`.
    pub struct AdainBackwardParams { planes: u32, hw: u32, c: u32, mode: u32, inv_hw: f32, eps: f32 }
}

kernel!(
    ADAIN_BACKWARD_PER_PLANE,
    "adain/backward.wgsl",
    "per_plane",
    AdainBackwardParams,
    [Read, Read, Read, ReadWrite, ReadWrite]
);
kernel!(
    ADAIN_BACKWARD_PER_WORKGROUP,
    "adain/backward.wgsl",
    "per_workgroup",
    AdainBackwardParams,
    [Read, Read, Read, ReadWrite, ReadWrite]
);

rendered_kernel!(
    ADAIN,
    "adain/adain.wgsl",
    "scalar",
    "main",
    AdainParams,
    [Read, Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    ADAIN4,
    "adain/adain.wgsl",
    "vec4",
    "main",
    AdainParams,
    [Read, Read, ReadWrite],
    { VEC4 => true, }
);
rendered_kernel!(
    ADAIN4_PER_PLANE,
    "adain/adain.wgsl",
    "vec4",
    "per_plane",
    AdainParams,
    [Read, Read, ReadWrite],
    { VEC4 => true, }
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![
        ADAIN.get()?.clone(),
        ADAIN4.get()?.clone(),
        ADAIN4_PER_PLANE.get()?.clone(),
        ADAIN_BACKWARD_PER_PLANE,
        ADAIN_BACKWARD_PER_WORKGROUP,
    ])
}

/// The normalization epsilon of the official network.
pub const NORM_EPS: f32 = 1e-8;

fn check_planes(op: &'static str, x: &Var) -> Result<(usize, usize, usize)> {
    match *x.shape() {
        [n, c, h, w] if n * c * h * w > 0 => Ok((n, c, h * w)),
        _ => shape_err(
            op,
            format!("x must be a non-empty [N, C, H, W], got {:?}", x.shape()),
        ),
    }
}

fn dispatch_norm(x: &Var, style: Option<&Var>, c: usize, hw: usize) -> Result<Tensor> {
    let y = Tensor::empty(x.value().gpu(), x.shape())?;
    let planes = x.value().numel() / hw;
    // Instance norm never reads the style binding: bind x as a placeholder.
    let s = style.map(|s| s.value()).unwrap_or(x.value());
    let p = AdainParams {
        planes: u32p(planes),
        hw: u32p(hw),
        c: u32p(c),
        mode: style.is_some() as u32,
        eps: NORM_EPS,
    };
    // Planes of a multiple of 4 elements: the vec4 kernel, 1.5x the scalar one's GB/s on
    // lavapipe (N4 C64 64²; `benches/results/2026-12-03-lavapipe-planner-before-after`); on a
    // CPU adapter one invocation per plane for planes up to 64² (no barriers). The choice does
    // not depend on the batch, so an image comes out the same bits in any batch.
    let gpu = x.value().gpu();
    let bufs = [x.value(), s, &y];
    if hw.is_multiple_of(4) && gpu.is_cpu() && hw <= 4096 {
        gpu.dispatch(
            ADAIN4_PER_PLANE.get()?,
            &bufs,
            &p,
            u32p(planes.div_ceil(SEQ_WG as usize)),
        )?;
        return Ok(y);
    }
    let kernel = if hw.is_multiple_of(4) {
        ADAIN4.get()?
    } else {
        ADAIN.get()?
    };
    gpu.dispatch(kernel, &bufs, &p, u32p(planes))?;
    Ok(y)
}

/// What the backward of instance norm needs, recomputed from `x` as differentiable vars:
/// the normalized `xhat` and `rsqrt(var + eps)` broadcast to the shape of `x`.
struct Normalized {
    xhat: Var,
    r: Var,
    stat_shape: Vec<usize>,
    inv_hw: f32,
}

fn normalize_parts(x: &Var) -> Result<Normalized> {
    let xs = x.shape().to_vec();
    let stat_shape = vec![xs[0], xs[1], 1, 1];
    let inv_hw = 1.0 / (xs[2] * xs[3]) as f32;
    let mean = broadcast_to(&sum_to(x, &stat_shape, inv_hw)?, &xs)?;
    let xc = sub(x, &mean)?;
    let var = sum_to(&square(&xc)?, &stat_shape, inv_hw)?;
    let r = broadcast_to(&rsqrt(&affine(&var, 1.0, NORM_EPS)?)?, &xs)?;
    let xhat = mul(&xc, &r)?;
    Ok(Normalized {
        xhat,
        r,
        stat_shape,
        inv_hw,
    })
}

impl Normalized {
    /// Gradient with respect to x given the gradient with respect to xhat:
    /// `r * (d - mean_hw(d) - xhat * mean_hw(d * xhat))`.
    fn vjp(&self, d: &Var) -> Result<Var> {
        let xs = d.shape().to_vec();
        let m1 = broadcast_to(&sum_to(d, &self.stat_shape, self.inv_hw)?, &xs)?;
        let m2 = broadcast_to(
            &sum_to(&mul(d, &self.xhat)?, &self.stat_shape, self.inv_hw)?,
            &xs,
        )?;
        let centered = axpby(&sub(d, &m1)?, &mul(&self.xhat, &m2)?, 1.0, -1.0)?;
        mul(&self.r, &centered)
    }
}

/// `(x - mean_hw) * rsqrt(mean_hw((x - mean_hw)^2) + 1e-8)` per image and channel of
/// `x: [N, C, H, W]`.
pub fn instance_norm(x: &Var) -> Result<Var> {
    let (_, c, hw) = check_planes("instance_norm", x)?;
    let y = dispatch_norm(x, None, c, hw)?;
    let xc = x.clone();
    Ok(Var::from_op(y, "instance_norm", &[x], move |g, _| {
        if !records(&[g, &xc]) {
            if let Some((dx, _)) = adain_backward(&xc, None, g)? {
                return Ok(vec![Some(dx)]);
            }
        }
        let parts = normalize_parts(&xc)?;
        Ok(vec![Some(parts.vjp(g)?)])
    }))
}

/// A `[1, 2, 1, 1, 1]` constant selecting half `k` (0: scale, 1: shift) of a style viewed as
/// `[N, 2, C, 1, 1]`, broadcast to that shape.
fn half_mask(like: &Var, k: usize, shape: &[usize]) -> Result<Var> {
    let mut v = [0.0f32; 2];
    v[k] = 1.0;
    let m = Var::constant(Tensor::from_slice(
        like.value().gpu(),
        &[1, 2, 1, 1, 1],
        &v,
    )?);
    broadcast_to(&m, shape)
}

/// AdaIN: `instance_norm(x) * (style[:, :C] + 1) + style[:, C:]` with `x: [N, C, H, W]` and
/// `style: [N, 2C]` (the StyleMod dense output).
pub fn adain(x: &Var, style: &Var) -> Result<Var> {
    let op = "adain";
    let (n, c, hw) = check_planes(op, x)?;
    if style.shape() != [n, 2 * c] {
        return shape_err(
            op,
            format!(
                "style must be [{n}, {}] for x {:?}, got {:?}",
                2 * c,
                x.shape(),
                style.shape()
            ),
        );
    }
    let y = dispatch_norm(x, Some(style), c, hw)?;
    let (xc, sc) = (x.clone(), style.clone());
    Ok(Var::from_op(y, op, &[x, style], move |g, needs| {
        if !records(&[g, &xc, &sc]) {
            if let Some((dx, ds)) = adain_backward(&xc, Some(&sc), g)? {
                return Ok(vec![needs[0].then_some(dx), ds.filter(|_| needs[1])]);
            }
        }
        let xs = xc.shape().to_vec();
        let s5 = [n, 2, c, 1, 1];
        let parts = normalize_parts(&xc)?;
        let dx = if needs[0] {
            // The scale half of the style, + 1, per plane.
            let st = reshape(&sc, &s5)?;
            let scale = sum_to(&mul(&st, &half_mask(&sc, 0, &s5)?)?, &[n, 1, c, 1, 1], 1.0)?;
            let scale = broadcast_to(&reshape(&affine(&scale, 1.0, 1.0)?, &[n, c, 1, 1])?, &xs)?;
            Some(parts.vjp(&mul(g, &scale)?)?)
        } else {
            None
        };
        let dstyle = if needs[1] {
            let ds = reshape(
                &sum_to(&mul(g, &parts.xhat)?, &parts.stat_shape, 1.0)?,
                &[n, 1, c, 1, 1],
            )?;
            let db = reshape(&sum_to(g, &parts.stat_shape, 1.0)?, &[n, 1, c, 1, 1])?;
            // Interleave the two halves as [N, 2, C] = [N, 2C].
            let a = mul(&broadcast_to(&ds, &s5)?, &half_mask(&sc, 0, &s5)?)?;
            let b = mul(&broadcast_to(&db, &s5)?, &half_mask(&sc, 1, &s5)?)?;
            Some(reshape(&add(&a, &b)?, &[n, 2 * c])?)
        } else {
            None
        };
        Ok(vec![dx, dstyle])
    }))
}

/// The gradients of instance norm (`style` None) or AdaIN with respect to `x` and the style,
/// given the gradient `g` of the output, in one dispatch that records no history (its results
/// are constants). It computes exactly what the composite backward rule of `instance_norm` and
/// `adain` computes, operation for operation and each sum in the order `sum_to` adds
/// (`shaders/adain/backward.wgsl`), so training results do not change; that rule stays the
/// definition and the one used whenever history is recorded. `None` where planes are too long
/// for `sum_to` to sum in one part (more than 4M values), where the orders would differ.
pub fn adain_backward(x: &Var, style: Option<&Var>, g: &Var) -> Result<Option<(Var, Option<Var>)>> {
    let op = "adain_backward";
    let (n, c, hw) = check_planes(op, x)?;
    if g.shape() != x.shape() {
        return shape_err(op, format!("gradient {:?} vs x {:?}", g.shape(), x.shape()));
    }
    if let Some(s) = style {
        if s.shape() != [n, 2 * c] {
            return shape_err(
                op,
                format!("style must be [{n}, {}], got {:?}", 2 * c, s.shape()),
            );
        }
    }
    if !rows_one_part(hw) {
        return Ok(None);
    }
    let gpu = x.value().gpu();
    let planes = n * c;
    let dx = Tensor::empty(gpu, x.shape())?;
    // Without a style nothing reads S or writes DS: bind x and a scratch value there.
    let ds = match style {
        Some(_) => Tensor::empty(gpu, &[n, 2 * c])?,
        None => Tensor::empty(gpu, &[1])?,
    };
    let s = style.map(|s| s.value()).unwrap_or(x.value());
    let p = AdainBackwardParams {
        planes: u32p(planes),
        hw: u32p(hw),
        c: u32p(c),
        mode: style.is_some() as u32,
        // As the composite rule computes it.
        inv_hw: 1.0 / hw as f32,
        eps: NORM_EPS,
    };
    let bufs = [x.value(), s, g.value(), &dx, &ds];
    if rows_sequential(gpu, planes, hw) {
        gpu.dispatch(
            &ADAIN_BACKWARD_PER_PLANE,
            &bufs,
            &p,
            u32p(planes.div_ceil(SEQ_WG as usize)),
        )?;
    } else {
        gpu.dispatch(&ADAIN_BACKWARD_PER_WORKGROUP, &bufs, &p, u32p(planes))?;
    }
    Ok(Some((Var::constant(dx), style.map(|_| Var::constant(ds)))))
}
