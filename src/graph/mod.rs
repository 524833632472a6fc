//! Define-by-run reverse-mode autodiff over GPU tensors.
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
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::gpu::Tensor;

type BackwardFn = dyn Fn(&Var, &[bool]) -> Result<Vec<Option<Var>>>;

pub(crate) struct GradFn {
    name: &'static str,
    inputs: Vec<Var>,
    backward: Box<BackwardFn>,
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
/// use stylegan_wgpu::graph::grad_scalar;
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

fn with_grad_mode<T>(on: bool, f: impl FnOnce() -> T) -> T {
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
        let track = grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if !track {
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

    fn key(&self) -> *const VarNode {
        Rc::as_ptr(&self.0)
    }
}

/// Gradients of `Σ_k <outputs[k], grad_outputs[k]>` with respect to each of `inputs`
/// (like `torch.autograd.grad`). `None` where an input does not influence the outputs.
/// With `create_graph` the returned gradients carry history and can be differentiated again.
pub fn grad(
    outputs: &[Var],
    grad_outputs: &[Var],
    inputs: &[Var],
    create_graph: bool,
) -> Result<Vec<Option<Var>>> {
    if outputs.len() != grad_outputs.len() {
        return Err(Error::Invalid(format!(
            "grad: {} outputs but {} output gradients",
            outputs.len(),
            grad_outputs.len()
        )));
    }
    for (o, g) in outputs.iter().zip(grad_outputs) {
        if o.shape() != g.shape() {
            return Err(Error::Shape {
                op: "grad",
                msg: format!("output {:?} vs its gradient {:?}", o.shape(), g.shape()),
            });
        }
    }
    // Topological order (inputs before the vars computed from them), iteratively.
    let mut order: Vec<Var> = Vec::new();
    let mut seen: HashSet<*const VarNode> = HashSet::new();
    let mut stack: Vec<(Var, bool)> = outputs
        .iter()
        .filter(|o| o.requires_grad())
        .map(|o| (o.clone(), false))
        .collect();
    while let Some((v, expanded)) = stack.pop() {
        if expanded {
            order.push(v);
            continue;
        }
        if !seen.insert(v.key()) {
            continue;
        }
        stack.push((v.clone(), true));
        if let Some(gf) = &v.0.grad_fn {
            for i in &gf.inputs {
                if i.requires_grad() && !seen.contains(&i.key()) {
                    stack.push((i.clone(), false));
                }
            }
        }
    }
    // Which vars lead to a wanted input: only those need gradients.
    let wanted: HashSet<*const VarNode> = inputs.iter().map(|v| v.key()).collect();
    let mut leads: HashSet<*const VarNode> = HashSet::new();
    for v in &order {
        let mut l = wanted.contains(&v.key());
        if let Some(gf) = &v.0.grad_fn {
            l |= gf.inputs.iter().any(|i| leads.contains(&i.key()));
        }
        if l {
            leads.insert(v.key());
        }
    }
    let mut grads: HashMap<*const VarNode, Var> = HashMap::new();
    let run = || -> Result<()> {
        for (o, g) in outputs.iter().zip(grad_outputs) {
            if leads.contains(&o.key()) {
                accumulate(&mut grads, o.key(), g.clone())?;
            }
        }
        for v in order.iter().rev() {
            let Some(gf) = &v.0.grad_fn else { continue };
            if !leads.contains(&v.key()) {
                continue;
            }
            let g = if wanted.contains(&v.key()) {
                grads.get(&v.key()).cloned()
            } else {
                grads.remove(&v.key())
            };
            let Some(g) = g else { continue };
            let needs: Vec<bool> = gf.inputs.iter().map(|i| leads.contains(&i.key())).collect();
            let gi = (gf.backward)(&g, &needs)?;
            if gi.len() != gf.inputs.len() {
                return Err(Error::Invalid(format!(
                    "backward of {} returned {} gradients",
                    gf.name,
                    gi.len()
                )));
            }
            for ((inp, gin), need) in gf.inputs.iter().zip(gi).zip(needs) {
                if let (Some(gin), true) = (gin, need) {
                    if gin.shape() != inp.shape() {
                        return Err(Error::Shape {
                            op: gf.name,
                            msg: format!(
                                "backward gave {:?} for an input of {:?}",
                                gin.shape(),
                                inp.shape()
                            ),
                        });
                    }
                    accumulate(&mut grads, inp.key(), gin)?;
                }
            }
        }
        Ok(())
    };
    with_grad_mode(create_graph && grad_enabled(), run)?;
    Ok(inputs
        .iter()
        .map(|v| grads.get(&v.key()).cloned())
        .collect())
}

fn accumulate(grads: &mut HashMap<*const VarNode, Var>, k: *const VarNode, g: Var) -> Result<()> {
    let new = match grads.remove(&k) {
        Some(prev) => crate::ops::elementwise::add(&prev, &g)?,
        None => g,
    };
    grads.insert(k, new);
    Ok(())
}

/// Gradient of a scalar (one-element) output.
pub fn grad_scalar(output: &Var, inputs: &[Var], create_graph: bool) -> Result<Vec<Option<Var>>> {
    let one = Var::constant(Tensor::from_slice(
        output.value().gpu(),
        output.shape(),
        &[1.0],
    )?);
    if output.value().numel() != 1 {
        return Err(Error::Shape {
            op: "grad_scalar",
            msg: format!("output {:?} is not a scalar", output.shape()),
        });
    }
    grad(std::slice::from_ref(output), &[one], inputs, create_graph)
}
