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
// Everything but alpha is a compile-time constant (see conv/subgroup.wgsl for why).
const C: u32 = {{ C }}u;
const K: u32 = {{ K }}u;
const H: u32 = {{ H }}u;
const W: u32 = {{ W }}u;
const WO: u32 = {{ WO }}u;
const HWO: u32 = {{ HWO }}u;
const KW: u32 = {{ KW }}u;
const QB: u32 = {{ QB }}u;
const NW: u32 = {{ KW * QB }}u;
const S: u32 = {{ S }}u;
const PH: i32 = {{ PH }};
const PW: i32 = {{ PW }};
const PX: u32 = {{ PX }}u;
const ROWS: u32 = {{ ROWS }}u;
const PGROW: u32 = {{ PGROW }}u;
const SEGS: u32 = {{ SEGS }}u;
struct Params { alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ws: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> ys: array<f32>;
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  // Row segment g (surplus lanes of the last workgroup clamp it and skip the store: a subgroup
  // kernel cannot return early), its image n, output row oy and first output pixel ox0.
  let g0 = (wid.x + wid.y * nwg.x) * 8u + lid;
  let g = min(g0, SEGS - 1u);
  let n = g / (ROWS * PGROW); let rem = g % (ROWS * PGROW);
  let oy = rem / PGROW; let ox0 = (rem % PGROW) * PX;
  let k0 = wid.z * {{ 4 * QB }}u;
  // The weight vec4s this lane loads for the subgroup: kernel column lb, channel quad lq.
//# for j in range(NL)
  let li{{ j }} = min({{ 8 * j }}u + sid, NW - 1u);
  let wo{{ j }} = (li{{ j }} / QB) * C * (K / 4u) + k0 / 4u + li{{ j }} % QB;
//# endfor
  // Input columns of the window, clamped into the row, and whether each is inside it.
  let x0 = i32(ox0 * S) - PW;
//# for i in range(SPAN)
  let ci{{ i }} = u32(clamp(x0 + {{ i }}, 0, i32(W) - 1));
  let cv{{ i }} = x0 + {{ i }} >= 0 && x0 + {{ i }} < i32(W);
//# endfor
//# for p in range(PX)
//#   for q in range(QB)
  var acc{{ p }}_{{ q }} = vec4<f32>(0.0);
//#   endfor
//# endfor
  for (var c = 0u; c < C; c++) {
//# for a in range(KH)
    {
      let iy = i32(oy * S) + {{ a }} - PH;
      let rowok = iy >= 0 && iy < i32(H);
      let rb = ((n * C + c) * H + u32(clamp(iy, 0, i32(H) - 1))) * W;
      let wb = ({{ a }}u * KW * C + c) * (K / 4u);
//#   for j in range(NL)
      let wl{{ j }} = ws[wb + wo{{ j }}];
//#   endfor
//#   for i in range(SPAN)
      let xv{{ i }} = select(0.0, xs[rb + ci{{ i }}], rowok && cv{{ i }});
//#   endfor
//#   for b in range(KW)
      {
//#     for q in range(QB)
        let w{{ q }} = subgroupBroadcast(wl{{ (b * QB + q) // 8 }}, {{ (b * QB + q) % 8 }}u);
//#     endfor
//#     for p in range(PX)
//#       for q in range(QB)
        acc{{ p }}_{{ q }} = fma(vec4<f32>(xv{{ p * S + b }}), w{{ q }}, acc{{ p }}_{{ q }});
//#       endfor
//#     endfor
      }
//#   endfor
    }
//# endfor
  }
  if (g0 < SEGS) {
    let ob = (n * K + k0) * HWO + oy * WO + ox0;
//# for p in range(PX)
    if (ox0 + {{ p }}u < WO) {
//#   for q in range(QB)
//#     for e in range(4)
      ys[ob + {{ q * 4 + e }}u * HWO + {{ p }}u] = p.alpha * acc{{ p }}_{{ q }}.{{ "xyzw"[e] }};
//#     endfor
//#   endfor
    }
//# endfor
  }
}
