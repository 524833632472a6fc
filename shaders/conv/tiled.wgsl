// Tiled implicit-GEMM convolution: Y[o, pixel] = alpha * sum_r W[r, o] * X[r, pixel] over the
// reduction r = (tap a, tap b, input channel c). Rendered per tile configuration by
// src/ops/conv/tiled.rs: {{ KEY }}.
//
// A workgroup of NT = (BM / TM) * (BN / TN) invocations computes a BM-channel x BN-pixel tile.
// Per step of BK reduction rows it stages the weights As[kk][m] and the gathered inputs
// Bs[kk][j] in workgroup memory as vec4 along m and j: invocation t loads As slots and Bs slots
// t + NT * i. Invocation (tx, ty) = (t % TX, t / TX) then accumulates channels ty * TM .. and
// pixels tx * TN .. of the tile in acc{mi}_{jv} (channel mi, pixels 4 jv .. 4 jv + 3).
// Transposed convs run per output-parity class, so no tap multiplies a zero.
const BM: u32 = {{ BM }}u;
const BN: u32 = {{ BN }}u;
const BK: u32 = {{ BK }}u;
const NT: u32 = {{ NT }}u;
const BM4: u32 = {{ BM // 4 }}u;
const BN4: u32 = {{ BN // 4 }}u;
const TX: u32 = {{ BN // TN }}u;
//# include "conv/gemm_params.wgsl"
var<workgroup> As: array<vec4<f32>, BK * BM4>;
var<workgroup> Bs: array<vec4<f32>, BK * BN4>;

fn wload(row: u32, o: u32, ok: bool) -> f32 {
  return select(0.0, Wt[row + min(o, P.o - 1u)], ok && o < P.o);
}

@compute @workgroup_size(NT)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
//# include "conv/gemm_tile.wgsl"
  // Gather geometry of the 4 pixels each Bs slot loads: image base, first input row and column.
//# for sl in range(LB)
  let eb{{ sl }} = lid + {{ NT * sl }}u; let kb{{ sl }} = eb{{ sl }} / BN4; let jb{{ sl }} = (eb{{ sl }} % BN4) * 4u;
//#   for jj in range(4)
//#     set v = sl ~ "_" ~ jj
  var xb{{ v }} = 0u; var rb{{ v }} = -1000000; var cb{{ v }} = -1000000;
  { let g = pix_base + jb{{ sl }} + {{ jj }}u;
    if (g < P.pix) {
      let n = g / (P.hc * P.wc); let rem = g % (P.hc * P.wc);
      let pp = i32(rem / P.wc); let qq = i32(rem % P.wc);
      xb{{ v }} = n * P.c * plane;
      if (P.mode == 1u) { rb{{ v }} = pp + (py + P.ph - a0) / s; cb{{ v }} = qq + (px + P.pw - b0) / s; }
      else { rb{{ v }} = s * pp - P.ph; cb{{ v }} = s * qq - P.pw; }
    }
  }
//#   endfor
//# endfor
//# for sl in range(LA)
  let ea{{ sl }} = lid + {{ NT * sl }}u; let ka{{ sl }} = ea{{ sl }} / BM4; let oa{{ sl }} = o_base + (ea{{ sl }} % BM4) * 4u;
//# endfor
  let tx = lid % TX;
  let ty = lid / TX;
//# for mi in range(TM)
//#   for jv in range(TN // 4)
  var acc{{ mi }}_{{ jv }} = vec4<f32>(0.0);
//#   endfor
//# endfor
  for (var r0 = 0u; r0 < P.kred; r0 += BK) {
//# for sl in range(LA + LB)
//#   set tag = ("a" ~ sl) if sl < LA else ("b" ~ (sl - LA))
//#   set slot = sl if sl < LA else sl - LA
    // Reduction row r0 + k{{ tag }} -> (tap a, tap b, channel c) and whether it exists.
    let ok{{ tag }} = r0 + k{{ tag }} < P.kred;
    let rr{{ tag }} = min(r0 + k{{ tag }}, P.kred - 1u);
    let c{{ tag }} = rr{{ tag }} % P.c; let tab{{ tag }} = rr{{ tag }} / P.c;
    let ta{{ tag }} = i32(tab{{ tag }} / P.ktw); let tb{{ tag }} = i32(tab{{ tag }} % P.ktw);
//#   if sl < LA
    { let a = u32(a0 + astep * ta{{ tag }}); let b = u32(b0 + astep * tb{{ tag }});
      let row = ((a * P.kw + b) * P.c + c{{ tag }}) * P.o;
      As[ka{{ slot }} * BM4 + (ea{{ slot }} % BM4)] = vec4<f32>(wload(row, oa{{ slot }}, ok{{ tag }}), wload(row, oa{{ slot }} + 1u, ok{{ tag }}), wload(row, oa{{ slot }} + 2u, ok{{ tag }}), wload(row, oa{{ slot }} + 3u, ok{{ tag }}));
    }
//#   else
//#     for jj in range(4)
//#       set v = slot ~ "_" ~ jj
    var x{{ v }} = 0.0;
    { let iy = rb{{ v }} + rsign * ta{{ tag }}; let ix = cb{{ v }} + rsign * tb{{ tag }};
      if (ok{{ tag }} && iy >= 0 && iy < i32(P.h) && ix >= 0 && ix < i32(P.w)) {
        x{{ v }} = X[xb{{ v }} + c{{ tag }} * plane + u32(iy) * P.w + u32(ix)];
      }
    }
//#     endfor
    Bs[kb{{ slot }} * BN4 + jb{{ slot }} / 4u] = vec4<f32>(x{{ slot }}_0, x{{ slot }}_1, x{{ slot }}_2, x{{ slot }}_3);
//#   endif
//# endfor
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
//# for i in range(TM // 4)
      let a{{ i }} = As[kk * BM4 + ty * {{ TM // 4 }}u + {{ i }}u];
//# endfor
//# for jv in range(TN // 4)
      let b{{ jv }} = Bs[kk * BN4 + tx * {{ TN // 4 }}u + {{ jv }}u];
//# endfor
//# for mi in range(TM)
//#   for jv in range(TN // 4)
      acc{{ mi }}_{{ jv }} = fma(vec4<f32>(a{{ mi // 4 }}.{{ "xyzw"[mi % 4] }}), b{{ jv }}, acc{{ mi }}_{{ jv }});
//#   endfor
//# endfor
    }
    workgroupBarrier();
  }
  // Stores: pixel pix_base + tx * TN + 4 jv + e, channel o_base + ty * TM + mi.
  let oplane = P.ho * P.wo;
//# for jv in range(TN // 4)
//#   for e in range(4)
  { let g = pix_base + tx * {{ TN }}u + {{ jv * 4 + e }}u;
    if (g < P.pix) {
      let n = g / (P.hc * P.wc); let rem = g % (P.hc * P.wc);
      var p = rem / P.wc; var q = rem % P.wc;
      if (P.mode == 1u) { p = p * u32(s) + u32(py); q = q * u32(s) + u32(px); }
      let yb = n * P.o * oplane + p * P.wo + q;
      let ob = o_base + ty * {{ TM }}u;
//#     for mi in range(TM)
      if (ob + {{ mi }}u < P.o) { Y[yb + (ob + {{ mi }}u) * oplane] = P.alpha * acc{{ mi }}_{{ jv }}.{{ "xyzw"[e] }}; }
//#     endfor
    }
  }
//#   endfor
//# endfor
}
