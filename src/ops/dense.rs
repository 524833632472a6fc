//! Matrix multiply with transpose flags, and the equalized-learning-rate dense layer built on it.
//!
//! `matmul(a, b, ta, tb, alpha) = alpha * op(a) @ op(b)`; its gradients are again matmuls with
//! other flags (never an explicit transpose), so they differentiate twice.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::axpby;
use crate::ops::reduce::{broadcast_to, reshape};
use crate::ops::MAX_LOOP;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/dense/matmul.wgsl`.
    pub struct MatmulParams {
        m: u32, n: u32, k: u32, a_sm: u32, a_sk: u32, b_sk: u32, b_sn: u32,
        tiles_n: u32, tiles: u32, alpha: f32, kchunk: u32, parts: u32,
    }
}

kernel!(
    MATMUL,
    "dense/matmul.wgsl",
    "main",
    MatmulParams,
    [Read, Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![MATMUL])
}

/// Invocations per workgroup of the matmul kernel (`MM_WG` in `dense/matmul.wgsl`).
const MM_WG: usize = 64;
/// Each invocation computes a `BLOCK x BLOCK` block of the output.
const BLOCK: usize = 4;

/// `(rows, cols)` of `op(x)` for a 2-D `x`.
fn op_dims(x: &[usize], t: bool) -> Option<(usize, usize)> {
    match *x {
        [r, c] => Some(if t { (c, r) } else { (r, c) }),
        _ => None,
    }
}

fn matmul_shapes(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Result<(usize, usize, usize)> {
    let desc = || format!("a {a:?} (trans_a={ta}) @ b {b:?} (trans_b={tb})");
    let (Some((m, k)), Some((k2, n))) = (op_dims(a, ta), op_dims(b, tb)) else {
        return shape_err("matmul", format!("both operands must be 2-D: {}", desc()));
    };
    if k != k2 {
        return shape_err(
            "matmul",
            format!("inner dims differ ({k} vs {k2}): {}", desc()),
        );
    }
    Ok((m, k, n))
}

/// `alpha * op(a) @ op(b)` where `op` transposes when its flag is set.
pub fn matmul_t(
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    alpha: f32,
) -> Result<Tensor> {
    let (m, k, n) = matmul_shapes(a.shape(), b.shape(), trans_a, trans_b)?;
    // Inner dims past MAX_LOOP are summed in parts (see `MAX_LOOP`), then the parts.
    let parts = k.div_ceil(MAX_LOOP).max(1);
    let y = Tensor::empty(a.gpu(), &[parts, m, n])?;
    let (a_sm, a_sk) = if trans_a { (1, m) } else { (k, 1) };
    let (b_sk, b_sn) = if trans_b { (1, k) } else { (n, 1) };
    let tiles_n = n.div_ceil(BLOCK);
    let tiles = m.div_ceil(BLOCK) * tiles_n;
    let u = u32p;
    let p = MatmulParams {
        m: u(m),
        n: u(n),
        k: u(k),
        a_sm: u(a_sm),
        a_sk: u(a_sk),
        b_sk: u(b_sk),
        b_sn: u(b_sn),
        tiles_n: u(tiles_n),
        tiles: u(tiles),
        alpha,
        kchunk: u(MAX_LOOP),
        parts: u(parts),
    };
    a.gpu()
        .dispatch(&MATMUL, &[a, b, &y], &p, u((tiles * parts).div_ceil(MM_WG)))?;
    crate::ops::reduce::sum_parts(y, &[m, n])
}

/// `alpha * op(a) @ op(b)` for 2-D `a`, `b`; `op` transposes when its flag is set.
pub fn matmul(a: &Var, b: &Var, trans_a: bool, trans_b: bool, alpha: f32) -> Result<Var> {
    let y = matmul_t(a.value(), b.value(), trans_a, trans_b, alpha)?;
    let (av, bv) = (a.clone(), b.clone());
    Ok(Var::from_op(y, "matmul", &[a, b], move |g, needs| {
        // With C = alpha*A'B' (A' = op(a), B' = op(b)): dA' = alpha*G B'^T, dB' = alpha*A'^T G;
        // a transposed operand gets the transpose of that, i.e. the product in swapped order.
        let ga = if !needs[0] {
            None
        } else if trans_a {
            Some(matmul(&bv, g, trans_b, true, alpha)?)
        } else {
            Some(matmul(g, &bv, false, !trans_b, alpha)?)
        };
        let gb = if !needs[1] {
            None
        } else if trans_b {
            Some(matmul(g, &av, true, trans_a, alpha)?)
        } else {
            Some(matmul(&av, g, !trans_a, false, alpha)?)
        };
        Ok(vec![ga, gb])
    }))
}

/// Equalized-learning-rate dense layer: `x @ (w * gain/sqrt(I) * lrmul) + b * lrmul`.
///
/// `x` is `[N, I]`; an input of higher rank (e.g. `[N, C, 4, 4]`) is flattened to
/// `[N, C*4*4]` in NCHW order (index `c*16 + h*4 + w`), as the discriminator head expects.
/// `w` is the stored `[I, O]` weight, `b` the optional stored `[O]` bias; the runtime scale is
/// folded into the matmul's `alpha` rather than materialized.
pub fn dense(x: &Var, w: &Var, b: Option<&Var>, gain: f32, lrmul: f32) -> Result<Var> {
    let xs = x.shape();
    if xs.len() < 2 {
        return shape_err(
            "dense",
            format!("input must be [N, I] (or [N, ...] to flatten), got {xs:?}"),
        );
    }
    let n = xs[0];
    let i: usize = xs[1..].iter().product();
    let ws = w.shape();
    if ws.len() != 2 || ws[0] != i {
        return shape_err(
            "dense",
            format!("weight must be [{i}, O] for input {xs:?}, got {ws:?}"),
        );
    }
    let o = ws[1];
    if let Some(b) = b {
        if b.shape() != [o] {
            return shape_err(
                "dense",
                format!("bias must be [{o}] for weight {ws:?}, got {:?}", b.shape()),
            );
        }
    }
    let x2 = if xs.len() == 2 {
        x.clone()
    } else {
        reshape(x, &[n, i])?
    };
    let c = gain / (i as f32).sqrt() * lrmul;
    let y = matmul(&x2, w, false, false, c)?;
    match b {
        None => Ok(y),
        Some(b) => {
            let bb = broadcast_to(&reshape(b, &[1, o])?, &[n, o])?;
            axpby(&y, &bb, 1.0, lrmul)
        }
    }
}
