// Subgroup-broadcast convolution for adapters with 8-wide subgroups (lavapipe, many Intel GPUs):
// the stride-1 3x3 conv (KIND "same"), the stride-2 4x4 down-conv ("down2") and its transposed
// up-conv ("up2"). Rendered per shape by src/ops/conv/subgroup.rs: {{ KEY }}.
//
// No workgroup memory. Each invocation computes PX consecutive output pixels of one row for
// 4 x QB output channels (16, or 8 where K is not a multiple of 16): accumulator acc{p}_{q}
// holds pixel ox0 + p, channels k0 + 4q .. k0 + 4q + 3. For each (input channel, kernel row)
// the KS x QB weight vec4s of the step are loaded once per subgroup, spread over the 8 lanes
// (lane l loads vec4 l and 8 + l: kernel column i / QB, channel quad i % QB, clamped past the
// end), and handed to every lane with subgroupBroadcast. On
// llvmpipe each load is a masked per-lane loop while FMAs are nearly free, so cutting weight
// loads 8x is what makes this fast. The input row is read as SPAN values with vec4 loads (xm*),
// plus one halo value each side (xl, xr).
//
// up2 works per output-row parity (the low bit of wid.z, uniform across the subgroup): output
// row 2m + par takes kernel rows 1 - par and 3 - par from input rows m + par and m + par - 1;
// output pixel 2i + odd takes kernel columns 1 - odd and 3 - odd from input columns i + odd
// and i + odd - 1.
//
// Everything but alpha is a compile-time constant: constant divisions, bounds and trip counts
// are much cheaper than uniform ones on llvmpipe (a uniform batch size measured ~20% slower).
const C: u32 = {{ C }}u;
const K: u32 = {{ K }}u;
const H: u32 = {{ H }}u;
const W: u32 = {{ W }}u;
const WO: u32 = {{ WO }}u;
const HWO: u32 = {{ HWO }}u;
const KS: u32 = {{ KS }}u;
const QB: u32 = {{ QB }}u;
const NW: u32 = {{ KS * QB }}u;
const PX: u32 = {{ PX }}u;
const SPAN: u32 = {{ SPAN }}u;
const ROWS: u32 = {{ ROWS }}u;
const PGROW: u32 = {{ PGROW }}u;
const SEGS: u32 = {{ SEGS }}u;
struct Params { alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ws: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> ys: array<vec4<f32>>;
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  // Row segment g (surplus lanes of the last workgroup clamp it and skip the store: a subgroup
  // kernel cannot return early), its image n, row r and first output pixel ox0.
  let g0 = (wid.x + wid.y * nwg.x) * 8u + lid;
  let g = min(g0, SEGS - 1u);
  let n = g / (ROWS * PGROW); let rem = g % (ROWS * PGROW);
  let r = rem / PGROW; let ox0 = (rem % PGROW) * PX;
  // The two weight vec4s this lane loads for the subgroup: kernel column lb, channel quad lq.
  let li0 = min(sid, NW - 1u); let lb0 = li0 / QB; let lq0 = li0 % QB;
//# if KS * QB > 8
  let li1 = min(8u + sid, NW - 1u); let lb1 = li1 / QB; let lq1 = li1 % QB;
//# endif
//# if KIND == "up2"
  let k0 = (wid.z / 2u) * 4u * QB; let par = wid.z % 2u;
  let oy = 2u * r + par; let xb = ox0 / 2u;
//# elif KIND == "down2"
  let k0 = wid.z * 4u * QB;
  let oy = r; let xb = 2u * ox0;
//# else
  let k0 = wid.z * 4u * QB;
  let oy = r; let xb = ox0;
//# endif
//# for p in range(PX)
//#   for q in range(QB)
  var acc{{ p }}_{{ q }} = vec4<f32>(0.0);
//#   endfor
//# endfor
  for (var c = 0u; c < C; c++) {
//# for t in range(TAPS)
//#   if KIND == "up2"
    { let a = 1u - par + {{ 2 * t }}u; let iy = i32(r + par) - {{ t }};
//#   elif KIND == "down2"
    { let a = {{ t }}u; let iy = 2 * i32(oy) + {{ t }} - 1;
//#   else
    { let a = {{ t }}u; let iy = i32(oy) + {{ t }} - 1;
//#   endif
      let wl0 = ws[((a * KS + lb0) * C + c) * (K / 4u) + k0 / 4u + lq0];
//#   if KS * QB > 8
      let wl1 = ws[((a * KS + lb1) * C + c) * (K / 4u) + k0 / 4u + lq1];
//#   endif
      let rowok = iy >= 0 && iy < i32(H);
      let rb = ((n * C + c) * H + u32(select(0, iy, rowok))) * W + xb;
      var xl = 0.0; var xr = 0.0;
//#   for i in range(SPAN // 4)
      var xm{{ i }} = vec4<f32>(0.0);
//#   endfor
      if (rowok) {
        if (xb > 0u) { xl = xs4[(rb - 1u) / 4u][3]; }
        if (xb + SPAN < W) { xr = xs4[(rb + SPAN) / 4u][0]; }
//#   for i in range(SPAN // 4)
        xm{{ i }} = xs4[rb / 4u + {{ i }}u];
//#   endfor
      }
//#   for b in range(KS)
      {
//#     for q in range(QB)
        let w{{ q }} = subgroupBroadcast(wl{{ (b * QB + q) // 8 }}, {{ (b * QB + q) % 8 }}u);
//#     endfor
//#     for p in range(PX)
//#       if KIND == "up2"
//#         set col = p // 2 + p % 2 - b // 2
//#         set taps = b % 2 != p % 2
//#       elif KIND == "down2"
//#         set col = 2 * p + b - 1
//#         set taps = true
//#       else
//#         set col = p + b - 1
//#         set taps = true
//#       endif
//#       if taps
//#         set xv = "xl" if col < 0 else ("xr" if col >= SPAN else "xm" ~ (col // 4) ~ "[" ~ (col % 4) ~ "]")
//#         for q in range(QB)
        acc{{ p }}_{{ q }} = fma(vec4<f32>({{ xv }}), w{{ q }}, acc{{ p }}_{{ q }});
//#         endfor
//#       endif
//#     endfor
      }
//#   endfor
    }
//# endfor
  }
  if (g0 < SEGS) {
    // Transpose the register block: output row of channel k0 + 4q + e gets pixels 4h .. 4h + 3.
    let ob = (n * K + k0) * HWO + oy * WO + ox0;
//# for q in range(QB)
//#   for e in range(4)
//#     set comp = "xyzw"[e]
//#     for h in range(PX // 4)
    ys[(ob + {{ q * 4 + e }}u * HWO) / 4u + {{ h }}u] = p.alpha * vec4<f32>(acc{{ 4 * h }}_{{ q }}.{{ comp }}, acc{{ 4 * h + 1 }}_{{ q }}.{{ comp }}, acc{{ 4 * h + 2 }}_{{ q }}.{{ comp }}, acc{{ 4 * h + 3 }}_{{ q }}.{{ comp }});
//#     endfor
//#   endfor
//# endfor
  }
}
