// f16 tensor-core variant of the tiled implicit-GEMM conv (conv/tiled.wgsl): the same gather
// and phase classes, but the inner product runs on 16x16x16 cooperative matrices with f16
// inputs and f32 accumulation (wgpu's experimental cooperative matrices). Rendered per
// subgroup size SG (32 or 64) by src/ops/conv/coop.rs: {{ KEY }}.
//
// A workgroup of NT = 128 invocations (NT / SG subgroups) computes a BM = 64-channel x
// BN = 32-pixel tile of Y. Each step stages BK = 16 reduction rows of weights As[kk][m] and
// gathered inputs Bs[kk][j] in workgroup memory as f16; subgroup `sid` owns BLOCKS of the tile's
// 4 x 2 blocks of 16x16 and accumulates acc += A(m, kk) * B(kk, j), A loaded column-major
// (stride BM), B row-major (stride BN). The accumulators go through workgroup memory (Cs[m][j],
// f32) to the scattered NCHW stores, scaled by alpha in f32.
enable f16;
enable wgpu_cooperative_matrix;
const BM: u32 = {{ BM }}u;
const BN: u32 = {{ BN }}u;
const BK: u32 = {{ BK }}u;
const NT: u32 = {{ NT }}u;
const BLOCKS: u32 = {{ BLOCKS }}u;
//# include "conv/gemm_params.wgsl"
var<workgroup> As: array<f16, BK * BM>;
var<workgroup> Bs: array<f16, BK * BN>;
var<workgroup> Cs: array<f32, BM * BN>;

@compute @workgroup_size(NT)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) sid: u32) {
//# include "conv/gemm_tile.wgsl"
  // This invocation's staging column: weight channel lid % BM, input pixel lid % BN
  // (the same pixel it writes at the end).
  let om = o_base + lid % BM;
  let j = lid % BN;
  var xb = 0u; var rb = -1000000; var cb = -1000000;
  let g = pix_base + j;
  var n = 0u; var pp = 0u; var qq = 0u;
  if (g < P.pix) {
    n = g / (P.hc * P.wc); let rem = g % (P.hc * P.wc);
    pp = rem / P.wc; qq = rem % P.wc;
    xb = n * P.c * plane;
    if (P.mode == 1u) { rb = i32(pp) + (py + P.ph - a0) / s; cb = i32(qq) + (px + P.pw - b0) / s; }
    else { rb = s * i32(pp) - P.ph; cb = s * i32(qq) - P.pw; }
  }
//# for b in range(BLOCKS)
  var acc{{ b }} = coop_mat16x16<f32, C>();
//# endfor
  for (var r0 = 0u; r0 < P.kred; r0 += BK) {
    // Weights: rows lid / BM + (NT / BM) * i, channel om.
//# for i in range(BK * BM // NT)
    { let kk = lid / BM + {{ (NT // BM) * i }}u; let r = r0 + kk;
      var v = 0.0;
      if (r < P.kred && om < P.o) {
        let c = r % P.c; let tab = r / P.c;
        let a = u32(a0 + astep * i32(tab / P.ktw)); let b = u32(b0 + astep * i32(tab % P.ktw));
        v = Wt[((a * P.kw + b) * P.c + c) * P.o + om];
      }
      As[kk * BM + lid % BM] = f16(v);
    }
//# endfor
    // Inputs: rows lid / BN + (NT / BN) * i, pixel j.
//# for i in range(BK * BN // NT)
    { let kk = lid / BN + {{ (NT // BN) * i }}u; let r = r0 + kk;
      var v = 0.0;
      if (r < P.kred) {
        let c = r % P.c; let tab = r / P.c;
        let iy = rb + rsign * i32(tab / P.ktw); let ix = cb + rsign * i32(tab % P.ktw);
        if (iy >= 0 && iy < i32(P.h) && ix >= 0 && ix < i32(P.w)) {
          v = X[xb + c * plane + u32(iy) * P.w + u32(ix)];
        }
      }
      Bs[kk * BN + j] = f16(v);
    }
//# endfor
    workgroupBarrier();
//# for b in range(BLOCKS)
    // Block sid * BLOCKS + {{ b }} -> (block row, block column) of the 4 x 2 blocks.
    { let blk = sid * BLOCKS + {{ b }}u; let m0 = (blk / (BN / 16u)) * 16u; let n0 = (blk % (BN / 16u)) * 16u;
      let am = coopLoad<coop_mat16x16<f16, A>>(&As[m0], BM);
      let bm = coopLoadT<coop_mat16x16<f16, B>>(&Bs[n0], BN);
      acc{{ b }} = coopMultiplyAdd(am, bm, acc{{ b }});
    }
//# endfor
    workgroupBarrier();
  }
//# for b in range(BLOCKS)
  { let blk = sid * BLOCKS + {{ b }}u; let m0 = (blk / (BN / 16u)) * 16u; let n0 = (blk % (BN / 16u)) * 16u;
    coopStoreT(acc{{ b }}, &Cs[m0 * BN + n0], BN);
  }
//# endfor
  workgroupBarrier();
  if (g < P.pix) {
    var p = pp; var q = qq;
    if (P.mode == 1u) { p = pp * u32(s) + u32(py); q = qq * u32(s) + u32(px); }
    let oplane = P.ho * P.wo;
    let yb = n * P.o * oplane + p * P.wo + q;
    for (var m = lid / BN; m < BM; m += NT / BN) {
      let o = o_base + m;
      if (o < P.o) { Y[yb + o * oplane] = P.alpha * Cs[m * BN + j]; }
    }
  }
}
