//! Pixel norm `x * rsqrt(mean over channels of x^2 + 1e-8)` (the mapping network's input
//! normalization; also usable per pixel of `[N, C, H, W]`). Fused forward, composed backward.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::adain::NORM_EPS;
use crate::ops::elementwise::{affine, axpby, groups, mul, rsqrt, square};
use crate::ops::reduce::{broadcast_to, sum_to};
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/pixel_norm/pixel_norm.wgsl`.
    pub struct PixelNormParams { pixels: u32, c: u32, hw: u32, eps: f32 }
}

kernel!(
    PIXEL_NORM,
    "pixel_norm/pixel_norm.wgsl",
    "main",
    PixelNormParams,
    [Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![PIXEL_NORM])
}

/// `x * rsqrt(mean_c(x^2) + 1e-8)` over dim 1 of `x: [N, C]` or `[N, C, H, W]`.
pub fn pixel_norm(x: &Var) -> Result<Var> {
    let xs = x.shape().to_vec();
    if (xs.len() != 2 && xs.len() != 4) || xs.contains(&0) {
        return shape_err(
            "pixel_norm",
            format!("x must be a non-empty [N, C] or [N, C, H, W], got {xs:?}"),
        );
    }
    let c = xs[1];
    let hw: usize = xs[2..].iter().product();
    let pixels = xs[0] * hw;
    let y = Tensor::empty(x.value().gpu(), &xs)?;
    let p = PixelNormParams {
        pixels: u32p(pixels),
        c: u32p(c),
        hw: u32p(hw),
        eps: NORM_EPS,
    };
    x.value()
        .gpu()
        .dispatch(&PIXEL_NORM, &[x.value(), &y], &p, groups(pixels))?;
    let xc = x.clone();
    Ok(Var::from_op(y, "pixel_norm", &[x], move |g, _| {
        // With r = rsqrt(mean_c(x^2) + eps) and y = x*r: dx = r * (g - y * mean_c(g*y)).
        let mut red = xs.clone();
        red[1] = 1;
        let inv_c = 1.0 / c as f32;
        let ms = sum_to(&square(&xc)?, &red, inv_c)?;
        let r = broadcast_to(&rsqrt(&affine(&ms, 1.0, NORM_EPS)?)?, &xs)?;
        let y = mul(&xc, &r)?;
        let m = broadcast_to(&sum_to(&mul(g, &y)?, &red, inv_c)?, &xs)?;
        Ok(vec![Some(mul(&r, &axpby(g, &mul(&y, &m)?, 1.0, -1.0)?)?)])
    }))
}
