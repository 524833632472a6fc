//! Weight gradients of the convs: `dw[a,b,c,o] = alpha * sum_{n,p,q}
//! x[n,c, s*p+a-ph, s*q+b-pw] * dy[n,o,p,q]` for a forward conv (a transposed conv's is the same
//! sum with the roles of `x` and `dy` exchanged: it runs as `swap_io(forward wgrad(dy, x))`).
//! The sum over the N*HO output rows is split into parts of at most `MAX_LOOP` iterations per
//! invocation (lavapipe's loop limit; a real GPU wants the parallelism anyway) and the parts
//! are added by `sum_parts`.
//!
//! Which kernel runs is a table like the forward planner's (`plan.rs`): each kernel implements
//! [`WgradImpl`] (a name, what it takes, when the policy allows it, how it runs, its kernels),
//! [`WgradKernel::ALL`] lists them in the order [`plan_wgrad`] tries them, and [`wgrad_on`]
//! runs a named one (tests, benchmarks, the autotuner). The kernels, fastest first on lavapipe:
//!
//! - `subgroup` (`subgroup.rs`): subgroup broadcast of dy, the 3x3 "same" conv and the 4x4
//!   stride-2 down-conv, rendered per shape; needs 8-wide subgroups;
//! - `blocked` (`blocked.rs`): register-blocked vec4 kernels for the same two convs;
//! - `generic` (`blocked.rs`): any kernel size, stride and padding.

mod blocked;
pub mod subgroup;

use std::fmt;

use crate::error::{shape_err, Error, Result};
use crate::gpu::{AdapterCaps, Kernel, Policy, Tensor};
use crate::ops::conv::{flip_swap_t, ConvGeometry};
use crate::ops::MAX_LOOP;

pub use blocked::{BLOCKED, GENERIC};

/// One weight-gradient kernel, as the planner, the tests and the benchmarks see it. It computes
/// the weight gradient of a forward conv (`wgrad_on` turns a transposed conv's into one).
pub trait WgradImpl: Sync {
    /// Its name in benchmark reports, tallies and errors.
    fn name(&self) -> &'static str;

    /// Whether it can run the weight gradient of the forward conv `g` on an adapter with `caps`,
    /// whatever the policy.
    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool;

    /// Whether the policy's switches leave it on.
    fn enabled(&self, _policy: &Policy) -> bool {
        true
    }

    /// `alpha *` the weight gradient of the forward conv `g`: `x [N,C,H,W]`, `dy [N,O,HO,WO]`,
    /// result `[KH,KW,C,O]`; the caller checked the shapes and `supports`.
    fn run(&self, x: &Tensor, dy: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor>;

    /// Its kernels, the rendered ones for representative configurations (shader tests).
    fn kernels(&self) -> Result<Vec<Kernel>>;
}

/// A weight-gradient kernel: one entry of the table. Equal when the names are.
#[derive(Clone, Copy)]
pub struct WgradKernel(&'static dyn WgradImpl);

impl WgradKernel {
    /// Every kernel, in the order `plan_wgrad` considers them.
    pub const ALL: &'static [WgradKernel] = &[subgroup::KERNEL, BLOCKED, GENERIC];

    pub(crate) const fn new(imp: &'static dyn WgradImpl) -> WgradKernel {
        WgradKernel(imp)
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Whether the policy's switches leave it on.
    pub fn enabled(self, policy: &Policy) -> bool {
        self.0.enabled(policy)
    }

    /// The kernel of this name, if there is one.
    pub fn by_name(name: &str) -> Option<WgradKernel> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl PartialEq for WgradKernel {
    fn eq(&self, other: &WgradKernel) -> bool {
        self.name() == other.name()
    }
}

impl Eq for WgradKernel {}

impl fmt::Debug for WgradKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WgradKernel({})", self.name())
    }
}

/// The forward conv whose weight gradient gives `g`'s: `g` itself, or for a transposed conv
/// the forward conv from its output back to its input (its weight gradient, in/out swapped, is
/// `g`'s). Its output is `g`'s input size (output padding is below the stride).
fn forward_problem(g: &ConvGeometry) -> Result<ConvGeometry> {
    if !g.transposed {
        return Ok(*g);
    }
    let f = ConvGeometry::new(
        "conv_wgrad",
        &g.out_shape(),
        &[g.kh, g.kw, g.o, g.c],
        g.stride,
        (g.pad_h, g.pad_w),
        false,
    )?;
    if (f.ho, f.wo) != (g.h, g.w) {
        return Err(Error::Invalid(format!(
            "conv_wgrad: the transposed conv {} has no forward counterpart",
            g.label()
        )));
    }
    Ok(f)
}

/// Whether `kernel` can run the weight gradient of `g` (forward or transposed) on an adapter
/// with `caps`, whatever the policy.
pub fn wgrad_supports(kernel: WgradKernel, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    forward_problem(g).is_ok_and(|f| kernel.0.supports(&f, caps))
}

/// The kernels that may run the weight gradient of `g` (forward or transposed) under `policy`:
/// those the policy leaves on and that take it, in [`WgradKernel::ALL`]'s order. The generic
/// kernel takes everything, so the list is never empty.
pub fn wgrad_candidates(g: &ConvGeometry, caps: &AdapterCaps, policy: &Policy) -> Vec<WgradKernel> {
    WgradKernel::ALL
        .iter()
        .copied()
        .filter(|k| k.enabled(policy) && wgrad_supports(*k, g, caps))
        .collect()
}

/// The kernel for the weight gradient of `g` (forward or transposed): the policy's pin
/// (family [`WGRAD_FAMILY`]) where it takes `g`, else the tuned choice where one is given
/// (`Gpu::tuned`), else the first candidate (the fixed order, fastest first on lavapipe).
pub fn plan_wgrad_with(
    g: &ConvGeometry,
    caps: &AdapterCaps,
    policy: &Policy,
    tuned: Option<&str>,
) -> WgradKernel {
    let cands = wgrad_candidates(g, caps, policy);
    let named =
        |name: Option<&str>| name.and_then(|n| cands.iter().copied().find(|k| k.name() == n));
    named(policy.pin.get(WGRAD_FAMILY).map(String::as_str))
        .or_else(|| named(tuned))
        .or_else(|| cands.first().copied())
        .unwrap_or(GENERIC)
}

/// The fixed order's kernel for the weight gradient of `g`: [`plan_wgrad_with`] untuned.
pub fn plan_wgrad(g: &ConvGeometry, caps: &AdapterCaps, policy: &Policy) -> WgradKernel {
    plan_wgrad_with(g, caps, policy, None)
}

/// The weight gradients' kernel family in the tuning table and in pins (`STYLEGAN_PIN`).
pub const WGRAD_FAMILY: &str = "conv_wgrad";

/// `alpha *` the weight gradient of `g` (forward or transposed) on `kernel`, whatever the plan
/// would pick: `x [N,C,H,W]` the conv's input, `dy` the gradient of its output, result
/// `[KH,KW,C,O]`. An error when the shapes do not match `g` or the kernel does not take it.
pub fn wgrad_on(
    kernel: WgradKernel,
    x: &Tensor,
    dy: &Tensor,
    g: &ConvGeometry,
    alpha: f32,
) -> Result<Tensor> {
    check_shapes(x, dy, g)?;
    let f = forward_problem(g)?;
    if !kernel.0.supports(&f, &x.gpu().caps()) {
        return Err(Error::Invalid(format!(
            "conv wgrad kernel {} does not take {} on {}",
            kernel.name(),
            g.label(),
            x.gpu().info().name
        )));
    }
    if f.n * f.c * f.h * f.w * f.o * f.ho * f.wo == 0 {
        return Tensor::zeros(x.gpu(), &[g.kh, g.kw, g.c, g.o]);
    }
    if g.transposed {
        flip_swap_t(&kernel.0.run(dy, x, &f, alpha)?, false, true)
    } else {
        kernel.0.run(x, dy, &f, alpha)
    }
}

/// `x` and `dy` are the input and output gradient of the conv `g`.
fn check_shapes(x: &Tensor, dy: &Tensor, g: &ConvGeometry) -> Result<()> {
    if x.shape() != [g.n, g.c, g.h, g.w] || dy.shape() != g.out_shape() {
        return shape_err(
            "conv_wgrad",
            format!(
                "input {:?} and output gradient {:?} must be {:?} and {:?} for the conv {}",
                x.shape(),
                dy.shape(),
                [g.n, g.c, g.h, g.w],
                g.out_shape(),
                g.label()
            ),
        );
    }
    Ok(())
}

/// `alpha *` the weight gradient of `g` on the kernel `plan_wgrad_with` picks: with tuning on,
/// the fastest candidate as measured on this adapter (the shape is measured at its first use).
fn wgrad_planned(x: &Tensor, dy: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
    let gpu = x.gpu();
    let (caps, policy) = (gpu.caps(), gpu.policy());
    let cands = wgrad_candidates(g, &caps, policy);
    let names: Vec<&str> = cands.iter().map(|k| k.name()).collect();
    let tuned = gpu.tuned_name(WGRAD_FAMILY, &g.label(), &names, |i| {
        wgrad_on(cands[i], x, dy, g, alpha).map(drop)
    })?;
    let kernel = plan_wgrad_with(g, &caps, policy, tuned);
    gpu.tally(tally(kernel));
    wgrad_on(kernel, x, dy, g, alpha)
}

/// The `Gpu::tally` name of a weight gradient planned on `kernel`.
fn tally(kernel: WgradKernel) -> &'static str {
    match kernel.name() {
        "subgroup" => "conv wgrad on subgroup",
        "blocked" => "conv wgrad on blocked",
        _ => "conv wgrad on generic",
    }
}

/// How a reduction over `rows` rows of `row_len` elements is cut into parts so that no
/// invocation loops more than `MAX_LOOP` times: (rows per part, parts).
pub(super) fn row_parts(rows: usize, row_len: usize) -> (usize, usize) {
    let rows_per = (MAX_LOOP / (row_len + 1)).max(1).min(rows.max(1));
    (rows_per, rows.div_ceil(rows_per).max(1))
}

fn dims4(op: &'static str, what: &str, t: &Tensor) -> Result<[usize; 4]> {
    match *t.shape() {
        [a, b, c, d] => Ok([a, b, c, d]),
        ref s => shape_err(op, format!("{what} must be 4-D, got {s:?}")),
    }
}

/// Weight gradient of `conv2d` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,H,W]`, result
/// `[k,k,C,O]`.
pub fn conv2d_wgrad_t(x: &Tensor, dy: &Tensor, k: usize, alpha: f32) -> Result<Tensor> {
    let op = "conv2d_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if k.is_multiple_of(2) {
        return shape_err(op, format!("kernel size {k} must be odd for same padding"));
    }
    if xd[0] != yd[0] || xd[2..] != yd[2..] {
        return shape_err(
            op,
            format!(
                "input {:?} and output gradient {:?} differ in N, H or W",
                x.shape(),
                dy.shape()
            ),
        );
    }
    let g = ConvGeometry::same(&xd, &[k, k, xd[1], yd[1]])?;
    wgrad_planned(x, dy, &g, alpha)
}

/// Weight gradient of `conv_down2` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,H/2,W/2]`,
/// result `[4,4,C,O]`.
pub fn conv_down2_wgrad_t(x: &Tensor, dy: &Tensor, alpha: f32) -> Result<Tensor> {
    let op = "conv_down2_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if !xd[2].is_multiple_of(2) || !xd[3].is_multiple_of(2) {
        return shape_err(
            op,
            format!("input {:?} must have even height and width", x.shape()),
        );
    }
    if xd[0] != yd[0] || xd[2] != 2 * yd[2] || xd[3] != 2 * yd[3] {
        return shape_err(
            op,
            format!(
                "output gradient {:?} must be [N,O,H/2,W/2] for input {:?}",
                dy.shape(),
                x.shape()
            ),
        );
    }
    let g = ConvGeometry::down2(&xd, &[4, 4, xd[1], yd[1]])?;
    wgrad_planned(x, dy, &g, alpha)
}

/// Checks the shapes of `conv_up2_wgrad`: `x [N,C,H,W]`, `dy [N,O,2H,2W]`.
pub(crate) fn check_up2_wgrad(x: &Tensor, dy: &Tensor) -> Result<()> {
    let op = "conv_up2_wgrad";
    let xd = dims4(op, "input (NCHW)", x)?;
    let yd = dims4(op, "output gradient (NCHW)", dy)?;
    if xd[0] != yd[0] || yd[2] != 2 * xd[2] || yd[3] != 2 * xd[3] {
        return shape_err(
            op,
            format!(
                "output gradient {:?} must be [N,O,2H,2W] for input {:?}",
                dy.shape(),
                x.shape()
            ),
        );
    }
    Ok(())
}

/// Weight gradient of `conv_up2` (times `alpha`): `x [N,C,H,W]`, `dy [N,O,2H,2W]`, result
/// `[4,4,C,O]`. Both convs pair `x[.,c,i,.]` with `dy[.,o,2i+a-1,.]` through tap `a`; only
/// the roles of input and output are exchanged, hence `swap_io(wgrad_down(dy, x))`.
pub fn conv_up2_wgrad_t(x: &Tensor, dy: &Tensor, alpha: f32) -> Result<Tensor> {
    check_up2_wgrad(x, dy)?;
    flip_swap_t(&conv_down2_wgrad_t(dy, x, alpha)?, false, true)
}

/// Weight gradient (times `alpha`) of the conv `g` describes, forward or transposed: `x` its
/// input `[N,C,H,W]`, `dy` the gradient of its output `[N,O,HO,WO]`, result `[KH,KW,C,O]`.
/// Forward: `dw[a,b,c,o] = alpha * sum x[n,c,s*p+a-ph,s*q+b-pw] dy[n,o,p,q]`; transposed:
/// `dw[a,b,c,o] = alpha * sum x[n,c,i,j] dy[n,o,s*i+a-ph,s*j+b-pw]`, the forward sum with `x`
/// and `dy` exchanged, so it runs as `swap_io(forward wgrad(dy, x))`.
pub fn conv_wgrad_t(x: &Tensor, dy: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
    check_shapes(x, dy, g)?;
    wgrad_planned(x, dy, g, alpha)
}

/// Every weight-gradient kernel (shader tests).
pub fn kernels() -> Result<Vec<Kernel>> {
    let mut out = Vec::new();
    for k in WgradKernel::ALL {
        out.extend(k.0.kernels()?);
    }
    Ok(out)
}
