//! The subgroup-broadcast conv kernel for adapters with 8-wide subgroups (lavapipe, many Intel
//! GPUs): the stride-1 3x3 conv and the fused resampling pair (the stride-2 4x4 down-conv and its
//! transposed up-conv). The technique and the register block are described in the template,
//! `shaders/conv/subgroup.wgsl`; why it wins on lavapipe in `docs/lavapipe.md`.
//!
//! The WGSL is rendered per shape: N, C, K, H, W are compile-time constants; only `alpha` is a
//! uniform. Each shape's pipeline is cached by the context under the kernel key, which names the
//! shape; the first dispatch of a new shape compiles it (about 0.5-2 s on lavapipe, cached on
//! disk by Mesa afterwards).
//!
//! Takes (x `[N,C,H,W]`, w `[k,k,C,K]`, always `K % 8 == 0`: 16 channels per invocation, or 8
//! where K is not a multiple of 16; vec4 weight rows): 3x3 "same" with `W % 4 == 0`; the 4x4 down-conv with even H, W and
//! `(W / 2) % 4 == 0`; the 4x4 up-conv with `W % 4 == 0`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::template::render;
use crate::gpu::Policy;
use crate::gpu::{Access, AdapterCaps, Kernel, Tensor};
use crate::kernel_params;
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel};
use crate::ops::conv::ConvGeometry;

/// Output channels per invocation: 16, or 8 where K is not a multiple of 16 (narrow layers
/// such as 8 channels would otherwise fall to the direct kernel, ~40x slower on lavapipe).
fn channels_per_invocation(k: usize) -> Option<usize> {
    [16, 8].into_iter().find(|&kb| k.is_multiple_of(kb))
}
/// Lanes per workgroup; must equal the subgroup size (`AdapterCaps::subgroup8`).
const LANES: usize = 8;

kernel_params! {
    /// Parameters of `shaders/conv/subgroup.wgsl`.
    pub struct SubgroupParams { alpha: f32 }
}

const TEMPLATE: &str = "conv/subgroup.wgsl";
const TEMPLATES: &[(&str, &str)] = &[(
    TEMPLATE,
    include_str!("../../../shaders/conv/subgroup.wgsl"),
)];

/// The three convs the kernel is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Same3,
    Down2,
    Up2,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Same3 => "same",
            Kind::Down2 => "down2",
            Kind::Up2 => "up2",
        }
    }
}

/// Where one shape's invocations read and write; everything the template needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Layout {
    kind: Kind,
    n: usize,
    c: usize,
    k: usize,
    h: usize,
    w: usize,
    /// Kernel size: 3 (`Same3`) or 4.
    ks: usize,
    ho: usize,
    wo: usize,
    /// Output pixels per invocation (8 or 4).
    px: usize,
    /// Output channels per invocation (16 or 8).
    kb: usize,
    /// Input values of one row an invocation reads besides the two halo values (vec4s x 4).
    span: usize,
    /// Rows the grid enumerates per image: output rows, or input rows for `Up2` (each gives
    /// two output rows, one per z parity).
    rows: usize,
}

impl Layout {
    /// Row segments (invocations) per channel block.
    fn segments(&self) -> usize {
        self.n * self.rows * (self.wo / self.px)
    }
}

impl Rendered for Layout {
    const FILE: &'static str = "conv/subgroup.wgsl";
    /// The layout of `g`; `None` where the kernel does not take it.
    fn layout(g: &ConvGeometry) -> Option<Layout> {
        let ConvGeometry { n, c, h, w, o, .. } = *g;
        if [n, c, h, w, o].contains(&0) {
            return None;
        }
        let kb = channels_per_invocation(o)?;
        let px8 = |wo: usize| [8, 4].into_iter().find(|&px| wo.is_multiple_of(px));
        let (kind, ks, px, span, rows) = if g.is_same(3) {
            let px = px8(w)?;
            (Kind::Same3, 3, px, px, h)
        } else if g.is_down2() {
            let px = px8(w / 2)?;
            (Kind::Down2, 4, px, 2 * px, h / 2)
        } else if g.is_up2() && w.is_multiple_of(4) {
            // 8 output pixels read 4 aligned input values: needs W % 4 == 0.
            (Kind::Up2, 4, 8, 4, h)
        } else {
            return None;
        };
        Some(Layout {
            kind,
            n,
            c,
            k: o,
            h,
            w,
            ks,
            ho: g.ho,
            wo: g.wo,
            px,
            kb,
            span,
            rows,
        })
    }

    /// The grid: row segments spread over (x, y) so large images stay under the per-dimension
    /// limit; channel blocks (times two output-row parities for `Up2`) along z. `None` when it
    /// does not fit `maxd` workgroups per dimension.
    fn grid(&self, maxd: usize) -> Option<[u32; 3]> {
        let groups = self.segments().div_ceil(LANES);
        let gx = groups.min(maxd);
        let gy = groups.div_ceil(gx);
        let gz = (self.k / self.kb) * if self.kind == Kind::Up2 { 2 } else { 1 };
        (gy <= maxd && gz <= maxd).then_some([gx as u32, gy as u32, gz as u32])
    }

    fn key(&self) -> String {
        let Layout { n, c, k, h, w, .. } = *self;
        let kind = match self.kind {
            Kind::Same3 => "3x3",
            Kind::Down2 => "down2",
            Kind::Up2 => "up2",
        };
        format!("conv_subgroup:{kind}:n{n}:c{c}:k{k}:h{h}:w{w}")
    }

    /// The template rendered for this layout.
    fn wgsl(&self) -> Result<String> {
        let l = self;
        render(
            TEMPLATES,
            TEMPLATE,
            minijinja::context! {
                KEY => l.key(),
                KIND => l.kind.name(),
                C => l.c, K => l.k, H => l.h, W => l.w,
                WO => l.wo, HWO => l.ho * l.wo,
                KS => l.ks, PX => l.px, QB => l.kb / 4, SPAN => l.span, ROWS => l.rows,
                PGROW => l.wo / l.px, SEGS => l.segments(),
                TAPS => if l.kind == Kind::Up2 { 2 } else { l.ks },
            },
        )
    }
}

/// A conv kernel rendered per shape: this module's `Layout` and `subgroup_general`'s. The
/// dispatch, the cache of rendered kernels and the shader-test entry point are shared.
pub(super) trait Rendered: Sized {
    /// The template, for `Kernel::file`.
    const FILE: &'static str;
    /// The layout of `g`; `None` where the kernel does not take it.
    fn layout(g: &ConvGeometry) -> Option<Self>;
    /// The grid; `None` when it does not fit `maxd` workgroups per dimension.
    fn grid(&self, maxd: usize) -> Option<[u32; 3]>;
    /// Names the shape: the pipeline cache key and the rendered-kernel cache key.
    fn key(&self) -> String;
    fn wgsl(&self) -> Result<String>;
}

/// Whether a rendered kernel takes `g` on an adapter with `caps`.
pub(super) fn supports_rendered<L: Rendered>(g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    caps.subgroup8 && L::layout(g).is_some_and(|l| l.grid(caps.max_workgroups as usize).is_some())
}

/// `alpha * conv(x, w)` on the rendered kernel `L`, named `name` in errors.
pub(super) fn run_rendered<L: Rendered>(
    name: &str,
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    alpha: f32,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let unsupported = || {
        crate::Error::Invalid(format!(
            "{name} does not take {} on {}",
            g.label(),
            gpu.info().name
        ))
    };
    let l = L::layout(g).ok_or_else(unsupported)?;
    run_layout(name, &l, x, w, g, alpha)
}

/// `alpha * conv(x, w)` on the rendered kernel for the layout `l` of `g`.
pub(super) fn run_layout<L: Rendered>(
    name: &str,
    l: &L,
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    alpha: f32,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let unsupported = || {
        crate::Error::Invalid(format!(
            "{name} does not take {} on {}",
            g.label(),
            gpu.info().name
        ))
    };
    let grid = l
        .grid(gpu.caps().max_workgroups as usize)
        .ok_or_else(unsupported)?;
    let y = Tensor::empty(gpu, &g.out_shape())?;
    gpu.dispatch3(
        &*kernel_for(l)?,
        &[x, w, &y],
        &SubgroupParams { alpha },
        grid,
    )?;
    Ok(y)
}

thread_local! {
    /// Rendered kernels by shape key: rendering costs more than a dispatch, so it is done once
    /// per shape (the context caches the compiled pipeline under the same key).
    static KERNELS: RefCell<HashMap<String, Rc<Kernel>>> = RefCell::new(HashMap::new());
}

fn kernel_for<L: Rendered>(l: &L) -> Result<Rc<Kernel>> {
    let key = l.key();
    if let Some(k) = KERNELS.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(k);
    }
    let k = Rc::new(Kernel {
        key: Cow::Owned(key.clone()),
        file: L::FILE,
        source: Cow::Owned(l.wgsl()?),
        entry: "main",
        bindings: &[Access::Read, Access::Read, Access::ReadWrite],
        params: &<SubgroupParams as crate::gpu::KernelParams>::LAYOUT,
    });
    KERNELS.with(|m| m.borrow_mut().insert(key, k.clone()));
    Ok(k)
}

/// The rendered kernel `L` for `g` (shader tests, `STYLEGAN_DUMP_WGSL` reviews); `None` where
/// it does not take the shape.
pub(super) fn kernel_rendered<L: Rendered>(g: &ConvGeometry) -> Result<Option<Kernel>> {
    L::layout(g)
        .map(|l| kernel_for(&l).map(|k| (*k).clone()))
        .transpose()
}

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&Subgroup);

struct Subgroup;

impl ConvImpl for Subgroup {
    conv_names!("subgroup");

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        supports(g, caps)
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.subgroup_conv
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        run(x, w, g, alpha)
    }

    /// The 3x3 and fused 4x4 pair at the network's widest shape, at a small one whose width
    /// is a multiple of 4 but not of 8, and at 8 output channels (8 per invocation).
    fn kernels(&self) -> Result<Vec<Kernel>> {
        let mut out = Vec::new();
        for (x, w) in [
            ([1, 512, 8, 8], [512, 512]),
            ([4, 32, 32, 40], [32, 16]),
            ([2, 8, 16, 16], [8, 8]),
        ] {
            let (c, o) = (w[0], w[1]);
            for g in [
                ConvGeometry::same(&x, &[3, 3, c, o])?,
                ConvGeometry::down2(&x, &[4, 4, c, o])?,
                ConvGeometry::up2(&x, &[4, 4, c, o])?,
            ] {
                out.extend(kernel(&g)?);
            }
        }
        Ok(out)
    }
}

/// Whether the kernel takes `g` on an adapter with `caps` (see the module docs).
pub fn supports(g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    supports_rendered::<Layout>(g, caps)
}

/// `alpha * conv(x, w)` as `g` describes it; the caller checked `supports`.
pub fn run(x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
    run_rendered::<Layout>("conv_subgroup", x, w, g, alpha)
}

/// The kernel for `g`, rendered (for the shader tests and `STYLEGAN_DUMP_WGSL` reviews);
/// `None` where the kernel does not take the shape.
pub fn kernel(g: &ConvGeometry) -> Result<Option<Kernel>> {
    kernel_rendered::<Layout>(g)
}
