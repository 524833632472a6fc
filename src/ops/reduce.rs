//! Broadcast (tile) and summing reductions, the adjoint pair every broadcasting op is built
//! from: the gradient of `broadcast_to` is `sum_to` and vice versa. Also `sum`, `mean` and the
//! per-sample sum of squares that the R1 penalty uses. Rank up to 6.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::{Gpu, Tensor, SEQ_WG, WG};
use crate::ops::elementwise::{groups, mul_scaled, unary_t, Unary};
use crate::ops::rendered::rendered_kernel;
use crate::ops::MAX_LOOP;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/reduce/broadcast.wgsl`: output sizes `d*`, source strides `s*`.
    pub struct BroadcastParams {
        n: u32, d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
        s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32,
    }
}

kernel_params! {
    /// Parameters of the vec4 form of `shaders/reduce/broadcast.wgsl` (`n4` vec4s, last dim
    /// `d54` vec4s).
    pub struct Broadcast4Params {
        n4: u32, d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d54: u32,
        s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, vec_src: u32,
    }
}

kernel_params! {
    /// Parameters of `shaders/reduce/reduce.wgsl`: kept dims `k*` (input strides `ks*`),
    /// reduced dims `r*` (input strides `rs*`).
    pub struct ReduceParams {
        n: u32, count: u32, alpha: f32,
        k0: u32, k1: u32, k2: u32, k3: u32, k4: u32, k5: u32,
        ks0: u32, ks1: u32, ks2: u32, ks3: u32, ks4: u32, ks5: u32,
        r0: u32, r1: u32, r2: u32, r3: u32, r4: u32, r5: u32,
        rs0: u32, rs1: u32, rs2: u32, rs3: u32, rs4: u32, rs5: u32,
        chunk: u32, parts: u32,
    }
}

kernel_params! {
    /// Parameters of `shaders/reduce/rows.wgsl`.
    pub struct RowsParams { rows: u32, len: u32, code: u32, alpha: f32, chunk: u32, parts: u32 }
}

rendered_kernel!(
    BROADCAST,
    "reduce/broadcast.wgsl",
    "scalar",
    "main",
    BroadcastParams,
    [Read, ReadWrite],
    { VEC4 => false, }
);
rendered_kernel!(
    BROADCAST4,
    "reduce/broadcast.wgsl",
    "vec4",
    "main",
    Broadcast4Params,
    [Read, Read, ReadWrite],
    { VEC4 => true, }
);
kernel!(
    REDUCE,
    "reduce/reduce.wgsl",
    "main",
    ReduceParams,
    [Read, ReadWrite]
);
kernel!(
    ROWS,
    "reduce/rows.wgsl",
    "main",
    RowsParams,
    [Read, ReadWrite]
);
kernel!(
    ROWS_SEQ,
    "reduce/rows.wgsl",
    "per_row",
    RowsParams,
    [Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![
        BROADCAST.get()?.clone(),
        BROADCAST4.get()?.clone(),
        REDUCE,
        ROWS,
        ROWS_SEQ,
    ])
}

const MAX_RANK: usize = 6;

fn pad6(shape: &[usize]) -> [usize; MAX_RANK] {
    let mut out = [1; MAX_RANK];
    out[MAX_RANK - shape.len()..].copy_from_slice(shape);
    out
}

fn strides(d: &[usize; MAX_RANK]) -> [usize; MAX_RANK] {
    let mut s = [0; MAX_RANK];
    let mut acc = 1;
    for k in (0..MAX_RANK).rev() {
        s[k] = acc;
        acc *= d[k];
    }
    s
}

/// Checks that `small` broadcasts to `big` (same rank, each dim 1 or equal).
fn check_broadcast(op: &'static str, small: &[usize], big: &[usize]) -> Result<()> {
    if small.len() != big.len() || big.len() > MAX_RANK {
        return shape_err(
            op,
            format!("{small:?} and {big:?} must have the same rank (at most {MAX_RANK})"),
        );
    }
    for (a, b) in small.iter().zip(big) {
        if *a != 1 && a != b {
            return shape_err(op, format!("{small:?} does not broadcast to {big:?}"));
        }
    }
    Ok(())
}

pub(crate) fn broadcast_t(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    check_broadcast("broadcast_to", x.shape(), shape)?;
    let d = pad6(shape);
    let xs = pad6(x.shape());
    let xst = strides(&xs);
    let st: Vec<usize> = (0..MAX_RANK)
        .map(|k| if xs[k] == 1 { 0 } else { xst[k] })
        .collect();
    let y = Tensor::empty(x.gpu(), shape)?;
    let n = y.numel();
    let last = MAX_RANK - 1;
    let u = u32p;
    if n > 0 && d[last].is_multiple_of(4) {
        // Four outputs along the last dim per invocation: one source element (stride 0) or a
        // vec4 of them (stride 1, and then every other stride is a multiple of d[last]). 3.6x
        // the scalar kernel's GB/s on lavapipe for [N,C,1,1] -> N4 C64 64²
        // (`benches/results/2026-12-03-lavapipe-planner-before-after`).
        let p = Broadcast4Params {
            n4: u(n / 4),
            d0: u(d[0]),
            d1: u(d[1]),
            d2: u(d[2]),
            d3: u(d[3]),
            d4: u(d[4]),
            d54: u(d[last] / 4),
            s0: u(st[0]),
            s1: u(st[1]),
            s2: u(st[2]),
            s3: u(st[3]),
            s4: u(st[4]),
            vec_src: (st[last] == 1) as u32,
        };
        x.gpu()
            .dispatch(BROADCAST4.get()?, &[x, x, &y], &p, groups(n / 4))?;
        return Ok(y);
    }
    let p = BroadcastParams {
        n: u(n),
        d0: u(d[0]),
        d1: u(d[1]),
        d2: u(d[2]),
        d3: u(d[3]),
        d4: u(d[4]),
        d5: u(d[5]),
        s0: u(st[0]),
        s1: u(st[1]),
        s2: u(st[2]),
        s3: u(st[3]),
        s4: u(st[4]),
        s5: u(st[5]),
    };
    x.gpu()
        .dispatch(BROADCAST.get()?, &[x, &y], &p, groups(n))?;
    Ok(y)
}

/// Whether `rows_t` sums rows of `len` values one invocation per row, sequentially (else one
/// workgroup per row, lane-strided then as a tree): enough rows to keep every lane busy, and
/// short enough to sum sequentially. Fused kernels that replace a row sum follow the same
/// choice so that they add in the same order.
///
/// On a CPU adapter one subgroup's worth of rows is enough: there the tree's barriers, one per
/// level and image, cost far more than idle lanes (the epilogue backward of 8 channels at 32²,
/// batch 4: 1.2 ms per call as a tree on lavapipe).
pub(crate) fn rows_sequential(gpu: &Gpu, rows: usize, len: usize) -> bool {
    let min_rows = if gpu.is_cpu() { 8 } else { 256 };
    rows >= min_rows && len <= 4096
}

/// Whether `rows_t` sums rows of `len` values in one part (one pass, no partial sums).
pub(crate) fn rows_one_part(len: usize) -> bool {
    len <= MAX_LOOP * WG as usize
}

/// Row sums of `x` viewed as `[rows, len]`, with `f = square` when `squares`. Rows longer than
/// one workgroup may loop over (`MAX_LOOP` per lane) are summed in parts, then the parts.
pub(crate) fn rows_t(
    x: &Tensor,
    rows: usize,
    out_shape: &[usize],
    squares: bool,
    alpha: f32,
) -> Result<Tensor> {
    let len = x.numel() / rows.max(1);
    let sequential = rows_sequential(x.gpu(), rows, len);
    let chunk = if sequential {
        len
    } else {
        MAX_LOOP * WG as usize
    };
    let parts = len.div_ceil(chunk.max(1)).max(1);
    let y = if parts == 1 {
        Tensor::empty(x.gpu(), out_shape)?
    } else {
        Tensor::empty(x.gpu(), &[rows, parts])?
    };
    let p = RowsParams {
        rows: u32p(rows),
        len: u32p(len),
        code: squares as u32,
        alpha,
        chunk: u32p(chunk),
        parts: u32p(parts),
    };
    if sequential {
        x.gpu().dispatch(
            &ROWS_SEQ,
            &[x, &y],
            &p,
            u32p(rows.div_ceil(SEQ_WG as usize)),
        )?;
    } else {
        x.gpu().dispatch(&ROWS, &[x, &y], &p, u32p(rows * parts))?;
    }
    if parts == 1 {
        return Ok(y);
    }
    rows_t(&y, rows, out_shape, false, 1.0)
}

pub(crate) fn sum_to_t(x: &Tensor, shape: &[usize], alpha: f32) -> Result<Tensor> {
    check_broadcast("sum_to", shape, x.shape())?;
    if shape == x.shape() {
        return unary_t(x, Unary::Affine, alpha, 0.0);
    }
    // Trailing reduced dims are contiguous: reduce them with one workgroup per row first.
    let rank = shape.len();
    let mut k = rank;
    while k > 0 && shape[k - 1] == 1 {
        k -= 1;
    }
    let len: usize = x.shape()[k..].iter().product();
    let mut cur = x.clone();
    let mut alpha_left = alpha;
    if len > 1 {
        let mut mid: Vec<usize> = x.shape().to_vec();
        for d in mid.iter_mut().skip(k) {
            *d = 1;
        }
        cur = rows_t(x, x.numel() / len, &mid, false, alpha)?;
        alpha_left = 1.0;
        if mid == shape {
            return Ok(cur);
        }
    }
    let d = pad6(cur.shape());
    let s = pad6(shape);
    let st = strides(&d);
    let (mut kd, mut ks, mut rd, mut rs) = ([1; 6], [0; 6], [1; 6], [0; 6]);
    for i in 0..MAX_RANK {
        if s[i] == d[i] {
            kd[i] = d[i];
            ks[i] = st[i];
        } else {
            rd[i] = d[i];
            rs[i] = st[i];
        }
    }
    let n: usize = shape.iter().product();
    let count: usize = rd.iter().product();
    // Long reductions in parts of MAX_LOOP elements, then the parts as rows.
    let parts = count.div_ceil(MAX_LOOP).max(1);
    let y = if parts == 1 {
        Tensor::empty(x.gpu(), shape)?
    } else {
        Tensor::empty(x.gpu(), &[n, parts])?
    };
    let u = u32p;
    let p = ReduceParams {
        n: u(n),
        count: u(count),
        alpha: alpha_left,
        k0: u(kd[0]),
        k1: u(kd[1]),
        k2: u(kd[2]),
        k3: u(kd[3]),
        k4: u(kd[4]),
        k5: u(kd[5]),
        ks0: u(ks[0]),
        ks1: u(ks[1]),
        ks2: u(ks[2]),
        ks3: u(ks[3]),
        ks4: u(ks[4]),
        ks5: u(ks[5]),
        r0: u(rd[0]),
        r1: u(rd[1]),
        r2: u(rd[2]),
        r3: u(rd[3]),
        r4: u(rd[4]),
        r5: u(rd[5]),
        rs0: u(rs[0]),
        rs1: u(rs[1]),
        rs2: u(rs[2]),
        rs3: u(rs[3]),
        rs4: u(rs[4]),
        rs5: u(rs[5]),
        chunk: u(MAX_LOOP),
        parts: u(parts),
    };
    x.gpu()
        .dispatch(&REDUCE, &[&cur, &y], &p, groups(n * parts))?;
    if parts == 1 {
        return Ok(y);
    }
    rows_t(&y, n, shape, false, 1.0)
}

/// `[parts, ...shape] -> shape`: adds up the partial results of a kernel that split a long
/// reduction into parts (see `MAX_LOOP`); a single part is just viewed as `shape`.
pub(crate) fn sum_parts(partial: Tensor, shape: &[usize]) -> Result<Tensor> {
    if partial.shape().first() == Some(&1) {
        return partial.reshape(shape);
    }
    let mut full = vec![1usize];
    full.extend_from_slice(shape);
    sum_to_t(&partial, &full, 1.0)?.reshape(shape)
}

/// Tiles `x` to `shape` (dims of size 1 repeat).
pub fn broadcast_to(x: &Var, shape: &[usize]) -> Result<Var> {
    let in_shape = x.shape().to_vec();
    let y = broadcast_t(x.value(), shape)?;
    Ok(Var::from_op(y, "broadcast_to", &[x], move |g, _| {
        Ok(vec![Some(sum_to(g, &in_shape, 1.0)?)])
    }))
}

/// `alpha *` the sum of `x` over the dims where `shape` is 1.
pub fn sum_to(x: &Var, shape: &[usize], alpha: f32) -> Result<Var> {
    let in_shape = x.shape().to_vec();
    let y = sum_to_t(x.value(), shape, alpha)?;
    Ok(Var::from_op(y, "sum_to", &[x], move |g, _| {
        let b = broadcast_to(g, &in_shape)?;
        Ok(vec![Some(if alpha == 1.0 {
            b
        } else {
            crate::ops::elementwise::scale(&b, alpha)?
        })])
    }))
}

/// Sum of all elements, shape `[1]`.
pub fn sum(x: &Var) -> Result<Var> {
    let ones = vec![1; x.shape().len()];
    reshape(&sum_to(x, &ones, 1.0)?, &[1])
}

/// Mean of all elements, shape `[1]`.
pub fn mean(x: &Var) -> Result<Var> {
    let ones = vec![1; x.shape().len()];
    let n = x.value().numel() as f32;
    reshape(&sum_to(x, &ones, 1.0 / n)?, &[1])
}

/// Per-sample sum of squares: `[N, ...] -> [N]` (the R1 penalty per image).
pub fn sum_sq_per_sample(x: &Var) -> Result<Var> {
    let n = *x.shape().first().unwrap_or(&1);
    let y = rows_t(x.value(), n, &[n], true, 1.0)?;
    let xs = x.clone();
    Ok(Var::from_op(y, "sum_sq_per_sample", &[x], move |g, _| {
        let mut s = vec![1; xs.shape().len()];
        s[0] = n;
        let gb = broadcast_to(&reshape(g, &s)?, xs.shape())?;
        Ok(vec![Some(mul_scaled(&gb, &xs, 2.0)?)])
    }))
}

/// A view with another shape of the same size.
pub fn reshape(x: &Var, shape: &[usize]) -> Result<Var> {
    let in_shape = x.shape().to_vec();
    let y = x.value().reshape(shape)?;
    Ok(Var::from_op(y, "reshape", &[x], move |g, _| {
        Ok(vec![Some(reshape(g, &in_shape)?)])
    }))
}
