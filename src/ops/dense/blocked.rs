//! The portable matmul kernel, `shaders/dense/matmul.wgsl`: one invocation per 4x4 block of the
//! output, any adapter, any shape and transposes (strides picked by the host). The fallback
//! where the subgroup kernels do not run.

use crate::error::Result;
use crate::gpu::kernel::u32p;
use crate::gpu::{AdapterCaps, Kernel, Tensor};
use crate::ops::dense::plan::{MatmulImpl, MatmulShape};
use crate::ops::MAX_LOOP;
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

/// Invocations per workgroup (`MM_WG` in `dense/matmul.wgsl`).
const MM_WG: usize = 64;
/// Each invocation computes a `BLOCK x BLOCK` block of the output.
const BLOCK: usize = 4;

pub(super) struct Blocked;

impl MatmulImpl for Blocked {
    fn name(&self) -> &'static str {
        "blocked"
    }

    fn tally(&self) -> &'static str {
        "matmul on blocked"
    }

    /// Any shape whose 1-D grid fits the adapter.
    fn supports(&self, s: &MatmulShape, caps: &AdapterCaps) -> bool {
        let groups = (tiles(s) * parts(s)).div_ceil(MM_WG);
        groups.div_ceil(caps.max_workgroups as usize) <= caps.max_workgroups as usize
    }

    fn run(&self, a: &Tensor, b: &Tensor, s: &MatmulShape, alpha: f32) -> Result<Tensor> {
        let MatmulShape { m, k, n, .. } = *s;
        let parts = parts(s);
        let y = Tensor::empty(a.gpu(), &[parts, m, n])?;
        let (a_sm, a_sk) = if s.trans_a { (1, m) } else { (k, 1) };
        let (b_sk, b_sn) = if s.trans_b { (1, k) } else { (n, 1) };
        let tiles = tiles(s);
        let u = u32p;
        let p = MatmulParams {
            m: u(m),
            n: u(n),
            k: u(k),
            a_sm: u(a_sm),
            a_sk: u(a_sk),
            b_sk: u(b_sk),
            b_sn: u(b_sn),
            tiles_n: u(n.div_ceil(BLOCK)),
            tiles: u(tiles),
            alpha,
            kchunk: u(MAX_LOOP),
            parts: u(parts),
        };
        a.gpu()
            .dispatch(&MATMUL, &[a, b, &y], &p, u((tiles * parts).div_ceil(MM_WG)))?;
        crate::ops::reduce::sum_parts(y, &[m, n])
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        Ok(vec![MATMUL])
    }
}

fn tiles(s: &MatmulShape) -> usize {
    s.m.div_ceil(BLOCK) * s.n.div_ceil(BLOCK)
}

/// Inner dims past MAX_LOOP are summed in parts (see `MAX_LOOP`), then the parts.
fn parts(s: &MatmulShape) -> usize {
    s.k.div_ceil(MAX_LOOP).max(1)
}
