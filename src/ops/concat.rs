//! Channel concatenation and slicing (`[N, C, ...]`, any trailing dims including none, so
//! `[N, C]` works too). One copy kernel moves a channel range between buffers; concat is two
//! copies, slice one, and `pad_channels` (slice's adjoint) one copy into zeros. The three ops
//! are each other's backward: concat <- two slices, slice <- pad, pad <- slice.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::groups;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/concat/concat.wgsl`.
    pub struct CopyChannelsParams {
        n: u32, hw: u32, len: u32, c_src: u32, src_start: u32, c_dst: u32, dst_start: u32,
    }
}

kernel!(
    COPY_CHANNELS,
    "concat/concat.wgsl",
    "main",
    CopyChannelsParams,
    [Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![COPY_CHANNELS])
}

/// `(N, C, elements per channel)` of a tensor of rank >= 2.
fn split(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if shape.len() < 2 {
        return shape_err(
            op,
            format!("expects a tensor [N, C, ...] of rank >= 2, got {shape:?}"),
        );
    }
    Ok((shape[0], shape[1], shape[2..].iter().product()))
}

/// Copies channels `[src_start, src_start+len)` of `src` into `dst` from channel `dst_start`.
fn copy_channels(
    src: &Tensor,
    src_start: usize,
    dst: &Tensor,
    dst_start: usize,
    len: usize,
) -> Result<()> {
    let (n, c_src, hw) = split("copy_channels", src.shape())?;
    let (_, c_dst, _) = split("copy_channels", dst.shape())?;
    let count = n * len * hw;
    if count == 0 {
        return Ok(());
    }
    let u = u32p;
    let p = CopyChannelsParams {
        n: u(count),
        hw: u(hw),
        len: u(len),
        c_src: u(c_src),
        src_start: u(src_start),
        c_dst: u(c_dst),
        dst_start: u(dst_start),
    };
    src.gpu()
        .dispatch(&COPY_CHANNELS, &[src, dst], &p, groups(count))
}

fn with_channels(shape: &[usize], c: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s[1] = c;
    s
}

pub fn concat_channels_t(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (_, ca, _) = split("concat_channels", a.shape())?;
    let (_, cb, _) = split("concat_channels", b.shape())?;
    if with_channels(a.shape(), 0) != with_channels(b.shape(), 0) {
        return shape_err(
            "concat_channels",
            format!(
                "{:?} and {:?} differ in a dim other than the channels (dim 1)",
                a.shape(),
                b.shape()
            ),
        );
    }
    let y = Tensor::empty(a.gpu(), &with_channels(a.shape(), ca + cb))?;
    copy_channels(a, 0, &y, 0, ca)?;
    copy_channels(b, 0, &y, ca, cb)?;
    Ok(y)
}

pub fn slice_channels_t(x: &Tensor, start: usize, len: usize) -> Result<Tensor> {
    let (_, c, _) = split("slice_channels", x.shape())?;
    if start.checked_add(len).is_none_or(|end| end > c) {
        return shape_err(
            "slice_channels",
            format!(
                "channels {start}..{start}+{len} out of range for {:?}",
                x.shape()
            ),
        );
    }
    let y = Tensor::empty(x.gpu(), &with_channels(x.shape(), len))?;
    copy_channels(x, start, &y, 0, len)?;
    Ok(y)
}

pub fn pad_channels_t(x: &Tensor, start: usize, total: usize) -> Result<Tensor> {
    let (_, c, _) = split("pad_channels", x.shape())?;
    if start.checked_add(c).is_none_or(|end| end > total) {
        return shape_err(
            "pad_channels",
            format!(
                "{:?} placed at channel {start} does not fit in {total} channels",
                x.shape()
            ),
        );
    }
    let y = Tensor::zeros(x.gpu(), &with_channels(x.shape(), total))?;
    copy_channels(x, 0, &y, start, c)?;
    Ok(y)
}

/// `[N,Ca,...] ++ [N,Cb,...] -> [N,Ca+Cb,...]` along dim 1.
pub fn concat_channels(a: &Var, b: &Var) -> Result<Var> {
    let y = concat_channels_t(a.value(), b.value())?;
    let (ca, cb) = (a.shape()[1], b.shape()[1]);
    Ok(Var::from_op(
        y,
        "concat_channels",
        &[a, b],
        move |g, needs| {
            let ga = if needs[0] {
                Some(slice_channels(g, 0, ca)?)
            } else {
                None
            };
            let gb = if needs[1] {
                Some(slice_channels(g, ca, cb)?)
            } else {
                None
            };
            Ok(vec![ga, gb])
        },
    ))
}

/// Channels `start..start+len` of `x` (dim 1).
pub fn slice_channels(x: &Var, start: usize, len: usize) -> Result<Var> {
    let y = slice_channels_t(x.value(), start, len)?;
    let total = x.shape()[1];
    Ok(Var::from_op(y, "slice_channels", &[x], move |g, _| {
        Ok(vec![Some(pad_channels(g, start, total)?)])
    }))
}

/// `x` placed at channels `start..start+C` of a zero tensor with `total` channels.
pub fn pad_channels(x: &Var, start: usize, total: usize) -> Result<Var> {
    let y = pad_channels_t(x.value(), start, total)?;
    let c = x.shape()[1];
    Ok(Var::from_op(y, "pad_channels", &[x], move |g, _| {
        Ok(vec![Some(slice_channels(g, start, c)?)])
    }))
}
