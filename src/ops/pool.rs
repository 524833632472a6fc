//! Pooling for the feature networks of the metrics (Inception-v3 for FID as pytorch-fid ports
//! it; VGG16 for LPIPS): `max_pool2d` and `avg_pool2d` like `torch.nn.functional`'s (square
//! window `k`, stride `s`, `pad` pixels on every side, floor output size
//! `(H + 2*pad - k) / s + 1`), and the global average pool `[N,C,H,W] -> [N,C,1,1]`.
//!
//! Average pooling is linear: its backward is the adjoint kernel, whose own backward is average
//! pooling again, so it differentiates any number of times. Max pooling records the argmax of
//! each window; its backward routes each output gradient to that input pixel (a gather per
//! input pixel, no atomics), and the adjoint of that routing (reading each window's argmax) is
//! its backward in turn, so with the argmax held fixed it also differentiates twice (the exact
//! second derivative of max pooling, which is zero almost everywhere, plus the routing).

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::ops::reduce::sum_to;
use crate::ops::MAX_LOOP;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/pool/max_pool.wgsl`, `max_pool_grad.wgsl` and `avg_pool.wgsl`:
    /// `n` invocations, input `h` x `w`, output `ho` x `wo`, window `k`, stride `s`, padding `pad`,
    /// and whether average pooling divides by the whole window (`include_pad`).
    pub struct PoolParams {
        n: u32, h: u32, w: u32, ho: u32, wo: u32, k: u32, s: u32, pad: u32, include_pad: u32,
    }
}

kernel!(
    MAX_POOL,
    "pool/max_pool.wgsl",
    "main",
    PoolParams,
    [Read, ReadWrite, ReadWrite]
);
kernel!(
    MAX_POOL_SCATTER,
    "pool/max_pool_grad.wgsl",
    "scatter",
    PoolParams,
    [Read, Read, ReadWrite]
);
kernel!(
    MAX_POOL_GATHER,
    "pool/max_pool_grad.wgsl",
    "gather",
    PoolParams,
    [Read, Read, ReadWrite]
);
kernel!(
    AVG_POOL,
    "pool/avg_pool.wgsl",
    "main",
    PoolParams,
    [Read, ReadWrite]
);
kernel!(
    AVG_POOL_ADJOINT,
    "pool/avg_pool.wgsl",
    "adjoint",
    PoolParams,
    [Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![
        MAX_POOL,
        MAX_POOL_SCATTER,
        MAX_POOL_GATHER,
        AVG_POOL,
        AVG_POOL_ADJOINT,
    ])
}

/// A pooling's geometry: input and output planes, window, stride, padding.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    k: usize,
    s: usize,
    pad: usize,
}

impl Geom {
    fn input(&self) -> [usize; 4] {
        [self.n, self.c, self.h, self.w]
    }

    fn output(&self) -> [usize; 4] {
        [self.n, self.c, self.ho, self.wo]
    }

    fn params(&self, invocations: usize, include_pad: bool) -> PoolParams {
        PoolParams {
            n: u32p(invocations),
            h: u32p(self.h),
            w: u32p(self.w),
            ho: u32p(self.ho),
            wo: u32p(self.wo),
            k: u32p(self.k),
            s: u32p(self.s),
            pad: u32p(self.pad),
            include_pad: include_pad as u32,
        }
    }
}

/// Checks an NCHW input and PyTorch's pooling constraints, and gives the output size.
fn geometry(op: &'static str, shape: &[usize], k: usize, s: usize, pad: usize) -> Result<Geom> {
    let &[n, c, h, w] = shape else {
        return shape_err(
            op,
            format!("expects an NCHW tensor [N, C, H, W], got {shape:?}"),
        );
    };
    if k == 0 || s == 0 {
        return shape_err(
            op,
            format!("kernel size and stride must be positive, got k={k} stride={s}"),
        );
    }
    if k * k > MAX_LOOP {
        return shape_err(
            op,
            format!(
                "kernel size {k} is too large (at most {} x {} per window)",
                MAX_LOOP.isqrt(),
                MAX_LOOP.isqrt()
            ),
        );
    }
    if pad > k / 2 {
        return shape_err(
            op,
            format!("padding should be at most half of the kernel size, got pad={pad} k={k}"),
        );
    }
    if h + 2 * pad < k || w + 2 * pad < k {
        return shape_err(
            op,
            format!("input {shape:?} with padding {pad} is smaller than the {k}x{k} window"),
        );
    }
    let (ho, wo) = ((h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1);
    // The argmax index and the kernels' u32 arithmetic.
    if n * c * h.max(ho) * w.max(wo) >= u32::MAX as usize {
        return shape_err(op, format!("input {shape:?} is too large"));
    }
    Ok(Geom {
        n,
        c,
        h,
        w,
        ho,
        wo,
        k,
        s,
        pad,
    })
}

/// Max pooling (see [`max_pool2d`]): the pooled values and the argmax of each window (its
/// index `y * W + x` within the input plane, stored as `u32` bits in an f32 tensor).
fn max_pool2d_raw(x: &Tensor, g: Geom) -> Result<(Tensor, Tensor)> {
    let y = Tensor::empty(x.gpu(), &g.output())?;
    let idx = Tensor::empty(x.gpu(), &g.output())?;
    let count = y.numel();
    if count > 0 {
        let p = g.params(count, false);
        x.gpu()
            .dispatch(&MAX_POOL, &[x, &y, &idx], &p, groups(count))?;
    }
    Ok((y, idx))
}

/// Max pooling of a tensor, like `F.max_pool2d(x, k, stride, pad)` (see [`max_pool2d`]).
pub fn max_pool2d_t(x: &Tensor, k: usize, stride: usize, pad: usize) -> Result<Tensor> {
    let g = geometry("max_pool2d", x.shape(), k, stride, pad)?;
    Ok(max_pool2d_raw(x, g)?.0)
}

/// Routes output-shaped `gy` to the argmax pixels: input-shaped result.
fn max_scatter(gy: &Var, idx: Tensor, g: Geom) -> Result<Var> {
    let t = gy.value();
    let y = Tensor::empty(t.gpu(), &g.input())?;
    let count = y.numel();
    if count > 0 {
        let p = g.params(count, false);
        t.gpu()
            .dispatch(&MAX_POOL_SCATTER, &[t, &idx, &y], &p, groups(count))?;
    }
    Ok(Var::from_op(
        y,
        "max_pool2d_backward",
        &[gy],
        move |gg, _| Ok(vec![Some(max_gather(gg, idx.clone(), g)?)]),
    ))
}

/// Reads input-shaped `x` at the argmax pixels: output-shaped result (`max_scatter`'s adjoint).
fn max_gather(x: &Var, idx: Tensor, g: Geom) -> Result<Var> {
    let t = x.value();
    let y = Tensor::empty(t.gpu(), &g.output())?;
    let count = y.numel();
    if count > 0 {
        let p = g.params(count, false);
        t.gpu()
            .dispatch(&MAX_POOL_GATHER, &[t, &idx, &y], &p, groups(count))?;
    }
    Ok(Var::from_op(y, "max_pool2d_gather", &[x], move |gy, _| {
        Ok(vec![Some(max_scatter(gy, idx.clone(), g)?)])
    }))
}

/// Max pooling like `torch.nn.functional.max_pool2d(x, k, stride, pad)` (ceil_mode False,
/// dilation 1): `[N,C,H,W] -> [N,C,(H+2*pad-k)/stride+1,(W+2*pad-k)/stride+1]`, padding -inf,
/// `pad <= k/2`. Inception-v3 uses `(3, 2, 0)` and `(3, 1, 1)`, VGG16 `(2, 2, 0)`.
///
/// Backward: each output's gradient goes to the argmax of its window (ties: the first pixel in
/// row-major window order; a NaN wins, the last NaN among several), as in PyTorch. The backward
/// is itself differentiable: its derivative reads the upstream gradient at the same argmax
/// pixels (the argmax is held fixed, which is exact wherever the maximum is unique).
pub fn max_pool2d(x: &Var, k: usize, stride: usize, pad: usize) -> Result<Var> {
    let g = geometry("max_pool2d", x.shape(), k, stride, pad)?;
    let (y, idx) = max_pool2d_raw(x.value(), g)?;
    Ok(Var::from_op(y, "max_pool2d", &[x], move |gy, _| {
        Ok(vec![Some(max_scatter(gy, idx.clone(), g)?)])
    }))
}

fn avg_pool_run(x: &Tensor, g: Geom, include_pad: bool, adjoint: bool) -> Result<Tensor> {
    let (shape, kernel) = if adjoint {
        (g.input(), &AVG_POOL_ADJOINT)
    } else {
        (g.output(), &AVG_POOL)
    };
    let y = Tensor::empty(x.gpu(), &shape)?;
    let count = y.numel();
    if count > 0 {
        let p = g.params(count, include_pad);
        x.gpu().dispatch(kernel, &[x, &y], &p, groups(count))?;
    }
    Ok(y)
}

/// Average pooling of a tensor, like `F.avg_pool2d` (see [`avg_pool2d`]).
pub fn avg_pool2d_t(
    x: &Tensor,
    k: usize,
    stride: usize,
    pad: usize,
    count_include_pad: bool,
) -> Result<Tensor> {
    let g = geometry("avg_pool2d", x.shape(), k, stride, pad)?;
    avg_pool_run(x, g, count_include_pad, false)
}

fn avg_pool_op(x: &Var, g: Geom, include_pad: bool, adjoint: bool) -> Result<Var> {
    let y = avg_pool_run(x.value(), g, include_pad, adjoint)?;
    let name = if adjoint {
        "avg_pool2d_backward"
    } else {
        "avg_pool2d"
    };
    Ok(Var::from_op(y, name, &[x], move |gy, _| {
        Ok(vec![Some(avg_pool_op(gy, g, include_pad, !adjoint)?)])
    }))
}

/// Average pooling like `torch.nn.functional.avg_pool2d(x, k, stride, pad, ceil_mode=False,
/// count_include_pad)`: zero padding, `pad <= k/2`, output as for [`max_pool2d`]. Each window
/// is divided by `k*k` when `count_include_pad`, else by the number of input pixels in it
/// (pytorch-fid's Inception blocks use `(3, 1, 1, false)`, torchvision's `true`).
/// Linear; its backward (the adjoint) differentiates again, any number of times.
pub fn avg_pool2d(
    x: &Var,
    k: usize,
    stride: usize,
    pad: usize,
    count_include_pad: bool,
) -> Result<Var> {
    let g = geometry("avg_pool2d", x.shape(), k, stride, pad)?;
    avg_pool_op(x, g, count_include_pad, false)
}

/// Global average pooling `[N,C,H,W] -> [N,C,1,1]` (`F.adaptive_avg_pool2d(x, 1)`), a scaled
/// `sum_to`, differentiable any number of times.
pub fn global_avg_pool2d(x: &Var) -> Result<Var> {
    let &[n, c, h, w] = x.shape() else {
        return shape_err(
            "global_avg_pool2d",
            format!("expects an NCHW tensor [N, C, H, W], got {:?}", x.shape()),
        );
    };
    if h * w == 0 {
        return shape_err(
            "global_avg_pool2d",
            format!("needs a non-empty plane, got {:?}", x.shape()),
        );
    }
    sum_to(x, &[n, c, 1, 1], 1.0 / (h * w) as f32)
}
