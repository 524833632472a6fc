// Subgroup-broadcast weight gradient for adapters with 8-wide subgroups (lavapipe, many Intel
// GPUs): the stride-1 3x3 "same" conv (KIND "same") and the stride-2 4x4 down-conv ("down2"; the
// up-conv's is this one with x and dy exchanged). Rendered per shape by
// src/ops/conv/wgrad/subgroup.rs: {{ KEY }}.
//   dw[a,b,c,o] = alpha * sum_{n,p,q} x[n,c,S*p+a-1,S*q+b-1] * dy[n,o,p,q]
//
// One invocation per (part, input channel c, block of OB output channels); the 8 lanes of a
// workgroup (one subgroup) take 8 consecutive input channels of the same output block and
// rows, so they need the same dy values: per step of 4 output pixels of a row, each lane loads
// OB / 8 of the OB dy vec4s (channel o0 + 8j + lane) and subgroupBroadcast hands them to every
// lane. Each lane loads its own input rows (KS rows of SPAN4 vec4s per step; the window slides,
// so halo columns come from the previous and next vec4s). On llvmpipe each load is a masked
// per-lane loop while FMAs are nearly free: per step 3 + 2 loads feed 576 FMAs for the 3x3 with
// OB 16 (conv/wgrad3_vec4.wgsl: 7 loads for 144).
//
// acc{a}{b}_{j}: tap (a, b), output channels o0 + 4j .. o0 + 4j + 3. The part (wid.z) reduces
// output rows part*ROWS_PER .. of the N*HO rows and writes DW[part, a, b, c, o]; the caller sums
// the parts (lavapipe ends an invocation's loops after 65535 iterations). Surplus lanes (C not a
// multiple of 8) clamp their channel and skip the store: a subgroup kernel cannot return early.
//
// Everything but alpha is a compile-time constant (see conv/subgroup.wgsl for why).
const C: u32 = {{ C }}u;
const O: u32 = {{ O }}u;
const H: u32 = {{ H }}u;
const HO: u32 = {{ HO }}u;
const W4: u32 = {{ W // 4 }}u;
const STEPS: u32 = {{ STEPS }}u;
const ROWS: u32 = {{ ROWS }}u;
const ROWS_PER: u32 = {{ ROWS_PER }}u;
const OB: u32 = {{ OB }}u;
struct Params { alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dys: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dw: array<vec4<f32>>;
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(subgroup_invocation_id) sid: u32) {
  let c0 = wid.x * 8u + lid;
  let c = min(c0, C - 1u);
  let o0 = wid.y * OB;
  let row_lo = wid.z * ROWS_PER;
  let row_hi = min(row_lo + ROWS_PER, ROWS);
//# for a in range(KS)
//#   for b in range(KS)
//#     for j in range(OB // 4)
  var acc{{ a }}{{ b }}_{{ j }} = vec4<f32>(0.0);
//#     endfor
//#   endfor
//# endfor
  for (var row = row_lo; row < row_hi; row++) {
    let n = row / HO;
    let oy = row % HO;
    let xp = (n * C + c) * H * W4;
    // This lane's first dy vec4 (channel o0 + lane; channel o0 + 8j + lane is j planes on).
    let yp = ((n * O + o0 + sid) * HO + oy) * STEPS;
    // The KS input rows under output row oy (rows outside are zero padding; the test is uniform
    // across the subgroup), the current SPAN4 vec4s of each, and the column left of them.
//# for a in range(KS)
    let iy{{ a }} = i32({{ S }}u * oy) + {{ a - 1 }};
    let ok{{ a }} = iy{{ a }} >= 0 && iy{{ a }} < i32(H);
    let xr{{ a }} = xp + u32(clamp(iy{{ a }}, 0, i32(H) - 1)) * W4;
    var l{{ a }} = 0.0;
//#   for k in range(SPAN4)
    var m{{ a }}_{{ k }} = vec4<f32>(0.0);
//#   endfor
    if (ok{{ a }}) {
//#   for k in range(SPAN4)
      m{{ a }}_{{ k }} = xs[xr{{ a }} + {{ k }}u];
//#   endfor
    }
//# endfor
    for (var q = 0u; q < STEPS; q++) {
      let more = q + 1u < STEPS;
//# for a in range(KS)
//#   for k in range(SPAN4)
      var n{{ a }}_{{ k }} = vec4<f32>(0.0);
//#   endfor
      if (ok{{ a }} && more) {
//#   for k in range(SPAN4)
        n{{ a }}_{{ k }} = xs[xr{{ a }} + (q + 1u) * {{ SPAN4 }}u + {{ k }}u];
//#   endfor
      }
//# endfor
//# for j in range(OB // 8)
      let dl{{ j }} = dys[yp + {{ 8 * j }}u * HO * STEPS + q];
//# endfor
      // Tap (a, b) of pixel i reads input column S*i + b - 1 of the step's window.
//# for a in range(KS)
//#   for b in range(KS)
      let s{{ a }}{{ b }} = vec4<f32>(
//#     for i in range(4)
//#       set col = S * i + b - 1
//#       if col < 0
        l{{ a }}{{ "," if not loop.last else "" }}
//#       elif col < 4 * SPAN4
        m{{ a }}_{{ col // 4 }}.{{ "xyzw"[col % 4] }}{{ "," if not loop.last else "" }}
//#       else
        n{{ a }}_0.{{ "xyzw"[col - 4 * SPAN4] }}{{ "," if not loop.last else "" }}
//#       endif
//#     endfor
      );
//#   endfor
//# endfor
//# for j in range(OB // 4)
      {
        // dy of channels o0 + 4j .. o0 + 4j + 3 (d{e}: the 4 pixels of channel 4j + e), and
        // t{i}: pixel i of the 4 channels.
//#   for e in range(4)
//#     set ch = 4 * j + e
        let d{{ e }} = subgroupBroadcast(dl{{ ch // 8 }}, {{ ch % 8 }}u);
//#   endfor
//#   for i in range(4)
//#     set comp = "xyzw"[i]
        let t{{ i }} = vec4<f32>(d0.{{ comp }}, d1.{{ comp }}, d2.{{ comp }}, d3.{{ comp }});
//#   endfor
//#   for a in range(KS)
//#     for b in range(KS)
//#       for i in range(4)
        acc{{ a }}{{ b }}_{{ j }} = fma(vec4<f32>(s{{ a }}{{ b }}.{{ "xyzw"[i] }}), t{{ i }}, acc{{ a }}{{ b }}_{{ j }});
//#       endfor
//#     endfor
//#   endfor
      }
//# endfor
//# for a in range(KS)
      l{{ a }} = m{{ a }}_{{ SPAN4 - 1 }}.w;
//#   for k in range(SPAN4)
      m{{ a }}_{{ k }} = n{{ a }}_{{ k }};
//#   endfor
//# endfor
    }
  }
  if (c0 < C) {
    let base = (wid.z * {{ KS * KS }}u * C + c) * (O / 4u) + o0 / 4u;
//# for a in range(KS)
//#   for b in range(KS)
//#     for j in range(OB // 4)
    dw[base + {{ a * KS + b }}u * C * (O / 4u) + {{ j }}u] = p.alpha * acc{{ a }}{{ b }}_{{ j }};
//#     endfor
//#   endfor
//# endfor
  }
}
