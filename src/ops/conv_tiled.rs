//! Tiled implicit-GEMM convolution: the kernel for adapters without the lavapipe subgroup path
//! (every real GPU) and for the convs that path does not take (1x1, the fused stride-2
//! resampling convs and their transposes).
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
//! so the reduction holds no zero taps (a direct gather over all k^2 taps, as the generic
//! kernel does, leaves 3 of 4 idle for the 4x4 up-conv).
//!
//! Shapes are uniforms: one pipeline per tile configuration serves every shape.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::error::Result;
use crate::gpu::{Access, Kernel, Params, Tensor};
use crate::ops::MAX_LOOP;

/// A tile configuration: BM output channels x BN pixels per workgroup, BK reduction rows per
/// step, TM x TN outputs per invocation (multiples of 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
/// real GPU (no session so far had one): the switch-over in `ConvGeom::tile` is a guess.
pub const TILE_LARGE: Tile = Tile {
    bm: 128,
    bn: 128,
    bk: 8,
    tm: 8,
    tn: 8,
};

/// True when `STYLEGAN_NO_TILED_CONV` is set to anything but empty or `0` (A/B benchmarks).
pub fn tiled_conv_disabled() -> bool {
    std::env::var("STYLEGAN_NO_TILED_CONV").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The geometry of one conv as the tiled kernel sees it.
#[derive(Clone, Copy, Debug)]
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub ho: usize,
    pub wo: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub transposed: bool,
}

impl ConvGeom {
    /// Taps per dimension in the reduction, phase classes, and output rows/cols per class.
    pub(crate) fn classes(&self) -> (usize, usize, usize, usize) {
        if self.transposed {
            let s = self.stride;
            (self.k / s, s * s, self.ho / s, self.wo / s)
        } else {
            (self.k, 1, self.ho, self.wo)
        }
    }

    /// Whether the tiled kernel takes this conv: transposed convs need k and the output size
    /// divisible by the stride; the reduction must fit one invocation's loop budget.
    pub fn supported(&self) -> bool {
        let s = self.stride;
        if self.transposed
            && (s == 0
                || !self.k.is_multiple_of(s)
                || !self.ho.is_multiple_of(s)
                || !self.wo.is_multiple_of(s))
        {
            return false;
        }
        let (kt, _, _, _) = self.classes();
        kt * kt * self.c <= MAX_LOOP && self.o > 0 && self.n * self.ho * self.wo > 0
    }

    /// The tile configuration for this shape on a CPU adapter (`cpu`) or a GPU: large tiles
    /// only on GPUs and where there is enough work to fill one with them.
    pub fn tile(&self, cpu: bool) -> Tile {
        let (_, classes, hc, wc) = self.classes();
        if !cpu && self.o >= 128 && self.n * hc * wc * classes >= 16384 {
            TILE_LARGE
        } else {
            TILE_SMALL
        }
    }
}

/// `alpha * conv(x, w)` (or its transpose) into a new `[N, O, HO, WO]` tensor with `tile`;
/// the caller checked `geom.supported()`.
pub fn conv_tiled_t(
    x: &Tensor,
    w: &Tensor,
    geom: &ConvGeom,
    tile: Tile,
    alpha: f32,
) -> Result<Tensor> {
    let g = geom;
    if !tile.valid() || !g.supported() {
        return Err(crate::Error::Invalid(format!(
            "conv_tiled: tile {tile:?} or geometry {g:?} not supported"
        )));
    }
    dispatch_gemm(&kernel_for(tile), x, w, g, tile.bm, tile.bn, alpha)
}

/// One dispatch of an implicit-GEMM conv kernel with `bm` x `bn` output tiles: this module's
/// kernels and the f16 cooperative-matrix one (`conv_coop`), which share the parameter block.
pub(crate) fn dispatch_gemm(
    kernel: &Kernel,
    x: &Tensor,
    w: &Tensor,
    g: &ConvGeom,
    bm: usize,
    bn: usize,
    alpha: f32,
) -> Result<Tensor> {
    let gpu = x.gpu();
    let y = Tensor::empty(gpu, &[g.n, g.o, g.ho, g.wo])?;
    let (kt, classes, hc, wc) = g.classes();
    let pix = g.n * hc * wc;
    let tiles_pix = pix.div_ceil(bn);
    let maxd = gpu.limits().max_compute_workgroups_per_dimension.max(1) as usize;
    let gx = tiles_pix.min(maxd);
    let gy = tiles_pix.div_ceil(gx);
    let gz = g.o.div_ceil(bm) * classes;
    if gy > maxd || gz > maxd {
        return Err(crate::Error::Invalid(format!(
            "{}: {tiles_pix} x {gz} workgroups exceed the adapter's grid",
            kernel.key
        )));
    }
    let p = Params::new()
        .u(g.c)
        .u(g.h)
        .u(g.w)
        .u(g.o)
        .u(g.ho)
        .u(g.wo)
        .u(g.k)
        .u(kt)
        .u(kt * kt * g.c)
        .i(g.stride as i32)
        .i(g.pad as i32)
        .u(g.transposed as usize)
        .u(hc)
        .u(wc)
        .u(pix)
        .u(tiles_pix)
        .u(classes)
        .f(alpha);
    gpu.dispatch3(kernel, &[x, w, &y], p, [gx as u32, gy as u32, gz as u32])?;
    Ok(y)
}

thread_local! {
    static KERNELS: std::cell::RefCell<Vec<(Tile, std::rc::Rc<Kernel>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn kernel_for(tile: Tile) -> std::rc::Rc<Kernel> {
    KERNELS.with(|k| {
        let mut k = k.borrow_mut();
        if let Some((_, kern)) = k.iter().find(|(t, _)| *t == tile) {
            return kern.clone();
        }
        let kern = std::rc::Rc::new(Kernel {
            key: Cow::Owned(format!(
                "conv_tiled:bm{}:bn{}:bk{}:tm{}:tn{}",
                tile.bm, tile.bn, tile.bk, tile.tm, tile.tn
            )),
            source: Cow::Owned(conv_tiled_wgsl(tile)),
            entry: "main",
            bindings: &[Access::Read, Access::Read, Access::ReadWrite],
        });
        k.push((tile, kern.clone()));
        kern
    })
}

/// The parameter block and bindings every implicit-GEMM conv kernel shares (this module's and
/// `conv_coop`'s), in the order `dispatch_gemm` packs them.
pub(crate) const GEMM_BINDINGS: &str = "struct Params {
  c: u32, h: u32, w: u32, o: u32, ho: u32, wo: u32, k: u32, kt: u32, kred: u32,
  s: i32, pad: i32, mode: u32, hc: u32, wc: u32, pix: u32, tiles_pix: u32, classes: u32,
  alpha: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
";

/// The start of every implicit-GEMM kernel's body: the workgroup's tile (`o_base`,
/// `pix_base`) and, for transposed convs, its phase class: output parity (py, px), first taps
/// (a0, b0), tap step and the direction input rows move in.
pub(crate) const GEMM_TILE_GEOMETRY: &str = "  let tile = wid.x + wid.y * nwg.x;
  let cls = wid.z % P.classes;
  let o_base = (wid.z / P.classes) * BM;
  let pix_base = tile * BN;
  let s = P.s;
  let plane = P.h * P.w;
  var py = 0; var px = 0; var a0 = 0; var b0 = 0; var astep = 1; var rsign = 1;
  if (P.mode == 1u) {
    py = i32(cls) / s; px = i32(cls) % s;
    a0 = (py + P.pad) % s; b0 = (px + P.pad) % s; astep = s; rsign = -1;
  }
";

/// Generates the WGSL of one tile configuration (see the module docs).
///
/// Workgroup memory holds the step's weights `As[kk][m]` and inputs `Bs[kk][j]` as vec4 along
/// m and j. Invocation `t` loads As slot and Bs slot `t + NT * i`; it computes channels
/// `ty * TM ..` and pixels `tx * TN ..` of the tile (`tx = t % (BN / TN)`), accumulating
/// `acc{mi}_{jv}`: channel mi, pixels 4 jv .. 4 jv + 3.
pub fn conv_tiled_wgsl(t: Tile) -> String {
    let nt = t.threads();
    let (bm4, bn4) = (t.bm / 4, t.bn / 4);
    let la = t.bk * bm4 / nt;
    let lb = t.bk * bn4 / nt;
    assert!(
        t.valid(),
        "tile {t:?}: loads must spread evenly over {nt} invocations"
    );
    let mut s = String::with_capacity(16 * 1024);
    let _ = writeln!(
        s,
        "// Tiled implicit-GEMM conv, {t:?}; generated by src/ops/conv_tiled.rs\n\
         const BM: u32 = {}u;\nconst BN: u32 = {}u;\nconst BK: u32 = {}u;\nconst NT: u32 = {nt}u;\n\
         const BM4: u32 = {bm4}u;\nconst BN4: u32 = {bn4}u;\nconst TX: u32 = {}u;",
        t.bm,
        t.bn,
        t.bk,
        t.bn / t.tn
    );
    s.push_str(GEMM_BINDINGS);
    s.push_str(
        "var<workgroup> As: array<vec4<f32>, BK * BM4>;\n\
         var<workgroup> Bs: array<vec4<f32>, BK * BN4>;\n\
         \n\
         fn wload(row: u32, o: u32, ok: bool) -> f32 {\n\
         \x20 return select(0.0, Wt[row + min(o, P.o - 1u)], ok && o < P.o);\n\
         }\n\
         \n\
         @compute @workgroup_size(NT)\n\
         fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n\
         \x20       @builtin(local_invocation_index) lid: u32) {\n",
    );
    s.push_str(GEMM_TILE_GEOMETRY);
    // Gather geometry of the pixels each Bs slot loads.
    for sl in 0..lb {
        let _ = writeln!(
            s,
            "  let eb{sl} = lid + {}u; let kb{sl} = eb{sl} / BN4; let jb{sl} = (eb{sl} % BN4) * 4u;",
            nt * sl
        );
        for jj in 0..4 {
            let v = format!("{sl}_{jj}");
            let _ = writeln!(
                s,
                "  var xb{v} = 0u; var rb{v} = -1000000; var cb{v} = -1000000;\n\
                 \x20 {{ let g = pix_base + jb{sl} + {jj}u;\n\
                 \x20   if (g < P.pix) {{\n\
                 \x20     let n = g / (P.hc * P.wc); let rem = g % (P.hc * P.wc);\n\
                 \x20     let pp = i32(rem / P.wc); let qq = i32(rem % P.wc);\n\
                 \x20     xb{v} = n * P.c * plane;\n\
                 \x20     if (P.mode == 1u) {{ rb{v} = pp + (py + P.pad - a0) / s; cb{v} = qq + (px + P.pad - b0) / s; }}\n\
                 \x20     else {{ rb{v} = s * pp - P.pad; cb{v} = s * qq - P.pad; }}\n\
                 \x20   }}\n\
                 \x20 }}"
            );
        }
    }
    for sl in 0..la {
        let _ = writeln!(
            s,
            "  let ea{sl} = lid + {}u; let ka{sl} = ea{sl} / BM4; let oa{sl} = o_base + (ea{sl} % BM4) * 4u;",
            nt * sl
        );
    }
    s.push_str("  let tx = lid % TX;\n  let ty = lid / TX;\n");
    for mi in 0..t.tm {
        for jv in 0..t.tn / 4 {
            let _ = writeln!(s, "  var acc{mi}_{jv} = vec4<f32>(0.0);");
        }
    }
    s.push_str("  for (var r0 = 0u; r0 < P.kred; r0 += BK) {\n");
    // Decode of a reduction row r into (tap a, tap b, channel c) and its validity.
    let decode = |s: &mut String, r: &str, tag: &str| {
        let _ = writeln!(
            s,
            "    let ok{tag} = {r} < P.kred;\n\
             \x20   let rr{tag} = min({r}, P.kred - 1u);\n\
             \x20   let c{tag} = rr{tag} % P.c; let tab{tag} = rr{tag} / P.c;\n\
             \x20   let ta{tag} = i32(tab{tag} / P.kt); let tb{tag} = i32(tab{tag} % P.kt);"
        );
    };
    for sl in 0..la {
        let tag = format!("a{sl}");
        decode(&mut s, &format!("r0 + ka{sl}"), &tag);
        let _ = writeln!(
            s,
            "    {{ let a = u32(a0 + astep * ta{tag}); let b = u32(b0 + astep * tb{tag});\n\
             \x20     let row = ((a * P.k + b) * P.c + c{tag}) * P.o;\n\
             \x20     As[ka{sl} * BM4 + (ea{sl} % BM4)] = vec4<f32>(wload(row, oa{sl}, ok{tag}), wload(row, oa{sl} + 1u, ok{tag}), wload(row, oa{sl} + 2u, ok{tag}), wload(row, oa{sl} + 3u, ok{tag}));\n\
             \x20   }}"
        );
    }
    for sl in 0..lb {
        let tag = format!("b{sl}");
        decode(&mut s, &format!("r0 + kb{sl}"), &tag);
        let mut vals = Vec::new();
        for jj in 0..4 {
            let v = format!("{sl}_{jj}");
            let _ = writeln!(
                s,
                "    var x{v} = 0.0;\n\
                 \x20   {{ let iy = rb{v} + rsign * ta{tag}; let ix = cb{v} + rsign * tb{tag};\n\
                 \x20     if (ok{tag} && iy >= 0 && iy < i32(P.h) && ix >= 0 && ix < i32(P.w)) {{\n\
                 \x20       x{v} = X[xb{v} + c{tag} * plane + u32(iy) * P.w + u32(ix)];\n\
                 \x20     }}\n\
                 \x20   }}"
            );
            vals.push(format!("x{v}"));
        }
        let _ = writeln!(
            s,
            "    Bs[kb{sl} * BN4 + jb{sl} / 4u] = vec4<f32>({});",
            vals.join(", ")
        );
    }
    s.push_str("    workgroupBarrier();\n    for (var kk = 0u; kk < BK; kk++) {\n");
    for i in 0..t.tm / 4 {
        let _ = writeln!(
            s,
            "      let a{i} = As[kk * BM4 + ty * {}u + {i}u];",
            t.tm / 4
        );
    }
    for jv in 0..t.tn / 4 {
        let _ = writeln!(
            s,
            "      let b{jv} = Bs[kk * BN4 + tx * {}u + {jv}u];",
            t.tn / 4
        );
    }
    let comp = ["x", "y", "z", "w"];
    for mi in 0..t.tm {
        for jv in 0..t.tn / 4 {
            let _ = writeln!(
                s,
                "      acc{mi}_{jv} = fma(vec4<f32>(a{}.{}), b{jv}, acc{mi}_{jv});",
                mi / 4,
                comp[mi % 4]
            );
        }
    }
    s.push_str("    }\n    workgroupBarrier();\n  }\n");
    // Stores: pixel pix_base + tx*TN + 4 jv + e, channel o_base + ty*TM + mi.
    s.push_str("  let oplane = P.ho * P.wo;\n");
    for jv in 0..t.tn / 4 {
        for (e, ce) in comp.iter().enumerate() {
            let j = format!("{jv}_{e}");
            let _ = writeln!(
                s,
                "  {{ let g = pix_base + tx * {}u + {}u;\n\
                 \x20   if (g < P.pix) {{\n\
                 \x20     let n = g / (P.hc * P.wc); let rem = g % (P.hc * P.wc);\n\
                 \x20     var p = rem / P.wc; var q = rem % P.wc;\n\
                 \x20     if (P.mode == 1u) {{ p = p * u32(s) + u32(py); q = q * u32(s) + u32(px); }}\n\
                 \x20     let yb = n * P.o * oplane + p * P.wo + q;\n\
                 \x20     let ob = o_base + ty * {}u;",
                t.tn,
                jv * 4 + e,
                t.tm
            );
            for mi in 0..t.tm {
                let _ = writeln!(
                    s,
                    "      if (ob + {mi}u < P.o) {{ Y[yb + (ob + {mi}u) * oplane] = P.alpha * acc{mi}_{jv}.{ce}; }}"
                );
            }
            let _ = writeln!(s, "    }}\n  }} // {j}");
        }
    }
    s.push_str("}\n");
    s
}
