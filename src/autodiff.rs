//! The reverse pass of autodiff: gradients of outputs with respect to inputs, by running the
//! backward rules recorded on the tape (`crate::tape`) in reverse topological order. With
//! `create_graph` the backward rules record history themselves, so the gradients can be
//! differentiated again (the R1 penalty).
//!
//! A var that feeds several ops receives several gradients; they are kept until its own rule
//! runs (or the pass ends) and then added in the order they arrived. Without `create_graph`
//! they are added up to four at a time (`ops::add_n`: the same rounding as adding one at a
//! time, fewer dispatches); with it, one `add` at a time, so the recorded graph is the same
//! chain as always.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::gpu::Tensor;
use crate::tape::{grad_enabled, records, with_grad_mode, Var, VarNode};

/// Gradients of `Σ_k <outputs[k], grad_outputs[k]>` with respect to each of `inputs`
/// (like `torch.autograd.grad`). `None` where an input does not influence the outputs.
/// With `create_graph` the returned gradients carry history and can be differentiated again.
pub fn grad(
    outputs: &[Var],
    grad_outputs: &[Var],
    inputs: &[Var],
    create_graph: bool,
) -> Result<Vec<Option<Var>>> {
    let parts = grad_parts(outputs, grad_outputs, inputs, create_graph)?;
    with_grad_mode(create_graph && grad_enabled(), || {
        parts
            .into_iter()
            .map(|p| {
                if p.is_empty() {
                    Ok(None)
                } else {
                    sum_parts(p).map(Some)
                }
            })
            .collect()
    })
}

/// `grad` before the last additions: for each input, the gradients it received in the order
/// they arrived (empty where it does not influence the outputs), so that a consumer can add
/// them itself, in that order, as part of its own work (the optimizer does, in its one
/// dispatch per network). An input that is itself computed from other wanted inputs gets
/// its sum as a single part.
pub fn grad_parts(
    outputs: &[Var],
    grad_outputs: &[Var],
    inputs: &[Var],
    create_graph: bool,
) -> Result<Vec<Vec<Var>>> {
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
        if let Some(gf) = v.grad_fn() {
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
        if let Some(gf) = v.grad_fn() {
            l |= gf.inputs.iter().any(|i| leads.contains(&i.key()));
        }
        if l {
            leads.insert(v.key());
        }
    }
    let mut grads: HashMap<*const VarNode, Vec<Var>> = HashMap::new();
    let run = |grads: &mut HashMap<*const VarNode, Vec<Var>>| -> Result<()> {
        for (o, g) in outputs.iter().zip(grad_outputs) {
            if leads.contains(&o.key()) {
                accumulate(grads, o.key(), g.clone())?;
            }
        }
        for v in order.iter().rev() {
            let Some(gf) = v.grad_fn() else { continue };
            if !leads.contains(&v.key()) {
                continue;
            }
            let g = if wanted.contains(&v.key()) {
                match grads.get_mut(&v.key()) {
                    // Summed once; the sum is also what the pass returns for it.
                    Some(parts) => {
                        let total = sum_parts(std::mem::take(parts))?;
                        parts.push(total.clone());
                        Some(total)
                    }
                    None => None,
                }
            } else {
                grads.remove(&v.key()).map(sum_parts).transpose()?
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
                    accumulate(grads, inp.key(), gin)?;
                }
            }
        }
        Ok(())
    };
    with_grad_mode(create_graph && grad_enabled(), || run(&mut grads))?;
    Ok(inputs
        .iter()
        .map(|v| grads.get(&v.key()).cloned().unwrap_or_default())
        .collect())
}

fn accumulate(
    grads: &mut HashMap<*const VarNode, Vec<Var>>,
    k: *const VarNode,
    g: Var,
) -> Result<()> {
    grads.entry(k).or_default().push(g);
    Ok(())
}

/// Gradients a var received, added in the order they arrived: `((g0 + g1) + g2) + ...`.
/// Where that records history, one `add` at a time (the graph a second differentiation walks
/// stays the same chain); otherwise up to four at a time with `add_n`, which rounds the same.
pub fn sum_parts(parts: Vec<Var>) -> Result<Var> {
    use crate::ops::elementwise::{add, add_n, ADD_N_MAX};
    let recorded = records(&parts.iter().collect::<Vec<_>>());
    let mut it = parts.into_iter();
    let Some(mut acc) = it.next() else {
        return Err(Error::Invalid("a gradient sum of nothing".into()));
    };
    let rest: Vec<Var> = it.collect();
    if recorded {
        for p in &rest {
            acc = add(&acc, p)?;
        }
        return Ok(acc);
    }
    for chunk in rest.chunks(ADD_N_MAX - 1) {
        let mut xs = vec![&acc];
        xs.extend(chunk);
        acc = if xs.len() == 2 {
            add(xs[0], xs[1])?
        } else {
            add_n(&xs)?
        };
    }
    Ok(acc)
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
