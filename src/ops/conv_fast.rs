//! Fast forward convolutions for adapters with 8-wide subgroups (lavapipe, many Intel GPUs):
//! the stride-1 3x3 conv and the fused resampling pair, the stride-2 4x4 down-conv and its
//! transpose, the up-conv.
//!
//! Technique (measured fastest on lavapipe, see `/work/shared/LAVAPIPE.md`): a direct
//! convolution without workgroup memory. Each invocation computes 8 consecutive output pixels of
//! one row for 16 output channels (32 vec4 accumulators; 4 pixels when the width is not a
//! multiple of 8), reading the input row it needs with vec4 loads plus one halo value each side.
//! The weight vec4s one (input channel, kernel row) step needs (kernel width x 4 channel quads:
//! 12 for 3x3, 16 for 4x4) are loaded once per subgroup, spread over the 8 lanes, and shared with
//! `subgroupBroadcast`: on llvmpipe every load is a masked per-lane scalar loop while FMAs are
//! nearly free, so cutting weight loads 8x is what makes it fast. The workgroup is one subgroup
//! (8 lanes), which measured best.
//!
//! The transposed up-conv is computed per output parity: output row `2m + par` takes kernel rows
//! `1 - par` and `3 - par` from input rows `m + par` and `m + par - 1`; each output pixel of the
//! row takes the two kernel columns of its own parity. The row parity is the low bit of the
//! workgroup's z index, so the weights a subgroup shares are uniform across it.
//!
//! The WGSL is generated per shape: N, C, K, H, W are compile-time constants (constant
//! divisions, bounds and trip counts are much cheaper than uniform ones on llvmpipe: making the
//! batch size a uniform measured ~20% slower); only `alpha` is a uniform. Each shape's pipeline
//! is cached by the context under the kernel key, which names the shape; the first dispatch of a
//! new shape compiles it (about 0.5-2 s on lavapipe, cached on disk by Mesa afterwards).
//!
//! Supported (x `[N,C,H,W]`, w `[k,k,C,K]`, always `K % 16 == 0`: 16 channels per invocation,
//! vec4 weight rows): `Same` with k = 3 and `W % 4 == 0`; `Down2` with even H, W and
//! `(W / 2) % 4 == 0`; `Up2` with `W % 4 == 0`. Everything else, adapters without 8-wide
//! subgroups, and `STYLEGAN_NO_FAST_CONV=1` return `Ok(None)` so the caller falls back to
//! another kernel.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::{Access, Kernel, Params, Tensor};
use crate::ops::conv::ConvKind;

/// Output channels per invocation.
const KB: usize = 16;
/// Lanes per workgroup; must equal the subgroup size (`Gpu::has_subgroup8`).
const LANES: usize = 8;

/// True when `STYLEGAN_NO_FAST_CONV` is set to anything but empty or `0` (A/B benchmarks, tests).
pub fn fast_conv_disabled() -> bool {
    std::env::var("STYLEGAN_NO_FAST_CONV").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Where one shape's invocations read and write; everything the generator needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Layout {
    kind: ConvKind,
    n: usize,
    c: usize,
    k: usize,
    h: usize,
    w: usize,
    /// Kernel size: 3 (`Same`) or 4.
    ks: usize,
    ho: usize,
    wo: usize,
    /// Output pixels per invocation (8 or 4).
    px: usize,
    /// Input values of one row an invocation reads besides the two halo values (vec4s x 4).
    span: usize,
    /// Rows the grid enumerates per image: output rows, or input rows for `Up2` (each gives
    /// two output rows, one per z parity).
    rows: usize,
}

impl Layout {
    /// The layout for input `[n,c,h,w]` and a `ks`x`ks` kernel with `k` outputs; `None` where
    /// the kernel does not take the conv.
    fn new(kind: ConvKind, x_shape: &[usize], ks: usize, k: usize) -> Option<Layout> {
        let &[n, c, h, w] = x_shape else { return None };
        if [n, c, h, w, k].contains(&0) || !k.is_multiple_of(KB) {
            return None;
        }
        let px8 = |wo: usize| [8, 4].into_iter().find(|&px| wo.is_multiple_of(px));
        let (ho, wo, px, span, rows) = match kind {
            ConvKind::Same if ks == 3 => {
                let px = px8(w)?;
                (h, w, px, px, h)
            }
            ConvKind::Down2 if ks == 4 && h.is_multiple_of(2) && w.is_multiple_of(2) => {
                let px = px8(w / 2)?;
                (h / 2, w / 2, px, 2 * px, h / 2)
            }
            // 8 output pixels read 4 aligned input values: needs W % 4 == 0.
            ConvKind::Up2 if ks == 4 && w.is_multiple_of(4) => (2 * h, 2 * w, 8, 4, h),
            _ => return None,
        };
        Some(Layout {
            kind,
            n,
            c,
            k,
            h,
            w,
            ks,
            ho,
            wo,
            px,
            span,
            rows,
        })
    }

    /// Row segments (invocations) per channel block.
    fn segments(&self) -> usize {
        self.n * self.rows * (self.wo / self.px)
    }

    /// Grid z: channel blocks, times two output-row parities for `Up2`.
    fn grid_z(&self) -> usize {
        (self.k / KB) * if self.kind == ConvKind::Up2 { 2 } else { 1 }
    }

    fn key(&self) -> String {
        let Layout { n, c, k, h, w, .. } = *self;
        let kind = match self.kind {
            ConvKind::Same => "3x3",
            ConvKind::Down2 => "down2",
            ConvKind::Up2 => "up2",
        };
        format!("conv_fast_sg8:{kind}:n{n}:c{c}:k{k}:h{h}:w{w}")
    }
}

/// Whether `conv_fast_t(kind, ..)` takes the fast path for input `[n,c,h,w]`, a `ks`x`ks`
/// kernel and `k` output channels on this adapter (ignoring the environment switch).
pub fn conv_fast_supported(
    gpu: &crate::Gpu,
    kind: ConvKind,
    x_shape: &[usize],
    ks: usize,
    k: usize,
) -> bool {
    gpu.has_subgroup8() && Layout::new(kind, x_shape, ks, k).is_some()
}

/// Fast forward `alpha * kind(x, w)` (HWIO weights; see `ops::conv` for each kind's
/// definition) where the adapter and shape allow it; `Ok(None)` means "use another kernel"
/// (see the module docs for the supported shapes). Shapes that do not form a valid conv also
/// return `Ok(None)`, so the generic op reports the shape error.
pub fn conv_fast_t(kind: ConvKind, x: &Tensor, w: &Tensor, alpha: f32) -> Result<Option<Tensor>> {
    let ws = w.shape();
    if ws.len() != 4 || ws[0] != ws[1] || x.shape().len() != 4 || ws[2] != x.shape()[1] {
        return Ok(None);
    }
    if fast_conv_disabled() || !x.gpu().has_subgroup8() {
        return Ok(None);
    }
    let Some(l) = Layout::new(kind, x.shape(), ws[0], ws[3]) else {
        return Ok(None);
    };
    let gpu = x.gpu();
    // One invocation per (row segment of 8 or 4 pixels, block of 16 channels[, parity]). Row
    // segments are spread over a 2-D grid (x, y) so large images stay under the per-dimension
    // limit; the channel block is the z coordinate. Surplus lanes of the last workgroups clamp
    // their index and skip the store: a subgroup kernel cannot return early.
    let groups = l.segments().div_ceil(LANES);
    let maxd = gpu.limits().max_compute_workgroups_per_dimension.max(1) as usize;
    let gx = groups.min(maxd);
    let gy = groups.div_ceil(gx);
    let gz = l.grid_z();
    if gy > maxd || gz > maxd {
        return Ok(None);
    }
    let y = Tensor::empty(gpu, &[l.n, l.k, l.ho, l.wo])?;
    gpu.dispatch3(
        &kernel_for(l),
        &[x, w, &y],
        Params::new().f(alpha),
        [gx as u32, gy as u32, gz as u32],
    )?;
    Ok(Some(y))
}

thread_local! {
    /// Generated kernels by shape: generating the source costs more than a dispatch, so it is
    /// done once per shape (the context caches the compiled pipeline under the same key).
    static KERNELS: RefCell<HashMap<Layout, Rc<Kernel>>> = RefCell::new(HashMap::new());
}

/// The kernel for one shape; the key names the shape so each gets its own pipeline.
fn kernel_for(l: Layout) -> Rc<Kernel> {
    KERNELS.with(|m| {
        m.borrow_mut()
            .entry(l)
            .or_insert_with(|| {
                Rc::new(Kernel {
                    key: Cow::Owned(l.key()),
                    source: Cow::Owned(generate(&l)),
                    entry: "main",
                    bindings: &[Access::Read, Access::Read, Access::ReadWrite],
                })
            })
            .clone()
    })
}

/// The WGSL for `kind` on input `[n,c,h,w]` with `k` output channels (3x3 for `Same`, 4x4 for
/// the resampling kinds); `None` where the fast kernel does not take the shape.
pub fn conv_fast_wgsl(
    kind: ConvKind,
    n: usize,
    c: usize,
    k: usize,
    h: usize,
    w: usize,
) -> Option<String> {
    let ks = if kind == ConvKind::Same { 3 } else { 4 };
    Layout::new(kind, &[n, c, h, w], ks, k).map(|l| generate(&l))
}

/// Generates the WGSL for one layout (see the module docs for the scheme).
///
/// Accumulator `acc{p}_{q}` holds output pixel `ox0+p` for channels `k0+4q..k0+4q+4`. For each
/// (c, kernel row) lane `l` loads weight vec4s `l` and `8+l` of the `ks * 4` the step needs
/// (kernel column `i/4`, channel quad `i%4`; indices past the end are clamped), and broadcast
/// `j` of the first (`j < 8`) or second hands every lane the vec4 for kernel column `j/4`.
/// The input row is read at `xb..xb+span` (`xm*`), plus `xl` at `xb-1` and `xr` at `xb+span`.
fn generate(l: &Layout) -> String {
    let Layout {
        kind,
        n,
        c,
        k,
        h,
        w,
        ks,
        ho,
        wo,
        px,
        span,
        rows,
    } = *l;
    let up = kind == ConvKind::Up2;
    let mut s = String::with_capacity(24 * 1024);
    let _ = writeln!(
        s,
        "// fast conv ({}, subgroup 8) for N={n} C={c} K={k} H={h} W={w}; generated by src/ops/conv_fast.rs",
        l.key()
    );
    let _ = writeln!(
        s,
        "const C: u32 = {c}u;\nconst K: u32 = {k}u;\nconst H: u32 = {h}u;\nconst W: u32 = {w}u;\n\
         const WO: u32 = {wo}u;\nconst HWO: u32 = {}u;\nconst KS: u32 = {ks}u;\nconst NW: u32 = {}u;\n\
         const PX: u32 = {px}u;\nconst SPAN: u32 = {span}u;\nconst ROWS: u32 = {rows}u;\n\
         const PGROW: u32 = {}u;\nconst SEGS: u32 = {}u;",
        ho * wo,
        ks * 4,
        wo / px,
        l.segments()
    );
    s.push_str(
        "struct Params { alpha: f32 }\n\
         @group(0) @binding(0) var<uniform> p: Params;\n\
         @group(0) @binding(1) var<storage, read> xs4: array<vec4<f32>>;\n\
         @group(0) @binding(2) var<storage, read> ws: array<vec4<f32>>;\n\
         @group(0) @binding(3) var<storage, read_write> ys: array<vec4<f32>>;\n\
         @compute @workgroup_size(8)\n\
         fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20       @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {\n\
         \x20 let g0 = (wid.x + wid.y * nwg.x) * 8u + lid;\n\
         \x20 let g = min(g0, SEGS - 1u);\n\
         \x20 let n = g / (ROWS * PGROW); let rem = g % (ROWS * PGROW);\n\
         \x20 let r = rem / PGROW; let ox0 = (rem % PGROW) * PX;\n\
         \x20 let li0 = min(sid, NW - 1u); let lb0 = li0 / 4u; let lq0 = li0 % 4u;\n\
         \x20 let li1 = min(8u + sid, NW - 1u); let lb1 = li1 / 4u; let lq1 = li1 % 4u;\n",
    );
    let (oy, xb) = match kind {
        ConvKind::Same => ("r", "ox0"),
        ConvKind::Down2 => ("r", "2u * ox0"),
        ConvKind::Up2 => ("2u * r + par", "ox0 / 2u"),
    };
    if up {
        s.push_str("  let k0 = (wid.z / 2u) * 16u; let par = wid.z % 2u;\n");
    } else {
        s.push_str("  let k0 = wid.z * 16u;\n");
    }
    let _ = writeln!(s, "  let oy = {oy}; let xb = {xb};");
    for p in 0..px {
        for q in 0..4 {
            let _ = writeln!(s, "  var acc{p}_{q} = vec4<f32>(0.0);");
        }
    }
    s.push_str("  for (var c = 0u; c < C; c++) {\n");
    // Kernel rows: (row index expression, input row expression).
    let taps: Vec<(String, String)> = match kind {
        ConvKind::Same => (0..3)
            .map(|a| (format!("{a}u"), format!("i32(oy) + {a} - 1")))
            .collect(),
        ConvKind::Down2 => (0..4)
            .map(|a| (format!("{a}u"), format!("2 * i32(oy) + {a} - 1")))
            .collect(),
        ConvKind::Up2 => (0..2)
            .map(|t| {
                (
                    format!("1u - par + {}u", 2 * t),
                    format!("i32(r + par) - {t}"),
                )
            })
            .collect(),
    };
    for (a, iy) in &taps {
        let _ = writeln!(s, "    {{ let a = {a}; let iy = {iy};");
        for j in 0..2 {
            let _ = writeln!(
                s,
                "      let wl{j} = ws[((a * KS + lb{j}) * C + c) * (K / 4u) + k0 / 4u + lq{j}];"
            );
        }
        s.push_str(
            "      let rowok = iy >= 0 && iy < i32(H);\n\
             \x20     let rb = ((n * C + c) * H + u32(select(0, iy, rowok))) * W + xb;\n\
             \x20     var xl = 0.0; var xr = 0.0;\n",
        );
        for i in 0..span / 4 {
            let _ = writeln!(s, "      var xm{i} = vec4<f32>(0.0);");
        }
        s.push_str(
            "      if (rowok) {\n\
             \x20       if (xb > 0u) { xl = xs4[(rb - 1u) / 4u][3]; }\n\
             \x20       if (xb + SPAN < W) { xr = xs4[(rb + SPAN) / 4u][0]; }\n",
        );
        for i in 0..span / 4 {
            let _ = writeln!(s, "        xm{i} = xs4[rb / 4u + {i}u];");
        }
        s.push_str("      }\n");
        for b in 0..ks {
            // Broadcast source: lanes 0-7 of wl0 hold kernel columns 0 and 1, of wl1 2 and 3.
            let src = if b < 2 { "wl0" } else { "wl1" };
            s.push_str("      {\n");
            for q in 0..4 {
                let _ = writeln!(
                    s,
                    "        let w{q} = subgroupBroadcast({src}, {}u);",
                    (b % 2) * 4 + q
                );
            }
            for p in 0..px {
                // Input column of output pixel p through kernel column b, relative to xb.
                let col = match kind {
                    ConvKind::Same => Some(p as i64 + b as i64 - 1),
                    ConvKind::Down2 => Some(2 * p as i64 + b as i64 - 1),
                    // Pixel ox = 2i + odd takes kernel columns b = 1 - odd + 2t from input
                    // column i + odd - t.
                    ConvKind::Up2 => {
                        let odd = p % 2;
                        (b % 2 != odd).then(|| (p / 2 + odd) as i64 - (b / 2) as i64)
                    }
                };
                let Some(col) = col else { continue };
                let xv = if col < 0 {
                    "xl".to_string()
                } else if col >= span as i64 {
                    "xr".to_string()
                } else {
                    format!("xm{}[{}]", col / 4, col % 4)
                };
                for q in 0..4 {
                    let _ = writeln!(
                        s,
                        "        acc{p}_{q} = fma(vec4<f32>({xv}), w{q}, acc{p}_{q});"
                    );
                }
            }
            s.push_str("      }\n");
        }
        s.push_str("    }\n");
    }
    s.push_str("  }\n  if (g0 < SEGS) {\n    let ob = (n * K + k0) * HWO + oy * WO + ox0;\n");
    // Transpose the register block: output row (channel k0+4q+e) gets pixels 0-3 and 4-7.
    for q in 0..4 {
        for (e, comp) in ["x", "y", "z", "w"].iter().enumerate() {
            let ch = q * 4 + e;
            for half in 0..px / 4 {
                let a = half * 4;
                let _ = writeln!(
                    s,
                    "    ys[(ob + {ch}u * HWO) / 4u + {half}u] = p.alpha * vec4<f32>(acc{}_{q}.{comp}, acc{}_{q}.{comp}, acc{}_{q}.{comp}, acc{}_{q}.{comp});",
                    a,
                    a + 1,
                    a + 2,
                    a + 3
                );
            }
        }
    }
    s.push_str("  }\n}\n");
    s
}
