//! The subgroup-broadcast weight gradient for adapters with 8-wide subgroups (lavapipe, many
//! Intel GPUs): the 3x3 "same" conv with `W % 4 == 0` and the 4x4 stride-2 down-conv with
//! `(W / 2) % 4 == 0` (the up-conv's weight gradient is the down-conv's with x and dy
//! exchanged), both with `O % 8 == 0`. The technique is the forward `subgroup` kernel's, with
//! dy in the role of the weights; it is described in the template,
//! `shaders/conv/wgrad_subgroup.wgsl`.
//!
//! The WGSL is rendered per shape (every size a compile-time constant, only `alpha` a uniform)
//! and cached by shape, like the forward kernel's.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::gpu::template::render;
use crate::gpu::{Access, AdapterCaps, Kernel, Policy, Tensor};
use crate::kernel_params;
use crate::ops::conv::wgrad::{row_parts, WgradImpl, WgradKernel};
use crate::ops::conv::ConvGeometry;
use crate::ops::reduce::sum_parts;

/// Lanes per workgroup; must equal the subgroup size (`AdapterCaps::subgroup8`).
const LANES: usize = 8;

kernel_params! {
    /// Parameters of `shaders/conv/wgrad_subgroup.wgsl`.
    pub struct WgradSubgroupParams { alpha: f32 }
}

const TEMPLATE: &str = "conv/wgrad_subgroup.wgsl";
const TEMPLATES: &[(&str, &str)] = &[(
    TEMPLATE,
    include_str!("../../../../shaders/conv/wgrad_subgroup.wgsl"),
)];

/// One shape: everything the template needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    g: ConvGeometry,
    /// Kernel side (3: "same", 4: "down2") and stride.
    ks: usize,
    s: usize,
    /// Input vec4s per row and step of 4 output pixels.
    span4: usize,
    /// Output channels per invocation.
    ob: usize,
    rows_per: usize,
    parts: usize,
}

impl Layout {
    fn of(g: &ConvGeometry) -> Option<Layout> {
        if [g.n, g.c, g.h, g.w, g.o].contains(&0) || !g.o.is_multiple_of(8) {
            return None;
        }
        let (ks, s, span4) = if g.is_same(3) && g.w.is_multiple_of(4) {
            (3, 1, 1)
        } else if g.is_down2() && g.wo.is_multiple_of(4) {
            (4, 2, 2)
        } else {
            return None;
        };
        let ob = ob_for(g);
        let (rows_per, parts) = row_parts(g.n * g.ho, g.wo / 4);
        Some(Layout {
            g: *g,
            ks,
            s,
            span4,
            ob,
            rows_per,
            parts,
        })
    }

    /// Workgroups: 8 input channels along x, output blocks along y, parts along z; `None`
    /// past `maxd` per dimension.
    fn grid(&self, maxd: usize) -> Option<[u32; 3]> {
        let d = [self.g.c.div_ceil(LANES), self.g.o / self.ob, self.parts];
        d.iter().all(|&v| v <= maxd).then(|| d.map(|v| v as u32))
    }

    fn key(&self) -> String {
        let ConvGeometry { n, c, h, w, o, .. } = self.g;
        let kind = if self.ks == 3 { "3x3" } else { "down2" };
        format!(
            "conv_wgrad_subgroup:{kind}:n{n}:c{c}:o{o}:h{h}:w{w}:ob{}:r{}",
            self.ob, self.rows_per
        )
    }

    fn wgsl(&self) -> Result<String> {
        let g = &self.g;
        render(
            TEMPLATES,
            TEMPLATE,
            minijinja::context! {
                KEY => self.key(),
                C => g.c, O => g.o, H => g.h, W => g.w, HO => g.ho,
                STEPS => g.wo / 4, ROWS => g.n * g.ho, ROWS_PER => self.rows_per,
                KS => self.ks, S => self.s, SPAN4 => self.span4, OB => self.ob,
            },
        )
    }
}

/// Output channels per invocation: 16 where they divide O, else 8. Measured on lavapipe (3x3
/// and down-conv at 32² C32 N16, 16² C128 N4, 8² C512 N1, interleaved in one process): 16 is
/// 1.2-1.7x faster than 8 (twice the FMAs per loaded input value) and 1.0-1.5x faster than 32
/// (144 accumulators per lane instead of 288).
fn ob_for(g: &ConvGeometry) -> usize {
    if g.o.is_multiple_of(16) {
        16
    } else {
        8
    }
}

thread_local! {
    /// Rendered kernels by shape key (the context caches the compiled pipeline under the same
    /// key).
    static KERNELS: RefCell<HashMap<String, Rc<Kernel>>> = RefCell::new(HashMap::new());
}

fn kernel_for(l: &Layout) -> Result<Rc<Kernel>> {
    let key = l.key();
    if let Some(k) = KERNELS.with(|m| m.borrow().get(&key).cloned()) {
        return Ok(k);
    }
    let k = Rc::new(Kernel {
        key: Cow::Owned(key.clone()),
        file: TEMPLATE,
        source: Cow::Owned(l.wgsl()?),
        entry: "main",
        bindings: &[Access::Read, Access::Read, Access::ReadWrite],
        params: &<WgradSubgroupParams as crate::gpu::KernelParams>::LAYOUT,
    });
    KERNELS.with(|m| m.borrow_mut().insert(key, k.clone()));
    Ok(k)
}

/// The kernel in the weight-gradient table.
pub const KERNEL: WgradKernel = WgradKernel::new(&Subgroup);

struct Subgroup;

impl WgradImpl for Subgroup {
    fn name(&self) -> &'static str {
        "subgroup"
    }

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        caps.subgroup8
            && Layout::of(g).is_some_and(|l| l.grid(caps.max_workgroups as usize).is_some())
    }

    fn enabled(&self, policy: &Policy) -> bool {
        policy.subgroup_conv
    }

    fn run(&self, x: &Tensor, dy: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        let gpu = x.gpu();
        let unsupported =
            || Error::Invalid(format!("conv_wgrad_subgroup does not take {}", g.label()));
        let l = Layout::of(g).ok_or_else(unsupported)?;
        let grid = l
            .grid(gpu.caps().max_workgroups as usize)
            .ok_or_else(unsupported)?;
        let dw = Tensor::empty(gpu, &[l.parts, l.ks, l.ks, g.c, g.o])?;
        gpu.dispatch3(
            &*kernel_for(&l)?,
            &[x, dy, &dw],
            &WgradSubgroupParams { alpha },
            grid,
        )?;
        sum_parts(dw, &[l.ks, l.ks, g.c, g.o])
    }

    /// The 3x3 and the down-conv at the default model's 32² with 32 channels and batch 16, at
    /// the widest official shape, and with partial lane groups and 8-channel blocks.
    fn kernels(&self) -> Result<Vec<Kernel>> {
        let mut out = Vec::new();
        for (x, o) in [
            ([16, 32, 32, 32], 32),
            ([1, 512, 8, 8], 512),
            ([2, 5, 8, 16], 24),
        ] {
            for g in [
                ConvGeometry::same(&x, &[3, 3, x[1], o])?,
                ConvGeometry::down2(&x, &[4, 4, x[1], o])?,
            ] {
                if let Some(l) = Layout::of(&g) {
                    out.push((*kernel_for(&l)?).clone());
                }
            }
        }
        Ok(out)
    }
}
