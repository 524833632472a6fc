//! Elementwise ops on equal shapes: affine/scale, square, sqrt, rsqrt, sigmoid, softplus,
//! lrelu, the leaky mask (lrelu's derivative), a*x+b*z (add, sub, lerp), a*x*z (mul), and the
//! sum of up to four tensors (`add_n`, gradient accumulation). Every backward is written with
//! these same ops, so all of them differentiate twice.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::{Tensor, WG};
use crate::kernel_params;
use crate::ops::rendered::rendered_kernel;
use crate::tape::Var;

kernel_params! {
    /// Parameters of `shaders/elementwise/unary.wgsl` and `binary.wgsl`: `n` elements (vec4s for
    /// the vec4 binary kernel), the function's `code`, its constants `a`, `b`.
    pub struct ElementwiseParams { n: u32, code: u32, a: f32, b: f32 }
}

/// Declares an enum of elementwise functions with the WGSL expression of each (of `x`, `z`,
/// `P.a`, `P.b`; a second one where the vec4 kernel needs its own). A function's code is its
/// position in the enum, and the kernel's `switch` cases are rendered from the same list, so
/// Rust and WGSL cannot disagree and no code outside the enum can be dispatched.
macro_rules! functions {
    ($(#[$m:meta])* enum $name:ident {
        $($(#[$vm:meta])* $v:ident => $wgsl:literal $(| vec4 $wgsl4:literal)?,)*
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $name { $($(#[$vm])* $v),* }

        impl $name {
            fn code(self) -> u32 {
                self as u32
            }

            /// Each function's WGSL expression, in code order.
            fn wgsl(vec4: bool) -> Vec<&'static str> {
                // Read only by functions with a vec4 form of their own.
                let _ = vec4;
                vec![$(functions!(@pick vec4, $wgsl $(, $wgsl4)?)),*]
            }
        }
    };
    (@pick $vec4:ident, $s:literal) => { $s };
    (@pick $vec4:ident, $s:literal, $w:literal) => { if $vec4 { $w } else { $s } };
}

functions! {
    /// `y = f(x)`, times `a`.
    enum Unary {
        Affine => "P.a * x + P.b",
        Square => "P.a * x * x",
        Sqrt => "P.a * sqrt(x)",
        Rsqrt => "P.a * inverseSqrt(x)",
        Sigmoid => "P.a / (1.0 + exp(-x))",
        Softplus => "P.a * softplus(x)",
        /// Slope `b`.
        Lrelu => "P.a * lrelu(x, P.b)",
        Exp => "P.a * exp(x)",
    }
}

functions! {
    /// `y = f(x, z)`.
    enum Binary {
        Axpby => "P.a * x + P.b * z",
        Mul => "P.a * x * z",
        /// lrelu's derivative applied to `z`: `z * (x > 0 ? a : b)`.
        LeakyMask => "z * select(P.b, P.a, x > 0.0)"
            | vec4 "z * select(vec4<f32>(P.b), vec4<f32>(P.a), x > vec4<f32>(0.0))",
    }
}

kernel_params! {
    /// Parameters of `shaders/elementwise/sum.wgsl`: `n` elements (vec4s for the vec4 kernel),
    /// `k` inputs.
    pub struct SumParams { n: u32, k: u32 }
}

rendered_kernel!(
    SUM,
    "elementwise/sum.wgsl",
    "scalar",
    "main",
    SumParams,
    [Read, Read, Read, Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    SUM4,
    "elementwise/sum.wgsl",
    "vec4",
    "main",
    SumParams,
    [Read, Read, Read, Read, ReadWrite],
    { VEC4 => true, }
);

rendered_kernel!(
    UNARY,
    "elementwise/unary.wgsl",
    "scalar",
    "main",
    ElementwiseParams,
    [Read, ReadWrite],
    { FUNCTIONS => Unary::wgsl(false) }
);
rendered_kernel!(
    BINARY,
    "elementwise/binary.wgsl",
    "scalar",
    "main",
    ElementwiseParams,
    [Read, Read, ReadWrite],
    { VEC4 => false, FUNCTIONS => Binary::wgsl(false) }
);
rendered_kernel!(
    BINARY4,
    "elementwise/binary.wgsl",
    "vec4",
    "main",
    ElementwiseParams,
    [Read, Read, ReadWrite],
    { VEC4 => true, FUNCTIONS => Binary::wgsl(true) }
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![
        UNARY.get()?.clone(),
        BINARY.get()?.clone(),
        BINARY4.get()?.clone(),
        SUM.get()?.clone(),
        SUM4.get()?.clone(),
    ])
}

/// Number of workgroups for one invocation per element.
pub(crate) fn groups(n: usize) -> u32 {
    u32p(n.div_ceil(WG as usize))
}

pub(crate) fn unary_t(x: &Tensor, f: Unary, a: f32, b: f32) -> Result<Tensor> {
    let y = Tensor::empty(x.gpu(), x.shape())?;
    let n = x.numel();
    let p = ElementwiseParams {
        n: u32p(n),
        code: f.code(),
        a,
        b,
    };
    x.gpu().dispatch(UNARY.get()?, &[x, &y], &p, groups(n))?;
    Ok(y)
}

pub(crate) fn binary_t(
    op: &'static str,
    x: &Tensor,
    z: &Tensor,
    f: Binary,
    a: f32,
    b: f32,
) -> Result<Tensor> {
    if x.shape() != z.shape() {
        return shape_err(
            op,
            format!(
                "operands differ: {:?} vs {:?} (broadcast explicitly)",
                x.shape(),
                z.shape()
            ),
        );
    }
    let y = Tensor::empty(x.gpu(), x.shape())?;
    let n = x.numel();
    // Sizes that are a multiple of 4 go four at a time (vec4 loads): 1.2x the scalar kernel's
    // GB/s on lavapipe (N4 C64 64²; `benches/results/2026-12-03-lavapipe-planner-before-after`).
    let (kernel, per) = if n.is_multiple_of(4) {
        (BINARY4.get()?, 4)
    } else {
        (BINARY.get()?, 1)
    };
    let p = ElementwiseParams {
        n: u32p(n / per),
        code: f.code(),
        a,
        b,
    };
    x.gpu().dispatch(kernel, &[x, z, &y], &p, groups(n / per))?;
    Ok(y)
}

/// `a*x + b`.
pub fn affine(x: &Var, a: f32, b: f32) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Affine, a, b)?;
    Ok(Var::from_op(y, "affine", &[x], move |g, _| {
        Ok(vec![Some(scale(g, a)?)])
    }))
}

/// `a*x`.
pub fn scale(x: &Var, a: f32) -> Result<Var> {
    affine(x, a, 0.0)
}

/// `a*x` where `a = 1` gives `x` itself rather than a copy: a backward rule passing a gradient
/// on unchanged (`add`, `sub`) costs no dispatch. (The copy would differ only in turning -0
/// into +0.)
fn scaled(x: &Var, a: f32) -> Result<Var> {
    if a == 1.0 {
        Ok(x.clone())
    } else {
        scale(x, a)
    }
}

/// `x*x`.
pub fn square(x: &Var) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Square, 1.0, 0.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "square", &[x], move |g, _| {
        Ok(vec![Some(mul_scaled(g, &xs, 2.0)?)])
    }))
}

/// `sqrt(x)`.
pub fn sqrt(x: &Var) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Sqrt, 1.0, 0.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "sqrt", &[x], move |g, _| {
        Ok(vec![Some(mul_scaled(g, &rsqrt(&xs)?, 0.5)?)])
    }))
}

/// `1/sqrt(x)`.
pub fn rsqrt(x: &Var) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Rsqrt, 1.0, 0.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "rsqrt", &[x], move |g, _| {
        let r = rsqrt(&xs)?;
        let r3 = mul(&r, &square(&r)?)?;
        Ok(vec![Some(mul_scaled(g, &r3, -0.5)?)])
    }))
}

/// `1/(1+exp(-x))`.
pub fn sigmoid(x: &Var) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Sigmoid, 1.0, 0.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "sigmoid", &[x], move |g, _| {
        let s = sigmoid(&xs)?;
        let ds = mul(&s, &affine(&s, -1.0, 1.0)?)?;
        Ok(vec![Some(mul(g, &ds)?)])
    }))
}

/// `exp(x)`.
pub fn exp(x: &Var) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Exp, 1.0, 0.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "exp", &[x], move |g, _| {
        Ok(vec![Some(mul(g, &exp(&xs)?)?)])
    }))
}

/// `log(1+exp(x))`, computed stably.
pub fn softplus(x: &Var) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Softplus, 1.0, 0.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "softplus", &[x], move |g, _| {
        Ok(vec![Some(mul(g, &sigmoid(&xs)?)?)])
    }))
}

/// `gain * lrelu(x, slope)`.
pub fn lrelu(x: &Var, slope: f32, gain: f32) -> Result<Var> {
    let y = unary_t(x.value(), Unary::Lrelu, gain, slope)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "lrelu", &[x], move |g, _| {
        Ok(vec![Some(leaky_mask(&xs, g, gain, gain * slope)?)])
    }))
}

/// `z * (x > 0 ? a : b)`: the derivative of lrelu applied to `z`. Piecewise constant in `x`,
/// so its gradient with respect to `x` is zero.
pub fn leaky_mask(x: &Var, z: &Var, a: f32, b: f32) -> Result<Var> {
    let y = binary_t("leaky_mask", x.value(), z.value(), Binary::LeakyMask, a, b)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "leaky_mask", &[x, z], move |g, needs| {
        let gz = if needs[1] {
            Some(leaky_mask(&xs, g, a, b)?)
        } else {
            None
        };
        Ok(vec![None, gz])
    }))
}

/// `a*x + b*z`.
pub fn axpby(x: &Var, z: &Var, a: f32, b: f32) -> Result<Var> {
    let y = binary_t("axpby", x.value(), z.value(), Binary::Axpby, a, b)?;
    Ok(Var::from_op(y, "axpby", &[x, z], move |g, needs| {
        let gx = if needs[0] { Some(scaled(g, a)?) } else { None };
        let gz = if needs[1] { Some(scaled(g, b)?) } else { None };
        Ok(vec![gx, gz])
    }))
}

pub fn add(x: &Var, z: &Var) -> Result<Var> {
    axpby(x, z, 1.0, 1.0)
}

pub fn sub(x: &Var, z: &Var) -> Result<Var> {
    axpby(x, z, 1.0, -1.0)
}

/// `x + t*(z - x)`.
pub fn lerp(x: &Var, z: &Var, t: f32) -> Result<Var> {
    axpby(x, z, 1.0 - t, t)
}

/// `a*x*z`.
pub fn mul_scaled(x: &Var, z: &Var, a: f32) -> Result<Var> {
    let y = binary_t("mul", x.value(), z.value(), Binary::Mul, a, 0.0)?;
    let (xs, zs) = (x.clone(), z.clone());
    Ok(Var::from_op(y, "mul", &[x, z], move |g, needs| {
        let gx = if needs[0] {
            Some(mul_scaled(g, &zs, a)?)
        } else {
            None
        };
        let gz = if needs[1] {
            Some(mul_scaled(g, &xs, a)?)
        } else {
            None
        };
        Ok(vec![gx, gz])
    }))
}

pub fn mul(x: &Var, z: &Var) -> Result<Var> {
    mul_scaled(x, z, 1.0)
}

/// Most tensors `add_n` adds in one dispatch.
pub const ADD_N_MAX: usize = 4;

/// `((x0 + x1) + x2) + x3`: two to four tensors of one shape added left to right in one
/// dispatch, rounding exactly as adding them one at a time with `add` does. The backward rule
/// passes the gradient on to each input unchanged.
pub fn add_n(xs: &[&Var]) -> Result<Var> {
    let op = "add_n";
    if !(2..=ADD_N_MAX).contains(&xs.len()) {
        return shape_err(
            op,
            format!("adds 2 to {ADD_N_MAX} tensors, {} given", xs.len()),
        );
    }
    let shape = xs[0].shape();
    if let Some(bad) = xs.iter().find(|x| x.shape() != shape) {
        return shape_err(
            op,
            format!("operands differ: {shape:?} vs {:?}", bad.shape()),
        );
    }
    let x0 = xs[0].value();
    let y = Tensor::empty(x0.gpu(), shape)?;
    let n = y.numel();
    let (kernel, per) = if n.is_multiple_of(4) {
        (SUM4.get()?, 4)
    } else {
        (SUM.get()?, 1)
    };
    let p = SumParams {
        n: u32p(n / per),
        k: u32p(xs.len()),
    };
    let mut bufs: Vec<&Tensor> = xs.iter().map(|x| x.value()).collect();
    bufs.resize(ADD_N_MAX, x0);
    bufs.push(&y);
    x0.gpu().dispatch(kernel, &bufs, &p, groups(n / per))?;
    Ok(Var::from_op(y, op, xs, move |g, needs| {
        Ok(needs.iter().map(|&nd| nd.then(|| g.clone())).collect())
    }))
}
