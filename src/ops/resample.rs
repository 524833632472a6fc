//! Resampling and low-pass filtering for the progressive generator/discriminator:
//! nearest x2 upsampling, 2x2 block-sum downsampling (each times a gain; the box average is
//! gain 0.25) and a depthwise 3x3 filter (the StyleGAN blur `[1,2,1] x [1,2,1] / 16`).
//!
//! `upsample2(., gain)` and `downsample2(., gain)` are adjoints of each other, and a depthwise
//! correlation's adjoint is the correlation with the 180-degree-rotated filter, so every
//! backward here is another call of the same ops and differentiates again for free.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::kernel_params;
use crate::ops::elementwise::groups;
use crate::ops::rendered::rendered_kernel;
use crate::tape::Var;

kernel_params! {
    /// Parameters of `shaders/resample/resample.wgsl`: `n` outputs, the low-resolution `h` x `w`.
    pub struct ResampleParams { n: u32, h: u32, w: u32, gain: f32 }
}

kernel_params! {
    /// Parameters of `shaders/resample/blur.wgsl`: the 9 taps row-major, read rotated when `flip`.
    pub struct BlurParams {
        n: u32, h: u32, w: u32, flip: u32,
        t0: f32, t1: f32, t2: f32, t3: f32, t4: f32, t5: f32, t6: f32, t7: f32, t8: f32,
    }
}

kernel_params! {
    /// Parameters of the vec4 form of `shaders/resample/blur.wgsl` (`n4` vec4s, rows of `w4`
    /// vec4s; taps pre-rotated).
    pub struct Blur4Params {
        n4: u32, h: u32, w4: u32,
        t0: f32, t1: f32, t2: f32, t3: f32, t4: f32, t5: f32, t6: f32, t7: f32, t8: f32,
    }
}

kernel_params! {
    /// Parameters of the vec4 form of `shaders/resample/resample.wgsl`: `n4` low-resolution
    /// vec4s, rows of `w4` of them.
    pub struct Resample4Params { n4: u32, w4: u32, gain: f32 }
}

rendered_kernel!(
    UPSAMPLE2,
    "resample/resample.wgsl",
    "scalar",
    "up",
    ResampleParams,
    [Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    DOWNSAMPLE2,
    "resample/resample.wgsl",
    "scalar",
    "down",
    ResampleParams,
    [Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    UPSAMPLE2_4,
    "resample/resample.wgsl",
    "vec4",
    "up",
    Resample4Params,
    [Read, ReadWrite],
    { VEC4 => true, }
);
rendered_kernel!(
    DOWNSAMPLE2_4,
    "resample/resample.wgsl",
    "vec4",
    "down",
    Resample4Params,
    [Read, ReadWrite],
    { VEC4 => true, }
);
rendered_kernel!(
    DEPTHWISE3X3,
    "resample/blur.wgsl",
    "scalar",
    "main",
    BlurParams,
    [Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    DEPTHWISE3X3_4,
    "resample/blur.wgsl",
    "vec4",
    "main",
    Blur4Params,
    [Read, ReadWrite],
    { VEC4 => true, }
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![
        UPSAMPLE2.get()?.clone(),
        DOWNSAMPLE2.get()?.clone(),
        UPSAMPLE2_4.get()?.clone(),
        DOWNSAMPLE2_4.get()?.clone(),
        DEPTHWISE3X3.get()?.clone(),
        DEPTHWISE3X3_4.get()?.clone(),
    ])
}

/// The official StyleGAN blur filter, `[1,2,1] x [1,2,1] / 16`, row-major.
pub const BLUR_TAPS: [f32; 9] = [
    1.0 / 16.0,
    2.0 / 16.0,
    1.0 / 16.0,
    2.0 / 16.0,
    4.0 / 16.0,
    2.0 / 16.0,
    1.0 / 16.0,
    2.0 / 16.0,
    1.0 / 16.0,
];

fn nchw(op: &'static str, shape: &[usize]) -> Result<[usize; 4]> {
    match shape {
        &[n, c, h, w] => Ok([n, c, h, w]),
        _ => shape_err(
            op,
            format!("expects an NCHW tensor [N, C, H, W], got {shape:?}"),
        ),
    }
}

/// `[N,C,H,W] -> [N,C,2H,2W]`, each pixel repeated 2x2 times `gain`.
pub fn upsample2_t(x: &Tensor, gain: f32) -> Result<Tensor> {
    let [n, c, h, w] = nchw("upsample2", x.shape())?;
    let y = Tensor::empty(x.gpu(), &[n, c, 2 * h, 2 * w])?;
    let count = y.numel();
    if count == 0 {
        return Ok(y);
    }
    if w.is_multiple_of(4) {
        resample4(&UPSAMPLE2_4, x, &y, x.numel(), w, gain)?;
        return Ok(y);
    }
    let p = ResampleParams {
        n: u32p(count),
        h: u32p(h),
        w: u32p(w),
        gain,
    };
    x.gpu()
        .dispatch(UPSAMPLE2.get()?, &[x, &y], &p, groups(count))?;
    Ok(y)
}

/// The vec4 form of `up` or `down` (`kernel`) over `low` low-resolution values in rows of
/// `w` (a multiple of 4).
fn resample4(
    kernel: &crate::ops::rendered::LazyKernel,
    x: &Tensor,
    y: &Tensor,
    low: usize,
    w: usize,
    gain: f32,
) -> Result<()> {
    let p = Resample4Params {
        n4: u32p(low / 4),
        w4: u32p(w / 4),
        gain,
    };
    x.gpu()
        .dispatch(kernel.get()?, &[x, y], &p, groups(low / 4))
}

/// `[N,C,H,W] -> [N,C,H/2,W/2]`, `gain` times the sum of each 2x2 block (H, W even).
pub fn downsample2_t(x: &Tensor, gain: f32) -> Result<Tensor> {
    let [n, c, h, w] = nchw("downsample2", x.shape())?;
    if h % 2 != 0 || w % 2 != 0 {
        return shape_err(
            "downsample2",
            format!("H and W must be even, got {:?}", x.shape()),
        );
    }
    let y = Tensor::empty(x.gpu(), &[n, c, h / 2, w / 2])?;
    let count = y.numel();
    if count == 0 {
        return Ok(y);
    }
    if (w / 2).is_multiple_of(4) {
        resample4(&DOWNSAMPLE2_4, x, &y, count, w / 2, gain)?;
        return Ok(y);
    }
    let p = ResampleParams {
        n: u32p(count),
        h: u32p(h / 2),
        w: u32p(w / 2),
        gain,
    };
    x.gpu()
        .dispatch(DOWNSAMPLE2.get()?, &[x, &y], &p, groups(count))?;
    Ok(y)
}

/// Depthwise 3x3 correlation of every channel with `taps` (row-major), zero padding "same";
/// with `flip` the filter is rotated by 180 degrees (the adjoint).
pub fn depthwise3x3_t(x: &Tensor, taps: &[f32; 9], flip: bool) -> Result<Tensor> {
    let [_, _, h, w] = nchw("depthwise3x3", x.shape())?;
    let y = Tensor::empty(x.gpu(), x.shape())?;
    let count = y.numel();
    if count == 0 {
        return Ok(y);
    }
    if w.is_multiple_of(4) {
        // Four pixels of a row per invocation (vec4 loads; the blurs of a 128² generation take
        // 0.16 s against the scalar kernel's 0.38 s on lavapipe, see
        // `benches/results/2026-12-03-lavapipe-planner-before-after`); the rotation is done here.
        let t = |i: usize| taps[if flip { 8 - i } else { i }];
        let p = Blur4Params {
            n4: u32p(count / 4),
            h: u32p(h),
            w4: u32p(w / 4),
            t0: t(0),
            t1: t(1),
            t2: t(2),
            t3: t(3),
            t4: t(4),
            t5: t(5),
            t6: t(6),
            t7: t(7),
            t8: t(8),
        };
        x.gpu()
            .dispatch(DEPTHWISE3X3_4.get()?, &[x, &y], &p, groups(count / 4))?;
        return Ok(y);
    }
    let [t0, t1, t2, t3, t4, t5, t6, t7, t8] = *taps;
    let p = BlurParams {
        n: u32p(count),
        h: u32p(h),
        w: u32p(w),
        flip: flip as u32,
        t0,
        t1,
        t2,
        t3,
        t4,
        t5,
        t6,
        t7,
        t8,
    };
    x.gpu()
        .dispatch(DEPTHWISE3X3.get()?, &[x, &y], &p, groups(count))?;
    Ok(y)
}

/// Nearest-neighbour x2 upsampling times `gain`: `[N,C,H,W] -> [N,C,2H,2W]`.
pub fn upsample2(x: &Var, gain: f32) -> Result<Var> {
    let y = upsample2_t(x.value(), gain)?;
    Ok(Var::from_op(y, "upsample2", &[x], move |g, _| {
        Ok(vec![Some(downsample2(g, gain)?)])
    }))
}

/// `gain` times the sum of each 2x2 block: `[N,C,H,W] -> [N,C,H/2,W/2]` (H, W even).
/// The 2x2 box average is `downsample2(x, 0.25)`.
pub fn downsample2(x: &Var, gain: f32) -> Result<Var> {
    let y = downsample2_t(x.value(), gain)?;
    Ok(Var::from_op(y, "downsample2", &[x], move |g, _| {
        Ok(vec![Some(upsample2(g, gain)?)])
    }))
}

fn depthwise3x3_flip(x: &Var, taps: [f32; 9], flip: bool) -> Result<Var> {
    let y = depthwise3x3_t(x.value(), &taps, flip)?;
    Ok(Var::from_op(y, "depthwise3x3", &[x], move |g, _| {
        Ok(vec![Some(depthwise3x3_flip(g, taps, !flip)?)])
    }))
}

/// Depthwise 3x3 correlation, the same filter `taps` (row-major, `taps[3*dy + dx]` weighs
/// `x[h+dy-1, w+dx-1]`) for every channel, zero padding, output the size of the input.
pub fn depthwise3x3(x: &Var, taps: [f32; 9]) -> Result<Var> {
    depthwise3x3_flip(x, taps, false)
}

/// The StyleGAN blur: `depthwise3x3(x, BLUR_TAPS)`.
pub fn blur(x: &Var) -> Result<Var> {
    depthwise3x3(x, BLUR_TAPS)
}
