// Subgroup-broadcast forward convolution of any kernel size, stride and padding, for adapters
// with 8-wide subgroups (lavapipe, many Intel GPUs): the shapes the fixed-shape kernel
// (conv/subgroup.wgsl) does not take, such as Inception's 1x1, 1x7, 7x1, 3x3 stride 2 and 5x5
// convs on odd widths. Rendered per shape by src/ops/conv/subgroup_general.rs: {{ KEY }}.
//
// The technique of conv/subgroup.wgsl: no workgroup memory; each invocation computes PX
// consecutive output pixels of one row for KB = 4 QB output channels (acc{p}_{q}: pixel
// ox0 + p, channels k0 + 4q .. k0 + 4q + 3). For each (input channel, kernel row) the KW x QB
// weight vec4s of the step are loaded once per subgroup, NL per lane (lane l loads vec4
// i = 8j + l: kernel column i / QB, channel quad i % QB, clamped past the end), and handed to
// every lane with subgroupBroadcast. What differs: the input row is read as SPAN scalars (widths need not
// be multiples of 4, and the window starts PW columns left of the stride-S pixel), at indices
// and with validity masks computed once per invocation; the last segment of a row may run past
// WO, and the store skips those pixels.
//
// VERT turns the segments by 90 degrees: PX consecutive output pixels of one column, the
// window SPAN input rows of one column, the loop over kernel columns, KH x QB weight vec4s per
// step. For a tall kernel (7x1, 3x1) this is what a row segment is for a wide one: each loaded
// input value serves up to KH taps instead of one (a 7x1 conv on rows loads PX + 1 values per
// 4 QB FMAs; on columns PX + 6 per 28 QB).
//
// Everything but alpha is a compile-time constant (see conv/subgroup.wgsl for why).
const C: u32 = {{ C }}u;
const K: u32 = {{ K }}u;
const H: u32 = {{ H }}u;
const W: u32 = {{ W }}u;
const WO: u32 = {{ WO }}u;
const HWO: u32 = {{ HWO }}u;
const KW: u32 = {{ KW }}u;
const QB: u32 = {{ QB }}u;
const S: u32 = {{ S }}u;
const PH: i32 = {{ PH }};
const PW: i32 = {{ PW }};
const PX: u32 = {{ PX }}u;
const SEGS: u32 = {{ SEGS }}u;
//# if VERT
// Column segments: SEGN per image, WO columns of PGCOL segments.
const PGCOL: u32 = {{ PGCOL }}u;
const HO: u32 = {{ HO }}u;
const NW: u32 = {{ KH * QB }}u;
//# else
const ROWS: u32 = {{ ROWS }}u;
const PGROW: u32 = {{ PGROW }}u;
const NW: u32 = {{ KW * QB }}u;
//# endif
struct Params { alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ws: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> ys: array<f32>;
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  // Segment g (surplus lanes of the last workgroup clamp it and skip the store: a subgroup
  // kernel cannot return early), its image n and first output pixel (oy0, ox0).
  let g0 = (wid.x + wid.y * nwg.x) * 8u + lid;
  let g = min(g0, SEGS - 1u);
//# if VERT
  // Neighbouring lanes take neighbouring columns (their loads touch neighbouring addresses).
  let n = g / (PGCOL * WO); let rem = g % (PGCOL * WO);
  let oy0 = (rem / WO) * PX; let ox0 = rem % WO;
//# else
  let n = g / (ROWS * PGROW); let rem = g % (ROWS * PGROW);
  let oy0 = rem / PGROW; let ox0 = (rem % PGROW) * PX;
//# endif
  let k0 = wid.z * {{ 4 * QB }}u;
  // The weight vec4s this lane loads for the subgroup: kernel tap i / QB along the segment's
  // direction (a column of the kernel row, or a row of the kernel column), channel quad i % QB.
//# for j in range(NL)
  let li{{ j }} = min({{ 8 * j }}u + sid, NW - 1u);
//#   if VERT
  let wo{{ j }} = (li{{ j }} / QB) * KW * C * (K / 4u) + k0 / 4u + li{{ j }} % QB;
//#   else
  let wo{{ j }} = (li{{ j }} / QB) * C * (K / 4u) + k0 / 4u + li{{ j }} % QB;
//#   endif
//# endfor
//# if VERT
  // Input rows of the window, clamped into the column (as offsets), and whether each is inside.
  let y0 = i32(oy0 * S) - PH;
//#   for i in range(SPAN)
  let ci{{ i }} = u32(clamp(y0 + {{ i }}, 0, i32(H) - 1)) * W;
  let cv{{ i }} = y0 + {{ i }} >= 0 && y0 + {{ i }} < i32(H);
//#   endfor
//# else
  // Input columns of the window, clamped into the row, and whether each is inside it.
  let x0 = i32(ox0 * S) - PW;
//#   for i in range(SPAN)
  let ci{{ i }} = u32(clamp(x0 + {{ i }}, 0, i32(W) - 1));
  let cv{{ i }} = x0 + {{ i }} >= 0 && x0 + {{ i }} < i32(W);
//#   endfor
//# endif
//# for p in range(PX)
//#   for q in range(QB)
  var acc{{ p }}_{{ q }} = vec4<f32>(0.0);
//#   endfor
//# endfor
  for (var c = 0u; c < C; c++) {
//# if VERT
//#   for b in range(KW)
    {
      let ix = i32(ox0 * S) + {{ b }} - PW;
      let lineok = ix >= 0 && ix < i32(W);
      let rb = (n * C + c) * H * W + u32(clamp(ix, 0, i32(W) - 1));
      let wb = ({{ b }}u * C + c) * (K / 4u);
//#     set TAPS = KH
//# include "conv/subgroup_general_step.wgsl"
    }
//#   endfor
//# else
//#   for a in range(KH)
    {
      let iy = i32(oy0 * S) + {{ a }} - PH;
      let lineok = iy >= 0 && iy < i32(H);
      let rb = ((n * C + c) * H + u32(clamp(iy, 0, i32(H) - 1))) * W;
      let wb = ({{ a }}u * KW * C + c) * (K / 4u);
//#     set TAPS = KW
//# include "conv/subgroup_general_step.wgsl"
    }
//#   endfor
//# endif
  }
  if (g0 < SEGS) {
    let ob = (n * K + k0) * HWO + oy0 * WO + ox0;
//# for p in range(PX)
//#   if VERT
    if (oy0 + {{ p }}u < HO) {
//#   else
    if (ox0 + {{ p }}u < WO) {
//#   endif
//#   for q in range(QB)
//#     for e in range(4)
      ys[ob + {{ q * 4 + e }}u * HWO + {{ p }}u{{ " * WO" if VERT else "" }}] = p.alpha * acc{{ p }}_{{ q }}.{{ "xyzw"[e] }};
//#     endfor
//#   endfor
    }
//# endfor
  }
}
