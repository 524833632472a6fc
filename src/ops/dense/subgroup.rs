//! The subgroup-broadcast matmul kernels for adapters with 8-wide subgroups (lavapipe, many
//! Intel GPUs): the technique of the subgroup conv applied to `op(a) @ op(b)`, described in the
//! template, `shaders/dense/subgroup.wgsl`. The lanes own rows of the output (each lane loads
//! its rows of `op(a)`, the tile of `op(b)` is broadcast) or columns (the kernel computes the
//! transpose, `op(b)^T @ op(a)^T`, with the operands' roles swapped, and stores it transposed),
//! with three block sizes each: six candidates in the planner's table.
//!
//! Every layout and size is taken: a transposed operand costs nothing (the vec4 loads run
//! along whichever side is contiguous), and a contiguous side that is not a multiple of 4 is
//! read with scalar loads (64x510x512 measured from as fast to 2x slower than 64x512x512), so no
//! explicit transpose or padding copy is needed.
//!
//! The WGSL is rendered per shape (every size a compile-time constant, only `alpha` a uniform)
//! and cached by shape; the first dispatch of a new shape compiles it.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::gpu::template::render;
use crate::gpu::{Access, AdapterCaps, Kernel, Policy, Tensor};
use crate::kernel_params;
use crate::ops::dense::plan::{Batch, MatmulImpl, MatmulShape};
use crate::ops::MAX_LOOP;

/// Lanes per workgroup; must equal the subgroup size (`AdapterCaps::subgroup8`).
const LANES: usize = 8;
/// Inner-dim values per part: at most `MAX_LOOP` iterations of the 4-wide k loop.
const KCHUNK: usize = 4 * MAX_LOOP;

kernel_params! {
    /// Parameters of `shaders/dense/subgroup.wgsl`.
    pub struct DenseSubgroupParams { alpha: f32 }
}

const TEMPLATE: &str = "dense/subgroup.wgsl";
const TEMPLATES: &[(&str, &str)] = &[(
    TEMPLATE,
    include_str!("../../../shaders/dense/subgroup.wgsl"),
)];

/// Which side of the output the lanes own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Own {
    Rows,
    Cols,
}

/// One shape, in the kernel's terms: `D[m, n] = op(X)[m, k] @ op(Y)[k, n]` with `D = C`,
/// `X = a`, `Y = b` (`Own::Rows`) or `D = C^T`, `X = b`, `Y = a` (`Own::Cols`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Layout {
    own: Own,
    m: usize,
    n: usize,
    k: usize,
    /// `op(X)[i, k]` is `X[i * k + k]` (else `X[k * m + i]`).
    xkc: bool,
    /// `op(Y)[k, j]` is `Y[j * k + k]` (else `Y[k * n + j]`).
    ykc: bool,
    /// Rows of the output each lane owns (a multiple of 4: vec4 loads along them).
    ro: usize,
    /// Columns of a workgroup's tile: a multiple of 4, at most the candidate's `rs_max`.
    rs: usize,
    /// Products per dispatch, and whether X / Y has one matrix per product (else shared).
    batch: usize,
    xb: bool,
    yb: bool,
}

impl Layout {
    fn new(c: &Subgroup, s: &MatmulShape) -> Layout {
        Layout::batched(c, s, Batch::ONE)
    }

    fn batched(c: &Subgroup, s: &MatmulShape, b: Batch) -> Layout {
        let own = c.own;
        let (xb, yb) = match own {
            Own::Rows => (b.a, b.b),
            Own::Cols => (b.b, b.a),
        };
        let (m, n, xkc, ykc) = match own {
            Own::Rows => (s.m, s.n, !s.trans_a, s.trans_b),
            Own::Cols => (s.n, s.m, s.trans_b, !s.trans_a),
        };
        // As few tiles as RS_MAX allows, as narrow as they can be (n = 40 gives two tiles of
        // 20, not 32 + 8 with 24 idle columns).
        let tiles = n.div_ceil(c.rs_max).max(1);
        let rs = n.div_ceil(tiles).next_multiple_of(4);
        Layout {
            own,
            m,
            n,
            k: s.k,
            xkc,
            ykc,
            ro: c.ro,
            rs,
            batch: b.n,
            xb,
            yb,
        }
    }

    /// vec4 loads of X: its contiguous side is a multiple of 4.
    fn xv(&self) -> bool {
        if self.xkc {
            self.k.is_multiple_of(4)
        } else {
            self.m.is_multiple_of(4)
        }
    }

    fn yv(&self) -> bool {
        if self.ykc {
            self.k.is_multiple_of(4)
        } else {
            self.n.is_multiple_of(4)
        }
    }

    /// vec4 stores: the stored rows' length is a multiple of 4.
    fn ov(&self) -> bool {
        match self.own {
            Own::Rows => self.n.is_multiple_of(4),
            Own::Cols => self.m.is_multiple_of(4),
        }
    }

    fn tiles_n(&self) -> usize {
        self.n.div_ceil(self.rs)
    }

    fn tiles(&self) -> usize {
        self.m.div_ceil(LANES * self.ro) * self.tiles_n()
    }

    fn parts(&self) -> usize {
        self.k.div_ceil(KCHUNK).max(1)
    }

    /// Tiles over (x, y), parts along z; `None` when it does not fit `maxd` per dimension.
    fn grid(&self, maxd: usize) -> Option<[u32; 3]> {
        let groups = self.tiles();
        let gx = groups.min(maxd);
        let gy = groups.div_ceil(gx);
        let gz = self.parts() * self.batch;
        (gy <= maxd && gz <= maxd).then_some([gx as u32, gy as u32, gz as u32])
    }

    fn key(&self) -> String {
        let Layout {
            m,
            n,
            k,
            xkc,
            ykc,
            ro,
            rs,
            batch,
            xb,
            yb,
            ..
        } = *self;
        let own = match self.own {
            Own::Rows => "rows",
            Own::Cols => "cols",
        };
        let lay = |kc: bool| if kc { "k" } else { "o" };
        let mut key = format!(
            "dense_subgroup:{own}:m{m}:n{n}:k{k}:x{}:y{}:ro{ro}:rs{rs}",
            lay(xkc),
            lay(ykc)
        );
        if batch > 1 {
            key += &format!(
                ":b{batch}:{}{}",
                if xb { "x" } else { "" },
                if yb { "y" } else { "" }
            );
        }
        key
    }

    fn wgsl(&self) -> Result<String> {
        let l = self;
        // A batched operand's matrix, in its array's elements.
        let stride = |on: bool, size: usize, v: bool| match (on, v) {
            (false, _) => 0,
            (true, true) => size / 4,
            (true, false) => size,
        };
        render(
            TEMPLATES,
            TEMPLATE,
            minijinja::context! {
                KEY => l.key(),
                M => l.m, N => l.n, K => l.k, RO => l.ro, RS => l.rs,
                NL => l.rs.div_ceil(LANES),
                TILES_N => l.tiles_n(), TILES => l.tiles(),
                KCHUNK => KCHUNK, PARTS => l.parts(), KT => l.k % 4,
                XKC => l.xkc, YKC => l.ykc, XV => l.xv(), YV => l.yv(), OV => l.ov(),
                ROWS_OUT => l.own == Own::Rows,
                BATCH => l.batch,
                XB => stride(l.xb, l.m * l.k, l.xv()),
                YB => stride(l.yb, l.k * l.n, l.yv()),
            },
        )
    }

    fn kernel(&self) -> Result<Rc<Kernel>> {
        let key = self.key();
        if let Some(k) = KERNELS.with(|m| m.borrow().get(&key).cloned()) {
            return Ok(k);
        }
        let k = Rc::new(Kernel {
            key: Cow::Owned(key.clone()),
            file: TEMPLATE,
            source: Cow::Owned(self.wgsl()?),
            entry: "main",
            bindings: &[Access::Read, Access::Read, Access::ReadWrite],
            params: &<DenseSubgroupParams as crate::gpu::KernelParams>::LAYOUT,
        });
        KERNELS.with(|m| m.borrow_mut().insert(key, k.clone()));
        Ok(k)
    }
}

thread_local! {
    /// Rendered kernels by shape key (the context caches the compiled pipeline under the same
    /// key).
    static KERNELS: RefCell<HashMap<String, Rc<Kernel>>> = RefCell::new(HashMap::new());
}

/// A subgroup matmul candidate: lanes owning rows or columns of the output.
pub(super) struct Subgroup {
    name: &'static str,
    tally: &'static str,
    own: Own,
    /// Rows of the output each lane owns.
    ro: usize,
    /// Most columns of a workgroup's tile (the broadcast side).
    rs_max: usize,
}

macro_rules! candidate {
    ($name:literal, $own:expr, $ro:expr, $rs:expr) => {
        Subgroup {
            name: $name,
            tally: concat!("matmul on ", $name),
            own: $own,
            ro: $ro,
            rs_max: $rs,
        }
    };
}

// The candidates: lanes on rows or columns, RO x RS_MAX. Loads per lane-step are RO + RS / 8
// for RO * RS vec4 FMAs, so larger blocks load less per FMA until the accumulators (RO * RS
// values per lane) spill too much: 8 x 32 and 4 x 64 measured best on lavapipe for large
// shapes, 4 x 32 wastes fewer lanes where the owned side is short.
pub(super) const ROWS_4X32: Subgroup = candidate!("subgroup-rows-4x32", Own::Rows, 4, 32);
pub(super) const COLS_4X32: Subgroup = candidate!("subgroup-cols-4x32", Own::Cols, 4, 32);
pub(super) const ROWS_8X32: Subgroup = candidate!("subgroup-rows-8x32", Own::Rows, 8, 32);
pub(super) const COLS_8X32: Subgroup = candidate!("subgroup-cols-8x32", Own::Cols, 8, 32);
pub(super) const ROWS_4X64: Subgroup = candidate!("subgroup-rows-4x64", Own::Rows, 4, 64);
pub(super) const COLS_4X64: Subgroup = candidate!("subgroup-cols-4x64", Own::Cols, 4, 64);

impl MatmulImpl for Subgroup {
    fn name(&self) -> &'static str {
        self.name
    }

    fn tally(&self) -> &'static str {
        self.tally
    }

    fn supports(&self, s: &MatmulShape, caps: &AdapterCaps) -> bool {
        self.supports_batched(s, Batch::ONE, caps)
    }

    fn supports_batched(&self, s: &MatmulShape, b: Batch, caps: &AdapterCaps) -> bool {
        caps.subgroup8
            && s.m > 0
            && s.n > 0
            && s.k > 0
            && b.n > 0
            && Layout::batched(self, s, b)
                .grid(caps.max_workgroups as usize)
                .is_some()
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.subgroup_conv
    }

    fn run(&self, a: &Tensor, b: &Tensor, s: &MatmulShape, alpha: f32) -> Result<Tensor> {
        self.run_batched(a, b, s, Batch::ONE, alpha)?
            .reshape(&[s.m, s.n])
    }

    fn run_batched(
        &self,
        a: &Tensor,
        b: &Tensor,
        s: &MatmulShape,
        bt: Batch,
        alpha: f32,
    ) -> Result<Tensor> {
        let gpu = a.gpu();
        let l = Layout::batched(self, s, bt);
        let grid = l
            .grid(gpu.caps().max_workgroups as usize)
            .ok_or_else(|| Error::Invalid(format!("{}: grid too large for {s:?}", self.name())))?;
        let parts = l.parts();
        let y = Tensor::empty(gpu, &[parts, bt.n, s.m, s.n])?;
        let (x, yop) = match self.own {
            Own::Rows => (a, b),
            Own::Cols => (b, a),
        };
        gpu.dispatch3(
            &*l.kernel()?,
            &[x, yop, &y],
            &DenseSubgroupParams { alpha },
            grid,
        )?;
        crate::ops::reduce::sum_parts(y, &[bt.n, s.m, s.n])
    }

    /// Every transpose combination at the mapping network's shape, and odd sizes (scalar
    /// loads and stores, a K % 4 tail).
    fn kernels(&self) -> Result<Vec<Kernel>> {
        let mut out = Vec::new();
        for (m, k, n) in [(64, 512, 512), (5, 7, 9)] {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                let s = MatmulShape {
                    m,
                    k,
                    n,
                    trans_a,
                    trans_b,
                };
                out.push((*Layout::new(self, &s).kernel()?).clone());
            }
        }
        // Batched, as a 1x1 conv runs it (the weights shared, one image per product).
        for (m, k, n) in [(64, 192, 1225), (5, 7, 9)] {
            let s = MatmulShape {
                m,
                k,
                n,
                trans_a: true,
                trans_b: false,
            };
            let b = Batch {
                n: 2,
                a: false,
                b: true,
            };
            out.push((*Layout::batched(self, &s, b).kernel()?).clone());
        }
        Ok(out)
    }
}
