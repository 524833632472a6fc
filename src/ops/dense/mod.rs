//! Matrix multiply with transpose flags, and the equalized-learning-rate dense layer built on it.
//!
//! `matmul(a, b, ta, tb, alpha) = alpha * op(a) @ op(b)`; its gradients are again matmuls with
//! other flags (never an explicit transpose), so they differentiate twice.
//!
//! Which kernel runs a matmul is decided by `plan` (a table of kernels, like the convs'): the
//! subgroup-broadcast kernels (`subgroup.rs`) on adapters with 8-wide subgroups, the 4x4-block
//! kernel (`blocked.rs`) elsewhere. `matmul_on` runs a named kernel (tests, benchmarks, the
//! autotuner).

mod blocked;
mod plan;
mod subgroup;

pub use plan::{
    matmul_batched_on, matmul_batched_supports, matmul_candidates, matmul_on, matmul_plan,
    matmul_plan_with, matmul_supports, tune_key as matmul_tune_key, Batch, MatmulKernel,
    MatmulShape, FAMILY as MATMUL_FAMILY,
};

use crate::error::{shape_err, Result};
use crate::gpu::Tensor;
use crate::ops::elementwise::axpby;
use crate::ops::reduce::{broadcast_to, reshape};
use crate::tape::Var;

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests): every
/// candidate's, the rendered ones for representative shapes.
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    let mut out = Vec::new();
    for k in MatmulKernel::ALL {
        out.extend(k.kernels()?);
    }
    Ok(out)
}

/// `(rows, cols)` of `op(x)` for a 2-D `x`.
fn op_dims(x: &[usize], t: bool) -> Option<(usize, usize)> {
    match *x {
        [r, c] => Some(if t { (c, r) } else { (r, c) }),
        _ => None,
    }
}

/// The shape of `op(a) @ op(b)`, or a shape error naming both operands.
pub(crate) fn matmul_shape(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Result<MatmulShape> {
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
    Ok(MatmulShape {
        m,
        k,
        n,
        trans_a: ta,
        trans_b: tb,
    })
}

/// `alpha * op(a) @ op(b)` where `op` transposes when its flag is set, on the kernel `plan`
/// picks for this context.
pub fn matmul_t(
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    alpha: f32,
) -> Result<Tensor> {
    let s = matmul_shape(a.shape(), b.shape(), trans_a, trans_b)?;
    let gpu = a.gpu();
    let (caps, policy) = (gpu.caps(), gpu.policy());
    let cands = plan::matmul_candidates(&s, &caps, policy);
    let names: Vec<&str> = cands.iter().map(|k| k.name()).collect();
    let tuned = gpu.tuned_name(plan::FAMILY, &plan::tune_key(&s), &names, |i| {
        matmul_on(cands[i], a, b, trans_a, trans_b, alpha).map(drop)
    })?;
    let kernel = plan::matmul_plan_with(&s, &caps, policy, tuned).ok_or_else(|| {
        crate::Error::Invalid(format!(
            "matmul {s:?}: no kernel takes it on {} (the grid exceeds the adapter's limits)",
            gpu.info().name
        ))
    })?;
    gpu.tally(kernel.tally());
    matmul_on(kernel, a, b, trans_a, trans_b, alpha)
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
