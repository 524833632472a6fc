//! The official losses (`docs/network.md`, "Training"): non-saturating logistic G loss,
//! logistic D loss with the R1 penalty on reals (a gradient of a gradient). Per-sample terms;
//! training averages them over the minibatch as the official code does.

use crate::autodiff::grad_scalar;
use crate::error::Result;
use crate::nn::discriminator::Discriminator;
use crate::ops;
use crate::tape::Var;

/// Per-sample D terms for a minibatch.
pub struct DLoss {
    /// Raw scores `[N, 1]`.
    pub d_real: Var,
    pub d_fake: Var,
    /// `r1[i] = ||∂(Σ D(x))/∂x_i||²`, `[N]`.
    pub r1: Var,
    /// `softplus(D(G(z))) + softplus(-D(x))`, `[N, 1]`.
    pub logistic: Var,
    /// `logistic + (gamma/2) * r1`, `[N, 1]`.
    pub total: Var,
}

/// D loss with R1. `reals` must be a gradient leaf (`Var::param`) so R1 can differentiate
/// with respect to it; `fakes` should carry no history into G (detach it).
pub fn d_loss(d: &Discriminator, reals: &Var, fakes: &Var, gamma: f32) -> Result<DLoss> {
    d_loss_lod(d, reals, fakes, None, gamma, 0.0)
}

/// `d_loss` with D at level of detail `lod` (progressive training); R1 is taken with respect
/// to `reals` as given, i.e. the lod-processed reals, as the official code does. A
/// class-conditional D scores reals and fakes with the same `labels`, the minibatch's real
/// ones (the release's `loss.py`: the fakes were made for those labels).
pub fn d_loss_lod(
    d: &Discriminator,
    reals: &Var,
    fakes: &Var,
    labels: Option<&Var>,
    gamma: f32,
    lod: f32,
) -> Result<DLoss> {
    let d_fake = d.forward_labels(fakes, labels, lod)?;
    let d_real = d.forward_labels(reals, labels, lod)?;
    let logistic = ops::add(
        &ops::softplus(&d_fake)?,
        &ops::softplus(&ops::scale(&d_real, -1.0)?)?,
    )?;
    let gx = grad_scalar(&ops::sum(&d_real)?, std::slice::from_ref(reals), true)?[0]
        .clone()
        .ok_or_else(|| crate::Error::Invalid("R1: D does not depend on its input".into()))?;
    let r1 = ops::sum_sq_per_sample(&gx)?;
    let n = r1.shape()[0];
    let total = ops::axpby(&logistic, &ops::reshape(&r1, &[n, 1])?, 1.0, gamma * 0.5)?;
    Ok(DLoss {
        d_real,
        d_fake,
        r1,
        logistic,
        total,
    })
}

/// Per-sample non-saturating G loss `softplus(-D(G(z)))`, `[N, 1]`, and the scores.
pub fn g_loss(d: &Discriminator, fakes: &Var) -> Result<(Var, Var)> {
    g_loss_lod(d, fakes, None, 0.0)
}

/// `g_loss` with D at level of detail `lod` (progressive training), and the labels the fakes
/// were made for on a class-conditional D.
pub fn g_loss_lod(
    d: &Discriminator,
    fakes: &Var,
    labels: Option<&Var>,
    lod: f32,
) -> Result<(Var, Var)> {
    let d_fake = d.forward_labels(fakes, labels, lod)?;
    let loss = ops::softplus(&ops::scale(&d_fake, -1.0)?)?;
    Ok((d_fake, loss))
}
