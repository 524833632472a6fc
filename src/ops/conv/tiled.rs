//! Tiled implicit-GEMM convolution (`shaders/conv/tiled.wgsl`): the kernel for
//! adapters without the lavapipe subgroup path (every real GPU) and for the convs that path
//! does not take (1x1, non-square kernels, other strides and paddings).
//!
//! As a GEMM: rows are the output channels O, columns the output pixels (n, p, q), and the
//! reduction runs over (tap, input channel) in the weights' HWIO order, so consecutive
//! reduction rows are consecutive weight rows. A workgroup computes a BM x BN tile of Y: per
//! step it stages BK reduction rows of weights and of the gathered input (zero padding applied
//! by the gather) in workgroup memory, then each invocation updates its TM x TN register block
//! from vec4 reads of that memory (TM + TN floats read per TM * TN FMAs).
//!
//! Transposed stride-s convs (the up-conv and the input gradient of the down-conv) are split
//! into s*s classes by output parity: within a class only (k/s)^2 taps reach an output pixel,
//! so the reduction holds no zero taps (a direct gather over all k^2 taps, as the direct
//! kernel does, leaves 3 of 4 idle for the 4x4 up-conv).
//!
//! Shapes are uniforms: one pipeline per tile configuration serves every shape. The parameter
//! block and tile geometry are shared with the f16 cooperative-matrix kernel (`coop`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::kernel::u32p;
use crate::gpu::template::render;
use crate::gpu::Policy;
use crate::gpu::{Access, AdapterCaps, Kernel, KernelParams, Precision, Tensor};
use crate::kernel_params;
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel, TILED_MIN_CHANNELS};
use crate::ops::conv::ConvGeometry;
use crate::ops::MAX_LOOP;

/// The templates of the implicit-GEMM kernels and their shared parts.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "conv/tiled.wgsl",
        include_str!("../../../shaders/conv/tiled.wgsl"),
    ),
    (
        "conv/coop.wgsl",
        include_str!("../../../shaders/conv/coop.wgsl"),
    ),
    (
        "conv/gemm_params.wgsl",
        include_str!("../../../shaders/conv/gemm_params.wgsl"),
    ),
    (
        "conv/gemm_tile.wgsl",
        include_str!("../../../shaders/conv/gemm_tile.wgsl"),
    ),
];

kernel_params! {
    /// Parameters of the implicit-GEMM conv kernels (`shaders/conv/gemm_params.wgsl`).
    pub struct GemmParams {
        c: u32, h: u32, w: u32, o: u32, ho: u32, wo: u32, kh: u32, kw: u32, kth: u32, ktw: u32,
        kred: u32, s: i32, ph: i32, pw: i32, mode: u32, hc: u32, wc: u32, pix: u32,
        tiles_pix: u32, classes: u32, alpha: f32,
    }
}

/// A tile configuration: BM output channels x BN pixels per workgroup, BK reduction rows per
/// step, TM x TN outputs per invocation (multiples of 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    pub bm: usize,
    pub bn: usize,
    pub bk: usize,
    pub tm: usize,
    pub tn: usize,
}

impl Tile {
    fn threads(&self) -> usize {
        (self.bm / self.tm) * (self.bn / self.tn)
    }

    /// Register blocks of whole vec4s that divide the tile, and staging loads that spread
    /// evenly over the invocations.
    pub fn valid(&self) -> bool {
        let dims = [self.bm, self.bn, self.bk, self.tm, self.tn];
        if dims.contains(&0) || !self.tm.is_multiple_of(4) || !self.tn.is_multiple_of(4) {
            return false;
        }
        if !self.bm.is_multiple_of(self.tm) || !self.bn.is_multiple_of(self.tn) {
            return false;
        }
        let nt = self.threads();
        let (a, b) = (self.bk * self.bm / 4, self.bk * self.bn / 4);
        a >= nt && b >= nt && a.is_multiple_of(nt) && b.is_multiple_of(nt)
    }
}

/// 64 x 64 tiles, 8 x 8 per invocation (64 invocations): small layers, and every layer on CPU
/// adapters. On lavapipe it measured 3.9 GFLOP/s on the fused 64-channel convs at 32² against
/// 2.8 for 4 x 4 blocks of a 64 x 64 tile and 2.5 for the large tile (and 0.75-1.06 for the
/// direct kernel).
pub const TILE_SMALL: Tile = Tile {
    bm: 64,
    bn: 64,
    bk: 16,
    tm: 8,
    tn: 8,
};
/// 128 x 128 tiles, 8 x 8 per invocation (256 invocations): large layers on GPUs, four times the
/// outputs per workgroup for the same workgroup-memory traffic per FMA. Not yet measured on a
/// real GPU (no session so far had one): the switch-over in `tile_for` is a guess.
pub const TILE_LARGE: Tile = Tile {
    bm: 128,
    bn: 128,
    bk: 8,
    tm: 8,
    tn: 8,
};

/// The reduction geometry of `g` as the GEMM kernels see it.
pub(crate) struct Classes {
    /// Taps per axis in the reduction (per phase class for transposed convs).
    kth: usize,
    ktw: usize,
    /// Phase classes (1 for forward convs, s * s for transposed ones).
    classes: usize,
    /// Output rows and columns per class.
    hc: usize,
    wc: usize,
}

pub(crate) fn classes(g: &ConvGeometry) -> Classes {
    if g.transposed {
        let s = g.stride;
        Classes {
            kth: g.kh / s,
            ktw: g.kw / s,
            classes: s * s,
            hc: g.ho / s,
            wc: g.wo / s,
        }
    } else {
        Classes {
            kth: g.kh,
            ktw: g.kw,
            classes: 1,
            hc: g.ho,
            wc: g.wo,
        }
    }
}

/// How the GEMM kernels run one conv with `bm` x `bn` tiles: its reduction geometry, the
/// pixels per class, and the workgroup grid.
pub(crate) struct GemmLayout {
    c: Classes,
    pix: usize,
    tiles_pix: usize,
    grid: [usize; 3],
}

/// The layout of `g` on `caps`; `None` where the GEMM kernels do not take it: transposed convs
/// need the kernel and the output divisible by the stride (so every phase class has the same
/// taps and rows); the reduction must fit one invocation's loop budget and the grid the
/// adapter.
pub(crate) fn gemm_layout(
    g: &ConvGeometry,
    caps: &AdapterCaps,
    bm: usize,
    bn: usize,
) -> Option<GemmLayout> {
    let s = g.stride;
    if g.transposed
        && [g.kh, g.kw, g.ho, g.wo]
            .iter()
            .any(|v| !v.is_multiple_of(s))
    {
        return None;
    }
    let c = classes(g);
    let pix = g.n * c.hc * c.wc;
    if c.kth * c.ktw * g.c > MAX_LOOP || g.o == 0 || pix == 0 {
        return None;
    }
    let maxd = caps.max_workgroups as usize;
    let tiles_pix = pix.div_ceil(bn);
    let gx = tiles_pix.min(maxd);
    let gy = tiles_pix.div_ceil(gx);
    let gz = g.o.div_ceil(bm) * c.classes;
    (gy <= maxd && gz <= maxd).then_some(GemmLayout {
        c,
        pix,
        tiles_pix,
        grid: [gx, gy, gz],
    })
}

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&Tiled);

struct Tiled;

impl ConvImpl for Tiled {
    conv_names!("tiled");

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        supports(g, caps)
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.tiled_conv
    }

    fn planned(&self, g: &ConvGeometry, policy: &Policy, _prec: Precision) -> bool {
        self.enabled(policy) && g.o >= TILED_MIN_CHANNELS
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        run(x, w, g, alpha)
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        [TILE_SMALL, TILE_LARGE].into_iter().map(kernel).collect()
    }
}

/// Whether the tiled kernel takes `g` on `caps` (with the tile `tile_for` picks).
pub fn supports(g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    let t = tile_for(g, caps);
    gemm_layout(g, caps, t.bm, t.bn).is_some()
}

/// The tile configuration for `g`: large tiles only on GPUs and where there is enough work to
/// fill one with them.
pub fn tile_for(g: &ConvGeometry, caps: &AdapterCaps) -> Tile {
    let c = classes(g);
    if !caps.cpu && g.o >= 128 && g.n * c.hc * c.wc * c.classes >= 16384 {
        TILE_LARGE
    } else {
        TILE_SMALL
    }
}

/// `alpha * conv(x, w)` as `g` describes it, on the tile `tile_for` picks.
pub fn run(x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
    run_with_tile(x, w, g, tile_for(g, &x.gpu().caps()), alpha)
}

/// `alpha * conv(x, w)` on the tiles `tile` (tests and benchmarks compare tiles).
pub fn run_with_tile(
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    tile: Tile,
    alpha: f32,
) -> Result<Tensor> {
    if !tile.valid() {
        return Err(crate::Error::Invalid(format!(
            "conv_tiled: tile {tile:?} is not a valid configuration"
        )));
    }
    dispatch_gemm(&*kernel_for(tile)?, x, w, g, tile.bm, tile.bn, alpha)
}

/// One dispatch of an implicit-GEMM conv kernel with `bm` x `bn` output tiles (this module's
/// and the f16 cooperative-matrix one).
pub(crate) fn dispatch_gemm(
    kernel: &Kernel,
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    bm: usize,
    bn: usize,
    alpha: f32,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let l = gemm_layout(g, &gpu.caps(), bm, bn).ok_or_else(|| {
        crate::Error::Invalid(format!(
            "{}: does not take {} with {bm}x{bn} tiles",
            kernel.key,
            g.label()
        ))
    })?;
    let y = Tensor::empty(gpu, &g.out_shape())?;
    let u = u32p;
    let c = &l.c;
    let p = GemmParams {
        c: u(g.c),
        h: u(g.h),
        w: u(g.w),
        o: u(g.o),
        ho: u(g.ho),
        wo: u(g.wo),
        kh: u(g.kh),
        kw: u(g.kw),
        kth: u(c.kth),
        ktw: u(c.ktw),
        kred: u(c.kth * c.ktw * g.c),
        s: g.stride as i32,
        ph: g.pad_h as i32,
        pw: g.pad_w as i32,
        mode: g.transposed as u32,
        hc: u(c.hc),
        wc: u(c.wc),
        pix: u(l.pix),
        tiles_pix: u(l.tiles_pix),
        classes: u(c.classes),
        alpha,
    };
    gpu.dispatch3(kernel, &[x, w, &y], &p, l.grid.map(u))?;
    Ok(y)
}

thread_local! {
    static KERNELS: RefCell<Vec<(Tile, Rc<Kernel>)>> = const { RefCell::new(Vec::new()) };
}

fn kernel_for(tile: Tile) -> Result<Rc<Kernel>> {
    if let Some(k) = KERNELS.with(|k| {
        k.borrow()
            .iter()
            .find(|(t, _)| *t == tile)
            .map(|(_, k)| k.clone())
    }) {
        return Ok(k);
    }
    let k = Rc::new(kernel(tile)?);
    KERNELS.with(|ks| ks.borrow_mut().push((tile, k.clone())));
    Ok(k)
}

/// The kernel of one tile configuration, rendered.
pub fn kernel(t: Tile) -> Result<Kernel> {
    if !t.valid() {
        return Err(crate::Error::Invalid(format!(
            "tile {t:?}: loads must spread evenly over the invocations"
        )));
    }
    let nt = t.threads();
    let key = format!(
        "conv_tiled:bm{}:bn{}:bk{}:tm{}:tn{}",
        t.bm, t.bn, t.bk, t.tm, t.tn
    );
    let source = render(
        TEMPLATES,
        "conv/tiled.wgsl",
        minijinja::context! {
            KEY => key.clone(),
            BM => t.bm, BN => t.bn, BK => t.bk, TM => t.tm, TN => t.tn, NT => nt,
            LA => t.bk * t.bm / 4 / nt,
            LB => t.bk * t.bn / 4 / nt,
        },
    )?;
    Ok(Kernel {
        key: Cow::Owned(key),
        file: "conv/tiled.wgsl",
        source: Cow::Owned(source),
        entry: "main",
        bindings: &[Access::Read, Access::Read, Access::ReadWrite],
        params: &<GemmParams as KernelParams>::LAYOUT,
    })
}
