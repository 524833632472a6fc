//! Fast forward 3x3 convolution for adapters with 8-wide subgroups (lavapipe, many Intel GPUs).
//!
//! Technique (measured fastest on lavapipe, see `/work/shared/LAVAPIPE.md`): a direct
//! convolution without workgroup memory. Each invocation computes 8 consecutive output pixels of
//! one row for 16 output channels (32 vec4 accumulators; 4 pixels when the width is not a
//! multiple of 8), reading the input row with vec4 loads.
//! The 12 weight vec4s a (ky, c) step needs (3 kx x 16 channels) are loaded once per subgroup,
//! spread over the 8 lanes, and shared with `subgroupBroadcast`: on llvmpipe every load is a
//! masked per-lane scalar loop while FMAs are nearly free, so cutting weight loads 8x is what
//! makes it fast. The workgroup is one subgroup (8 lanes), which measured best.
//!
//! The WGSL is generated per shape: N, C, K, H, W are compile-time constants (constant
//! divisions, bounds and trip counts are much cheaper than uniform ones on llvmpipe: making the
//! batch size a uniform measured ~20% slower); only `alpha` is a uniform. Each shape's pipeline
//! is cached by the context under the kernel key, which names the shape; the first dispatch of a
//! new shape compiles it (about 0.5-2 s on lavapipe, cached on disk by Mesa afterwards).
//!
//! Supported: x `[N,C,H,W]`, w `[3,3,C,K]` with `K % 16 == 0` (16 channels per invocation, vec4
//! weight rows) and `W % 4 == 0` (8 or 4 pixels per invocation, vec4-aligned rows). Everything
//! else, adapters without 8-wide subgroups, and `STYLEGAN_NO_FAST_CONV=1` return `Ok(None)` so
//! the caller falls back to the generic kernel.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::{Access, Kernel, Params, Tensor};

/// Output pixels per invocation (along a row): 8 where the width allows, else 4.
fn pixels_per_invocation(w: usize) -> Option<usize> {
    [8, 4].into_iter().find(|&px| w.is_multiple_of(px))
}
/// Output channels per invocation.
const KB: usize = 16;
/// Lanes per workgroup; must equal the subgroup size (`Gpu::has_subgroup8`).
const LANES: usize = 8;

/// True when `STYLEGAN_NO_FAST_CONV` is set to anything but empty or `0` (A/B benchmarks, tests).
pub fn fast_conv_disabled() -> bool {
    std::env::var("STYLEGAN_NO_FAST_CONV").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether `conv3x3_fast_t` takes the fast path for input `[n,c,h,w]` and `k` output channels on
/// this adapter (ignoring the environment switch).
pub fn conv3x3_fast_supported(gpu: &crate::Gpu, x_shape: &[usize], k: usize) -> bool {
    gpu.has_subgroup8()
        && x_shape.len() == 4
        && x_shape.iter().all(|&d| d > 0)
        && k > 0
        && k.is_multiple_of(KB)
        && pixels_per_invocation(x_shape[3]).is_some()
}

/// Fast forward `alpha * conv3x3(x, w)` (stride 1, zero "same" padding, HWIO weights) where the
/// adapter and shape allow it; `Ok(None)` means "use the generic kernel" (see the module docs
/// for the supported shapes). Shapes that do not form a valid conv3x3 also return `Ok(None)`, so
/// the generic op reports the shape error.
pub fn conv3x3_fast_t(x: &Tensor, w: &Tensor, alpha: f32) -> Result<Option<Tensor>> {
    let (xs, ws) = (x.shape(), w.shape());
    if xs.len() != 4 || ws.len() != 4 || ws[0] != 3 || ws[1] != 3 || ws[2] != xs[1] {
        return Ok(None);
    }
    let k = ws[3];
    if fast_conv_disabled() || !conv3x3_fast_supported(x.gpu(), xs, k) {
        return Ok(None);
    }
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let gpu = x.gpu();
    let y = Tensor::empty(gpu, &[n, k, h, wd])?;
    let kernel = kernel_for(n, c, k, h, wd);
    // One invocation per (row segment of 8 or 4 pixels, block of 16 channels). Row segments are
    // spread over a 2-D grid (x, y) so large images stay under the per-dimension limit; the
    // channel block is the z coordinate. Surplus lanes of the last workgroups clamp their index
    // and skip the store: a subgroup kernel cannot return early.
    let px = pixels_per_invocation(wd).unwrap_or(8);
    let segments = n * h * (wd / px);
    let groups = segments.div_ceil(LANES);
    let maxd = gpu.limits().max_compute_workgroups_per_dimension.max(1) as usize;
    let gx = groups.min(maxd);
    let gy = groups.div_ceil(gx);
    let gz = k / KB;
    if gy > maxd || gz > maxd {
        return Ok(None);
    }
    let params = Params::new().f(alpha);
    gpu.dispatch3(
        &kernel,
        &[x, w, &y],
        params,
        [gx as u32, gy as u32, gz as u32],
    )?;
    Ok(Some(y))
}

thread_local! {
    /// Generated kernels by shape: generating the source costs more than a dispatch, so it is
    /// done once per shape (the context caches the compiled pipeline under the same key).
    static KERNELS: RefCell<HashMap<[usize; 5], Rc<Kernel>>> = RefCell::new(HashMap::new());
}

/// The kernel for one (N, C, K, H, W); the key names the shape so each gets its own pipeline.
fn kernel_for(n: usize, c: usize, k: usize, h: usize, w: usize) -> Rc<Kernel> {
    KERNELS.with(|m| {
        m.borrow_mut()
            .entry([n, c, k, h, w])
            .or_insert_with(|| Rc::new(new_kernel(n, c, k, h, w)))
            .clone()
    })
}

fn new_kernel(n: usize, c: usize, k: usize, h: usize, w: usize) -> Kernel {
    Kernel {
        key: Cow::Owned(format!("conv3x3_fast_sg8:n{n}:c{c}:k{k}:h{h}:w{w}")),
        source: Cow::Owned(conv3x3_fast_wgsl(n, c, k, h, w)),
        entry: "main",
        bindings: &[Access::Read, Access::Read, Access::ReadWrite],
    }
}

/// Generates the WGSL for one shape (see the module docs for the scheme).
///
/// Accumulator `acc{p}_{q}` holds output pixel `ox0+p` for channels `k0+4q..k0+4q+4`. For each
/// (c, ky) lane `l` loads weight vec4 `l` of the 12 the step needs (`kx = l/4`, channel quad
/// `l%4`; lanes 0-3 also load the kx = 2 quads), and broadcast `j` hands every lane the vec4 for
/// kx = j/4. Input pixel `ox0+p+kx-1` is `xl` (left halo), `xm[p+kx-1]`, or `xr` (right halo).
pub fn conv3x3_fast_wgsl(n: usize, c: usize, k: usize, h: usize, w: usize) -> String {
    let mut s = String::with_capacity(16 * 1024);
    let px_n = pixels_per_invocation(w).unwrap_or(8);
    let pgrow = w / px_n;
    let _ = writeln!(s, "// conv3x3 fast (subgroup 8) for N={n} C={c} K={k} H={h} W={w}; generated by src/ops/conv_fast.rs");
    let _ = writeln!(
        s,
        "const C: u32 = {c}u;\nconst K: u32 = {k}u;\nconst H: u32 = {h}u;\nconst W: u32 = {w}u;"
    );
    let _ = writeln!(
        s,
        "const HW: u32 = {}u;\nconst PX: u32 = {px_n}u;\nconst PGROW: u32 = {pgrow}u;\nconst SEGS: u32 = {}u;",
        h * w,
        n * h * pgrow
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
         \x20 let n = g / (H * PGROW); let rem = g % (H * PGROW);\n\
         \x20 let oy = rem / PGROW; let ox0 = (rem % PGROW) * PX;\n\
         \x20 let k0 = wid.z * 16u;\n\
         \x20 let li0 = min(sid, 11u); let lkx0 = li0 / 4u; let lq0 = li0 % 4u;\n\
         \x20 let li1 = min(8u + sid, 11u); let lkx1 = li1 / 4u; let lq1 = li1 % 4u;\n",
    );
    for px in 0..px_n {
        for q in 0..4 {
            let _ = writeln!(s, "  var acc{px}_{q} = vec4<f32>(0.0);");
        }
    }
    s.push_str("  for (var c = 0u; c < C; c++) {\n");
    for ky in 0..3 {
        let _ = writeln!(s, "    {{ let iy = i32(oy) + {ky} - 1;");
        let _ = writeln!(
            s,
            "      let wl0 = ws[(({ky}u * 3u + lkx0) * C + c) * (K / 4u) + k0 / 4u + lq0];"
        );
        let _ = writeln!(
            s,
            "      let wl1 = ws[(({ky}u * 3u + lkx1) * C + c) * (K / 4u) + k0 / 4u + lq1];"
        );
        s.push_str(
            "      let rowok = iy >= 0 && iy < i32(H);\n\
             \x20     let rb = ((n * C + c) * H + u32(select(0, iy, rowok))) * W + ox0;\n\
             \x20     var xl = 0.0; var xr = 0.0;\n",
        );
        for i in 0..px_n / 4 {
            let _ = writeln!(s, "      var xm{i} = vec4<f32>(0.0);");
        }
        s.push_str(
            "      if (rowok) {\n\
             \x20       if (ox0 > 0u) { xl = xs4[(rb - 1u) / 4u][3]; }\n\
             \x20       if (ox0 + PX < W) { xr = xs4[(rb + PX) / 4u][0]; }\n",
        );
        for i in 0..px_n / 4 {
            let _ = writeln!(s, "        xm{i} = xs4[rb / 4u + {i}u];");
        }
        s.push_str("      }\n");
        for kx in 0..3 {
            // Broadcast source: lanes 0-7 of wl0 hold kx 0 and 1, lanes 0-3 of wl1 hold kx 2.
            let (src, base) = if kx < 2 { ("wl0", kx * 4) } else { ("wl1", 0) };
            s.push_str("      {\n");
            for q in 0..4 {
                let _ = writeln!(
                    s,
                    "        let w{q} = subgroupBroadcast({src}, {}u);",
                    base + q
                );
            }
            for px in 0..px_n {
                // Input column ox0 + px + kx - 1 relative to the segment: -1 .. 8.
                let col = px as i64 + kx as i64 - 1;
                let xv = if col < 0 {
                    "xl".to_string()
                } else if col >= px_n as i64 {
                    "xr".to_string()
                } else {
                    format!("xm{}[{}]", col / 4, col % 4)
                };
                for q in 0..4 {
                    let _ = writeln!(
                        s,
                        "        acc{px}_{q} = fma(vec4<f32>({xv}), w{q}, acc{px}_{q});"
                    );
                }
            }
            s.push_str("      }\n");
        }
        s.push_str("    }\n");
    }
    s.push_str("  }\n  if (g0 < SEGS) {\n    let ob = (n * K + k0) * HW + oy * W + ox0;\n");
    // Transpose the register block: output row (channel k0+4q+e) gets pixels 0-3 and 4-7.
    for q in 0..4 {
        for (e, comp) in ["x", "y", "z", "w"].iter().enumerate() {
            let ch = q * 4 + e;
            for half in 0..px_n / 4 {
                let a = half * 4;
                let _ = writeln!(
                    s,
                    "    ys[(ob + {ch}u * HW) / 4u + {half}u] = p.alpha * vec4<f32>(acc{}_{q}.{comp}, acc{}_{q}.{comp}, acc{}_{q}.{comp}, acc{}_{q}.{comp});",
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
