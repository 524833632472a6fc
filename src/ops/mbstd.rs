//! Minibatch standard deviation (the discriminator's 4x4 head): per group of images, the
//! biased standard deviation over the group of every feature, averaged to one value per group
//! and appended as an extra last channel. Two kernels (group statistics with a workgroup
//! reduction, then the output copy); the backward rule is composed of differentiable ops.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::adain::NORM_EPS;
use crate::ops::concat::slice_channels;
use crate::ops::elementwise::{add, affine, groups, mul, mul_scaled, rsqrt, square, sub};
use crate::ops::reduce::{broadcast_to, reshape, sum_to};
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/mbstd/mbstd.wgsl`.
    pub struct MbstdParams { n: u32, g: u32, m: u32, c: u32, hw: u32, eps: f32 }
}

kernel!(
    MBSTD_STATS,
    "mbstd/mbstd.wgsl",
    "stats",
    MbstdParams,
    [Read, ReadWrite, ReadWrite]
);
kernel!(
    MBSTD_WRITE,
    "mbstd/mbstd.wgsl",
    "write_out",
    MbstdParams,
    [Read, ReadWrite, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![MBSTD_STATS, MBSTD_WRITE])
}

/// `[N, C, H, W] -> [N, C+1, H, W]`: with `G = min(group_size, N)` and `M = N/G`, images
/// `m, m+M, m+2M, ...` form group `m`; channel `C` of every image in group `m` is the mean over
/// `(c, h, w)` of `sqrt(var over the group + 1e-8)` (biased variance). `N` must be a multiple
/// of `G`.
pub fn minibatch_stddev(x: &Var, group_size: usize) -> Result<Var> {
    let op = "minibatch_stddev";
    let [n, c, h, w] = *x.shape() else {
        return shape_err(op, format!("x must be [N, C, H, W], got {:?}", x.shape()));
    };
    if n == 0 || c * h * w == 0 || group_size == 0 {
        return shape_err(
            op,
            format!(
                "x {:?} and group size {group_size} must be non-empty",
                x.shape()
            ),
        );
    }
    let g = group_size.min(n);
    if n % g != 0 {
        return shape_err(
            op,
            format!(
                "batch {n} of x {:?} is not a multiple of the group size {g}",
                x.shape()
            ),
        );
    }
    let m = n / g;
    let hw = h * w;
    let gpu = x.value().gpu();
    let stat = Tensor::empty(gpu, &[m])?;
    let out_shape = [n, c + 1, h, w];
    let y = Tensor::empty(gpu, &out_shape)?;
    let total = n * (c + 1) * hw;
    let p = MbstdParams {
        n: u32p(total),
        g: u32p(g),
        m: u32p(m),
        c: u32p(c),
        hw: u32p(hw),
        eps: NORM_EPS,
    };
    gpu.dispatch(&MBSTD_STATS, &[x.value(), &stat, &y], &p, u32p(m))?;
    gpu.dispatch(&MBSTD_WRITE, &[x.value(), &stat, &y], &p, groups(total))?;

    let xc = x.clone();
    Ok(Var::from_op(y, op, &[x], move |gy, _| {
        let chw = c * hw;
        let g5 = [g, m, c, h, w];
        let s5 = [1, m, c, h, w];
        // Gradient reaching each group's statistic: the sum over its images and pixels of the
        // last channel.
        let gs = sum_to(
            &reshape(&slice_channels(gy, c, 1)?, &[g, m, 1, h, w])?,
            &[1, m, 1, 1, 1],
            1.0,
        )?;
        // stat = mean_chw sqrt(var + eps), var = mean_g (x - mu)^2, so
        // dx = gs / chw * 0.5 / sqrt(var + eps) * 2/g * (x - mu).
        let x5 = reshape(&xc, &g5)?;
        let mu = broadcast_to(&sum_to(&x5, &s5, 1.0 / g as f32)?, &g5)?;
        let centered = sub(&x5, &mu)?;
        let var = sum_to(&square(&centered)?, &s5, 1.0 / g as f32)?;
        let coef = mul(
            &broadcast_to(&gs, &s5)?,
            &rsqrt(&affine(&var, 1.0, NORM_EPS)?)?,
        )?;
        let dstat = mul_scaled(
            &broadcast_to(&coef, &g5)?,
            &centered,
            1.0 / (chw * g) as f32,
        )?;
        let dx = add(&slice_channels(gy, 0, c)?, &reshape(&dstat, &[n, c, h, w])?)?;
        Ok(vec![Some(dx)])
    }))
}
