//! The tape of define-by-run reverse-mode autodiff over GPU tensors: `Var`s and the history
//! they record. The reverse pass that walks it is `crate::autodiff` (it runs backward rules,
//! which are ops, so it sits above `ops`; this module sits below).
//!
//! Every op that gets an input requiring a gradient records a `GradFn`: the inputs it depends
//! on and a backward rule. Backward rules are written with the same differentiable ops
//! (`crate::ops`), so with `create_graph = true` the gradients are themselves `Var`s with a
//! history and can be differentiated again; that is what the R1 penalty needs.
//!
//! Memory follows ownership: a tensor returns to the pool as soon as no `Var` and no backward
//! rule holds it. With `create_graph = false` the backward pass records nothing and each
//! intermediate gradient is dropped as soon as it has been passed on.

use std::cell::Cell;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::Tensor;

type BackwardFn = dyn Fn(&Var, &[bool]) -> Result<Vec<Option<Var>>>;

pub(crate) struct GradFn {
    pub(crate) name: &'static str,
    pub(crate) inputs: Vec<Var>,
    pub(crate) backward: Box<BackwardFn>,
}

pub(crate) struct VarNode {
    value: Tensor,
    requires_grad: bool,
    grad_fn: Option<GradFn>,
}

/// A tensor that takes part in differentiation: a leaf (`param` wants gradients, `constant`
/// does not) or the result of an op, which records its backward rule when grad mode is on and
/// an input wants gradients.
///
/// ```
/// use stylegan_wgpu::autodiff::grad_scalar;
/// use stylegan_wgpu::{no_grad, ops, Gpu, Tensor, Var};
/// # fn main() -> stylegan_wgpu::Result<()> {
/// let gpu = Gpu::new()?;
/// let w = Var::param(Tensor::from_slice(&gpu, &[2], &[3.0, -1.0])?);
/// let y = ops::sum(&ops::mul(&w, &w)?)?;
/// assert!(y.requires_grad() && y.op_name() != "leaf");
/// let g = grad_scalar(&y, &[w.clone()], false)?[0].clone().unwrap();
/// assert_eq!(g.to_vec()?, [6.0, -2.0]);
/// // Inside no_grad nothing is recorded.
/// let z = no_grad(|| ops::sum(&w))?;
/// assert!(!z.requires_grad());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Var(Rc<VarNode>);

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self.0.grad_fn.as_ref().map(|g| g.name).unwrap_or("leaf");
        write!(
            f,
            "Var({:?}, {op}, requires_grad={})",
            self.shape(),
            self.0.requires_grad
        )
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside `no_grad`.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` without recording any history (inference, optimizer updates).
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let prev = GRAD_ENABLED.with(|g| g.replace(false));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _r = Restore(prev);
    f()
}

/// No autodiff history while the guard lives (`no_grad` for code that awaits in between, such
/// as the benchmarks in a browser).
pub struct NoGradGuard(bool);

impl NoGradGuard {
    pub fn new() -> NoGradGuard {
        NoGradGuard(GRAD_ENABLED.with(|g| g.replace(false)))
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        NoGradGuard::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        let prev = self.0;
        GRAD_ENABLED.with(|g| g.set(prev));
    }
}

/// Whether an op on `inputs` records history now: grad mode is on and an input wants gradients.
/// Backward rules with a fused kernel use it where nothing would be recorded (the kernel's
/// results carry no history), and their composite of differentiable ops otherwise.
pub fn records(inputs: &[&Var]) -> bool {
    grad_enabled() && inputs.iter().any(|v| v.requires_grad())
}

/// Runs `f` with grad mode `on` (the reverse pass records history only with `create_graph`).
pub(crate) fn with_grad_mode<T>(on: bool, f: impl FnOnce() -> T) -> T {
    let prev = GRAD_ENABLED.with(|g| g.replace(on));
    let out = f();
    GRAD_ENABLED.with(|g| g.set(prev));
    out
}

impl Var {
    /// A leaf that gradients are taken with respect to (a parameter or an input image).
    pub fn param(t: Tensor) -> Var {
        Var(Rc::new(VarNode {
            value: t,
            requires_grad: true,
            grad_fn: None,
        }))
    }

    /// A leaf without gradient.
    pub fn constant(t: Tensor) -> Var {
        Var(Rc::new(VarNode {
            value: t,
            requires_grad: false,
            grad_fn: None,
        }))
    }

    /// Records the result of an op. `backward(grad_out, needs)` returns one gradient per input
    /// (None where `needs[i]` is false or the input has no gradient).
    pub fn from_op(
        value: Tensor,
        name: &'static str,
        inputs: &[&Var],
        backward: impl Fn(&Var, &[bool]) -> Result<Vec<Option<Var>>> + 'static,
    ) -> Var {
        if !records(inputs) {
            return Var::constant(value);
        }
        Var(Rc::new(VarNode {
            value,
            requires_grad: true,
            grad_fn: Some(GradFn {
                name,
                inputs: inputs.iter().map(|v| (*v).clone()).collect(),
                backward: Box::new(backward),
            }),
        }))
    }

    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The same values without history.
    pub fn detach(&self) -> Var {
        Var::constant(self.0.value.clone())
    }

    /// Name of the op that produced this var ("leaf" for leaves).
    pub fn op_name(&self) -> &'static str {
        self.0.grad_fn.as_ref().map(|g| g.name).unwrap_or("leaf")
    }

    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.0.value.to_vec()
    }

    /// [`Tensor::to_vec_async`] of the value: the read-back a web page awaits.
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        self.0.value.to_vec_async().await
    }

    /// Identity of the node, for the reverse pass's bookkeeping.
    pub(crate) fn key(&self) -> *const VarNode {
        Rc::as_ptr(&self.0)
    }

    /// The op that produced this var, if any.
    pub(crate) fn grad_fn(&self) -> Option<&GradFn> {
        self.0.grad_fn.as_ref()
    }
}
