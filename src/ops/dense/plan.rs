//! Which kernel runs a matmul: a table of candidates (each with its name, what it takes, how it
//! runs) and `matmul_plan`, a pure function of the shape, the adapter's capabilities and the
//! context's policy. `matmul_on` runs any candidate by name (tests, benchmarks, an autotuner
//! timing every candidate that `matmul_supports` a shape).

use std::fmt;

use crate::error::{Error, Result};
use crate::gpu::{AdapterCaps, Kernel, Policy, Tensor};
use crate::ops::dense::{blocked, matmul_shape, subgroup};

/// One matmul `alpha * op(a)[m, k] @ op(b)[k, n]`; `op` transposes when its flag is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulShape {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
}

/// A batch of `n` matmuls in one dispatch: an operand flagged here is `[n, rows, cols]` (one
/// matrix per product), the other one 2-D and shared by all; the result is `[n, m, n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Batch {
    pub n: usize,
    pub a: bool,
    pub b: bool,
}

impl Batch {
    /// One product: both operands 2-D.
    pub const ONE: Batch = Batch {
        n: 1,
        a: false,
        b: false,
    };
}

/// One matmul kernel, as the planner and the benchmarks see it.
pub(super) trait MatmulImpl: Sync {
    /// Its name in `MatmulKernel::ALL`, benchmark reports and errors.
    fn name(&self) -> &'static str;

    /// The `Gpu::tally` name of a matmul planned on it.
    fn tally(&self) -> &'static str;

    /// Whether it can run `s` on an adapter with `caps`, whatever the policy.
    fn supports(&self, s: &MatmulShape, caps: &AdapterCaps) -> bool;

    /// Whether the policy's switches leave it on.
    fn enabled(&self, _policy: &Policy) -> bool {
        true
    }

    /// `alpha * op(a) @ op(b)`; the caller checked the shapes and `supports`.
    fn run(&self, a: &Tensor, b: &Tensor, s: &MatmulShape, alpha: f32) -> Result<Tensor>;

    /// Whether it runs a batch of `s` in one dispatch (`run_batched`).
    fn supports_batched(&self, _s: &MatmulShape, _b: Batch, _caps: &AdapterCaps) -> bool {
        false
    }

    /// The batch `b` of `alpha * op(a) @ op(b)`, `[b.n, m, n]`; the caller checked
    /// `supports_batched`.
    fn run_batched(
        &self,
        _a: &Tensor,
        _b: &Tensor,
        s: &MatmulShape,
        _bt: Batch,
        _alpha: f32,
    ) -> Result<Tensor> {
        Err(Error::Invalid(format!(
            "matmul kernel {} runs no batches ({s:?})",
            self.name()
        )))
    }

    /// Its kernels, the rendered ones for representative shapes (shader tests).
    fn kernels(&self) -> Result<Vec<Kernel>>;
}

/// A matmul kernel: one entry of the planner's table. Equal when the names are.
#[derive(Clone, Copy)]
pub struct MatmulKernel(&'static dyn MatmulImpl);

impl MatmulKernel {
    /// Subgroup broadcast, each lane owning 4 rows of the output, tiles of 32 x 32 (the tile
    /// of `op(b)` broadcast).
    pub const SUBGROUP_ROWS_4X32: MatmulKernel = MatmulKernel(&subgroup::ROWS_4X32);
    /// Lanes owning 8 rows: tiles of 64 x 32.
    pub const SUBGROUP_ROWS_8X32: MatmulKernel = MatmulKernel(&subgroup::ROWS_8X32);
    /// Lanes owning 4 rows: tiles of 32 x 64.
    pub const SUBGROUP_ROWS_4X64: MatmulKernel = MatmulKernel(&subgroup::ROWS_4X64);
    /// The same three with the lanes owning columns of the output (the tile of `op(a)`
    /// broadcast).
    pub const SUBGROUP_COLS_4X32: MatmulKernel = MatmulKernel(&subgroup::COLS_4X32);
    pub const SUBGROUP_COLS_8X32: MatmulKernel = MatmulKernel(&subgroup::COLS_8X32);
    pub const SUBGROUP_COLS_4X64: MatmulKernel = MatmulKernel(&subgroup::COLS_4X64);
    /// One invocation per 4x4 output block, any adapter.
    pub const BLOCKED: MatmulKernel = MatmulKernel(&blocked::Blocked);

    /// Every kernel (what an autotuner times, what the tests check).
    pub const ALL: &'static [MatmulKernel] = &[
        MatmulKernel::SUBGROUP_ROWS_4X32,
        MatmulKernel::SUBGROUP_ROWS_8X32,
        MatmulKernel::SUBGROUP_ROWS_4X64,
        MatmulKernel::SUBGROUP_COLS_4X32,
        MatmulKernel::SUBGROUP_COLS_8X32,
        MatmulKernel::SUBGROUP_COLS_4X64,
        MatmulKernel::BLOCKED,
    ];

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The kernel named `name` (`MatmulKernel::name`).
    pub fn by_name(name: &str) -> Option<MatmulKernel> {
        MatmulKernel::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Whether the policy's switches leave it on.
    pub fn enabled(self, policy: &Policy) -> bool {
        self.0.enabled(policy)
    }

    pub(super) fn tally(self) -> &'static str {
        self.0.tally()
    }

    pub(super) fn kernels(self) -> Result<Vec<Kernel>> {
        self.0.kernels()
    }
}

impl PartialEq for MatmulKernel {
    fn eq(&self, other: &MatmulKernel) -> bool {
        self.name() == other.name()
    }
}

impl Eq for MatmulKernel {}

impl std::hash::Hash for MatmulKernel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for MatmulKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MatmulKernel({})", self.name())
    }
}

/// Whether `kernel` can run `s` on an adapter with `caps` (whatever the policy).
pub fn matmul_supports(kernel: MatmulKernel, s: &MatmulShape, caps: &AdapterCaps) -> bool {
    kernel.0.supports(s, caps)
}

/// The kernel for `s`; `None` when none takes it (a grid past the adapter's limits).
///
/// With 8-wide subgroups (and the policy's `subgroup_conv` switch on: `STYLEGAN_NO_FAST_CONV=1`
/// turns every subgroup kernel off), a subgroup kernel whose lanes own the longer side of the
/// output: the owned side comes in tiles of 8 lanes x 4 or 8, the other side's tile shrinks to
/// fit, so short sides (the mapping network at batch 4, a batch-1 fc layer) waste no lanes.
/// Lanes own 8 rows (or columns) each where that side has 64 or more, else 4. Otherwise the
/// 4x4-block kernel.
pub fn matmul_plan(s: &MatmulShape, caps: &AdapterCaps, policy: &Policy) -> Option<MatmulKernel> {
    let rows = s.m >= s.n;
    let wide = s.m.max(s.n) >= 64;
    let sub = match (rows, wide) {
        (true, true) => MatmulKernel::SUBGROUP_ROWS_8X32,
        (true, false) => MatmulKernel::SUBGROUP_ROWS_4X32,
        (false, true) => MatmulKernel::SUBGROUP_COLS_8X32,
        (false, false) => MatmulKernel::SUBGROUP_COLS_4X32,
    };
    [sub, MatmulKernel::BLOCKED]
        .into_iter()
        .find(|k| k.enabled(policy) && k.0.supports(s, caps))
}

/// The kernels that may run `s` under `policy`: the fixed plan's pick first (`matmul_plan`),
/// then every other kernel the policy leaves on that takes it, in [`MatmulKernel::ALL`]'s order.
pub fn matmul_candidates(
    s: &MatmulShape,
    caps: &AdapterCaps,
    policy: &Policy,
) -> Vec<MatmulKernel> {
    let first = matmul_plan(s, caps, policy);
    first
        .into_iter()
        .chain(
            MatmulKernel::ALL
                .iter()
                .copied()
                .filter(|k| Some(*k) != first && k.enabled(policy) && k.0.supports(s, caps)),
        )
        .collect()
}

/// The kernel for `s`: the policy's pin (family [`FAMILY`]) where it takes `s`, else the tuned
/// choice where one is given (`Gpu::tuned`), else `matmul_plan`'s.
pub fn matmul_plan_with(
    s: &MatmulShape,
    caps: &AdapterCaps,
    policy: &Policy,
    tuned: Option<&str>,
) -> Option<MatmulKernel> {
    let cands = matmul_candidates(s, caps, policy);
    let named =
        |name: Option<&str>| name.and_then(|n| cands.iter().copied().find(|k| k.name() == n));
    named(policy.pin.get(FAMILY).map(String::as_str))
        .or_else(|| named(tuned))
        .or_else(|| cands.first().copied())
}

/// The matmul's kernel family in the tuning table and in pins (`STYLEGAN_PIN=matmul=blocked`).
pub const FAMILY: &str = "matmul";

/// The matmul's shape key in the tuning table.
pub fn tune_key(s: &MatmulShape) -> String {
    let t = |f: bool| if f { "T" } else { "" };
    format!(
        "{}x{}{} @ {}x{}{}",
        s.m,
        s.k,
        t(s.trans_a),
        s.k,
        s.n,
        t(s.trans_b)
    )
}

/// `alpha * op(a) @ op(b)` on `kernel`, whatever the plan would pick; an error when the shapes
/// do not match or the kernel does not take them on this adapter.
pub fn matmul_on(
    kernel: MatmulKernel,
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    alpha: f32,
) -> Result<Tensor> {
    let s = matmul_shape(a.shape(), b.shape(), trans_a, trans_b)?;
    let caps = a.gpu().caps();
    if !kernel.0.supports(&s, &caps) {
        return Err(Error::Invalid(format!(
            "matmul kernel {} does not take {s:?} on {}",
            kernel.name(),
            a.gpu().info().name
        )));
    }
    kernel.0.run(a, b, &s, alpha)
}

/// Whether `kernel` runs the batch `b` of `s` in one dispatch on an adapter with `caps`.
pub fn matmul_batched_supports(
    kernel: MatmulKernel,
    s: &MatmulShape,
    b: Batch,
    caps: &AdapterCaps,
) -> bool {
    kernel.0.supports_batched(s, b, caps)
}

/// `b.n` products `alpha * op(a[i]) @ op(b[i])` in one dispatch on `kernel`, `[b.n, m, n]`: an
/// operand `b` flags is `[b.n, rows, cols]` (the product takes its `i`-th matrix), the other is
/// 2-D and shared (e.g. a 1x1 conv: the weights shared, one image per product). An error when
/// the shapes do not match or the kernel does not take the batch on this adapter.
pub fn matmul_batched_on(
    kernel: MatmulKernel,
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    batch: Batch,
    alpha: f32,
) -> Result<Tensor> {
    let mat = |t: &Tensor, on: bool| -> Result<Vec<usize>> {
        match (on, t.shape()) {
            (false, sh) => Ok(sh.to_vec()),
            (true, [n, r, c]) if *n == batch.n => Ok(vec![*r, *c]),
            (true, sh) => Err(Error::Shape {
                op: "matmul",
                msg: format!(
                    "a batched operand must be [{}, rows, cols], got {sh:?}",
                    batch.n
                ),
            }),
        }
    };
    let s = matmul_shape(&mat(a, batch.a)?, &mat(b, batch.b)?, trans_a, trans_b)?;
    let caps = a.gpu().caps();
    if !kernel.0.supports_batched(&s, batch, &caps) {
        return Err(Error::Invalid(format!(
            "matmul kernel {} does not take the batch {batch:?} of {s:?} on {}",
            kernel.name(),
            a.gpu().info().name
        )));
    }
    kernel.0.run_batched(a, b, &s, batch, alpha)
}
