//! The subgroup-broadcast kernel for forward convs of any kernel size, stride and padding on
//! adapters with 8-wide subgroups: what the fixed-shape `subgroup` kernel does not take (1x1,
//! 1x7, 7x1, 5x5, stride-2 3x3, padding 0, widths that are not multiples of 4), e.g. every conv
//! of the FID Inception network. The technique is `subgroup`'s; the differences are described
//! in the template, `shaders/conv/subgroup_general.wgsl`.
//!
//! The WGSL is rendered per shape (every size a compile-time constant, only `alpha` a uniform)
//! and cached by shape, like `subgroup`'s.
//!
//! Tall kernels (more rows than columns: 7x1, 3x1) run with each invocation's pixels down a
//! column, so that each loaded input value serves all the kernel's rows; on rows a 7x1 conv
//! loaded one value per tap (Inception's 7x1 at 17², batch 2, one process: C160 13.5 -> 8.1 ms,
//! C192 20.7 -> 12.6 ms, C128 15.1 -> 10.4 ms).
//!
//! Takes forward convs with `O % 16 == 0` (16 channels x 8 pixels per invocation where a line
//! is a multiple of 8 pixels at stride 1, else 32 x 4 where `O % 32 == 0`, else 16 x 4), kernels up to 7x7
//! (at most 7 weight vec4s per lane) and strides up to 2.

use crate::error::Result;
use crate::gpu::template::render;
use crate::gpu::Policy;
use crate::gpu::{AdapterCaps, Kernel, Tensor};
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel};
use crate::ops::conv::subgroup::{
    kernel_rendered, run_layout, run_rendered, supports_rendered, Rendered,
};
use crate::ops::conv::ConvGeometry;

/// Lanes per workgroup; must equal the subgroup size (`AdapterCaps::subgroup8`).
const LANES: usize = 8;
/// Output pixels per invocation.
const PX: usize = 4;
/// Largest kernel side: a 7-wide row of 32 channels has 56 weight vec4s, 7 per lane.
const MAX_K: usize = 7;
const MAX_STRIDE: usize = 2;

const TEMPLATE: &str = "conv/subgroup_general.wgsl";
const TEMPLATES: &[(&str, &str)] = &[
    (
        TEMPLATE,
        include_str!("../../../shaders/conv/subgroup_general.wgsl"),
    ),
    (
        "conv/subgroup_general_step.wgsl",
        include_str!("../../../shaders/conv/subgroup_general_step.wgsl"),
    ),
];

/// One shape: everything the template needs.
#[derive(Clone, Copy, Debug)]
struct Layout {
    g: ConvGeometry,
    /// Output channels per invocation (16 or 32).
    kb: usize,
    /// Output pixels per invocation.
    px: usize,
    /// Whether an invocation's pixels run down a column rather than along a row.
    vert: bool,
}

impl Layout {
    /// Segments of `px` pixels per output row (per column if `vert`); the last may run past
    /// the edge.
    fn per_line(&self) -> usize {
        let line = if self.vert { self.g.ho } else { self.g.wo };
        line.div_ceil(self.px)
    }

    /// Segments (invocations) per channel block.
    fn segments(&self) -> usize {
        let lines = if self.vert { self.g.wo } else { self.g.ho };
        self.g.n * lines * self.per_line()
    }

    /// Kernel taps along a segment's direction.
    fn taps(&self) -> usize {
        if self.vert {
            self.g.kh
        } else {
            self.g.kw
        }
    }
}

impl Rendered for Layout {
    const FILE: &'static str = "conv/subgroup_general.wgsl";
    /// The layout of `g`; `None` where the kernel does not take it.
    fn layout(g: &ConvGeometry) -> Option<Layout> {
        let ok = !g.transposed
            && ![g.n, g.c, g.h, g.w, g.o].contains(&0)
            && g.o.is_multiple_of(16)
            && g.kh <= MAX_K
            && g.kw <= MAX_K
            && g.stride <= MAX_STRIDE;
        // Measured on lavapipe over the Inception network (2 cores, batch 2 at 299²): 32
        // channels x 4 pixels 0.48-0.53 images/s, 32 x 8 0.47, 16 x 8 0.40, 16 x 4 0.33. More
        // channels per invocation share each loaded input value among more FMAs. But where a
        // line (a row, or a column for tall kernels) is a multiple of 8 pixels, 16 x 8 wastes
        // no pixel and measured faster at stride 1 (Mixed_7b/c at 8², one process, ms: 3x3
        // C448->O384 31 -> 18-25, 1x3 C384 7.2 -> 4.0, 3x1 5.8 -> 3.4-5.5; 3x3 C96 at 16²
        // 5.0 -> 4.1); at stride 2 (a window of 17 inputs) not (Mixed_7a's C192->O320 to 8²
        // 9.7 -> 11.4).
        let vert = g.kh > g.kw;
        let line = if vert { g.ho } else { g.wo };
        let (kb, px) = if line.is_multiple_of(8) && g.stride == 1 {
            (16, 8)
        } else if g.o.is_multiple_of(32) {
            (32, PX)
        } else {
            (16, PX)
        };
        ok.then_some(Layout {
            g: *g,
            kb,
            px,
            vert,
        })
    }

    /// The grid: row segments over (x, y), channel blocks along z; `None` when it does not fit
    /// `maxd` workgroups per dimension.
    fn grid(&self, maxd: usize) -> Option<[u32; 3]> {
        let groups = self.segments().div_ceil(LANES);
        let gx = groups.min(maxd);
        let gy = groups.div_ceil(gx);
        let gz = self.g.o / self.kb;
        (gy <= maxd && gz <= maxd).then_some([gx as u32, gy as u32, gz as u32])
    }

    fn key(&self) -> String {
        let ConvGeometry {
            n,
            c,
            h,
            w,
            o,
            kh,
            kw,
            stride,
            pad_h,
            pad_w,
            ..
        } = self.g;
        let (kb, px) = (self.kb, self.px);
        let dir = if self.vert { "col" } else { "row" };
        format!(
            "conv_subgroup_general:{kh}x{kw}:s{stride}:p{pad_h}x{pad_w}:n{n}:c{c}:k{o}:h{h}:w{w}:\
             kb{kb}:px{px}:{dir}"
        )
    }

    fn wgsl(&self) -> Result<String> {
        let g = &self.g;
        render(
            TEMPLATES,
            TEMPLATE,
            minijinja::context! {
                KEY => self.key(),
                C => g.c, K => g.o, H => g.h, W => g.w,
                WO => g.wo, HO => g.ho, HWO => g.ho * g.wo,
                KH => g.kh, KW => g.kw, S => g.stride, PH => g.pad_h, PW => g.pad_w,
                PX => self.px, QB => self.kb / 4,
                ROWS => g.ho, PGROW => self.per_line(), PGCOL => self.per_line(),
                SEGS => self.segments(), VERT => self.vert,
                NL => (self.taps() * self.kb / 4).div_ceil(LANES),
                SPAN => (self.px - 1) * g.stride + self.taps(),
            },
        )
    }
}

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&SubgroupGeneral);

struct SubgroupGeneral;

impl ConvImpl for SubgroupGeneral {
    conv_names!("subgroup-general");

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        supports(g, caps)
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.subgroup_conv
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        run(x, w, g, alpha)
    }

    /// Inception's shapes: 1x7 on an odd width, 7x1 (column segments, also at stride 2),
    /// stride-2 3x3 with padding 0, 5x5.
    fn kernels(&self) -> Result<Vec<Kernel>> {
        let mut out = Vec::new();
        for (x, w, s, p) in [
            ([2, 8, 17, 17], [1, 7, 8, 16], 1, (0, 3)),
            ([2, 8, 17, 17], [7, 1, 8, 32], 1, (3, 0)),
            ([1, 4, 13, 9], [5, 1, 4, 16], 2, (2, 0)),
            ([1, 3, 35, 35], [3, 3, 3, 32], 2, (0, 0)),
            ([1, 4, 9, 9], [5, 5, 4, 16], 1, (2, 2)),
        ] {
            let g = ConvGeometry::new("conv", &x, &w, s, p, false)?;
            out.extend(kernel(&g)?);
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
    run_rendered::<Layout>("conv_subgroup_general", x, w, g, alpha)
}

/// The kernel for `g`, rendered (shader tests, `STYLEGAN_DUMP_WGSL`); `None` where the kernel
/// does not take the shape.
pub fn kernel(g: &ConvGeometry) -> Result<Option<Kernel>> {
    kernel_rendered::<Layout>(g)
}

/// `alpha * conv(x, w)` with `kb` output channels x `px` pixels per invocation instead of the
/// layout's choice (benchmarks comparing block sizes); an error where they do not fit `g`.
pub fn run_with_block(
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeometry,
    kb: usize,
    px: usize,
    vert: bool,
    alpha: f32,
) -> Result<Tensor> {
    let bad = || {
        crate::Error::Invalid(format!(
            "subgroup-general: no {kb}x{px} block for {}",
            g.label()
        ))
    };
    let mut l = Layout::layout(g).ok_or_else(bad)?;
    if !(kb.is_multiple_of(4) && g.o.is_multiple_of(kb) && px > 0) {
        return Err(bad());
    }
    l.kb = kb;
    l.px = px;
    l.vert = vert;
    run_layout("conv_subgroup_general", &l, x, w, g, alpha)
}
