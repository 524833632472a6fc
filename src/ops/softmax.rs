//! Log-softmax over the last axis of `[N, K]` and the softmax cross-entropy built on it (the
//! loss of the classifiers behind the own-domain metrics). Fused forward
//! (`shaders/softmax/log_softmax.wgsl`), backward composed of ops, so both differentiate twice.

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::Tensor;
use crate::ops::elementwise::{exp, groups, mul, sub};
use crate::ops::reduce::{broadcast_to, reshape, sum_to};
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/softmax/log_softmax.wgsl`.
    pub struct LogSoftmaxParams { rows: u32, len: u32 }
}

kernel!(
    LOG_SOFTMAX,
    "softmax/log_softmax.wgsl",
    "main",
    LogSoftmaxParams,
    [Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![LOG_SOFTMAX])
}

fn check_rows(op: &'static str, x: &[usize]) -> Result<(usize, usize)> {
    match *x {
        [n, k] if n > 0 && k > 0 && k <= crate::ops::MAX_LOOP => Ok((n, k)),
        _ => shape_err(
            op,
            format!(
                "logits must be a non-empty [N, K] with K <= {}, got {x:?}",
                crate::ops::MAX_LOOP
            ),
        ),
    }
}

/// `x - logsumexp(x)` along each row of `x: [N, K]`.
pub fn log_softmax(x: &Var) -> Result<Var> {
    let shape = x.shape().to_vec();
    let (n, k) = check_rows("log_softmax", &shape)?;
    let gpu = x.value().gpu();
    let y = Tensor::empty(gpu, &shape)?;
    let p = LogSoftmaxParams {
        rows: u32p(n),
        len: u32p(k),
    };
    gpu.dispatch(&LOG_SOFTMAX, &[x.value(), &y], &p, groups(n))?;
    let xs = x.clone();
    Ok(Var::from_op(y, "log_softmax", &[x], move |g, _| {
        // dx = g - softmax(x) * rowsum(g); softmax recomputed from x so the rule differentiates
        // again through x.
        let soft = exp(&log_softmax(&xs)?)?;
        let gs = broadcast_to(&sum_to(g, &[n, 1], 1.0)?, &[n, k])?;
        Ok(vec![Some(sub(g, &mul(&soft, &gs)?)?)])
    }))
}

/// Per-sample cross-entropy `-Σ_k t[n,k] log softmax(x)[n,k]`, `[N]`, of logits `x: [N, K]`
/// against target distributions `t: [N, K]` (one-hot rows for hard labels, see `one_hot`).
pub fn softmax_cross_entropy(x: &Var, t: &Var) -> Result<Var> {
    let (n, _) = check_rows("softmax_cross_entropy", x.shape())?;
    if t.shape() != x.shape() {
        return shape_err(
            "softmax_cross_entropy",
            format!(
                "targets {:?} must have the logits' shape {:?}",
                t.shape(),
                x.shape()
            ),
        );
    }
    reshape(&sum_to(&mul(t, &log_softmax(x)?)?, &[n, 1], -1.0)?, &[n])
}

/// `[N, K]` one-hot rows of class `labels` (each below `k`), a constant for
/// `softmax_cross_entropy`.
pub fn one_hot(gpu: &crate::gpu::Gpu, labels: &[usize], k: usize) -> Result<Var> {
    let mut t = vec![0.0f32; labels.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        if l >= k {
            return shape_err(
                "one_hot",
                format!("label {l} of sample {i} is not below {k}"),
            );
        }
        t[i * k + l] = 1.0;
    }
    Ok(Var::constant(Tensor::from_slice(
        gpu,
        &[labels.len(), k],
        &t,
    )?))
}
