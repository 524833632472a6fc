// Subgroup-broadcast matmul for adapters with 8-wide subgroups (lavapipe, many Intel GPUs):
// D[M,N] = alpha * op(X)[M,K] @ op(Y)[K,N], split over K into parts. Rendered per shape by
// src/ops/dense/subgroup.rs: {{ KEY }}.
//
// D is C (X = A, Y = B) or C's transpose (X = B, Y = A): the host picks which operand the
// lanes own. A workgroup is one subgroup of 8 lanes and computes an (8 RO) x RS tile of D; lane
// l owns rows i0 .. i0 + RO - 1 (acc{r}_{q}: row i0 + r, columns j0 + 4q .. j0 + 4q + 3). Per
// step of 4 k, each lane loads its own rows' 4 RO values of X as RO vec4s, and the tile's
// 4 RS values of Y, which every lane needs, are loaded once per subgroup as RS vec4s spread
// over the lanes (NL per lane) and handed to every lane with subgroupBroadcast, four columns
// at a time, each accumulator taking its 4 k in a row (this order, rather than k outermost,
// keeps fewer values live and measured ~15% faster). On llvmpipe a
// load is a masked per-lane loop while FMAs and register shuffles are nearly free (a vec4 is
// four scalars in SIMD-across-lanes form), so only the number of loads matters, not which
// dimension a vec4 runs along: either layout of each operand costs the same when its
// contiguous dimension is a multiple of 4 (XV, YV). Otherwise that operand's vec4s are
// gathered from 4 scalar loads. Rows and columns past the edge clamp their load indices (no
// branch in the k loop) and skip the store. K % 4 values are added after the loop by the last
// part; parts keep each invocation under lavapipe's loop limit.
//
// Batched (BATCH > 1): BATCH independent products in one dispatch, grid z = part * BATCH +
// batch; X and/or Y advance by one matrix per batch (XB, YB: its size in array elements, or 0
// for an operand all batches share), D is [PARTS, BATCH, M, N] (or [.., N, M]).
//
// Everything but alpha is a compile-time constant (constant bounds and strides are much
// cheaper than uniform ones on llvmpipe).
const M: u32 = {{ M }}u;
const N: u32 = {{ N }}u;
const K: u32 = {{ K }}u;
const RS: u32 = {{ RS }}u;
const NQ: u32 = {{ RS // 4 }}u;
const TILES_N: u32 = {{ TILES_N }}u;
const TILES: u32 = {{ TILES }}u;
const KCHUNK: u32 = {{ KCHUNK }}u;
const PARTS: u32 = {{ PARTS }}u;
const BATCH: u32 = {{ BATCH }}u;
//# set V = "vec4<f32>"
//# set XYZW = "xyzw"
struct Params { alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> xs: array<{{ V if XV else "f32" }}>;
@group(0) @binding(2) var<storage, read> ys: array<{{ V if YV else "f32" }}>;
@group(0) @binding(3) var<storage, read_write> out: array<{{ V if OV else "f32" }}>;
@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  // Whole surplus workgroups of the 2-D grid leave together; a lane alone must not (it takes
  // part in the broadcasts).
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= TILES) { return; }
  let part = wid.z / BATCH;
  let bi = wid.z % BATCH;
  let xbo = bi * {{ XB }}u;
  let ybo = bi * {{ YB }}u;
  let i0 = ((tile / TILES_N) * 8u + lid) * {{ RO }}u;
  let j0 = (tile % TILES_N) * RS;
  // Where this lane's rows of X start (k = 0), clamped into the matrix.
//# if XKC
//#   for r in range(RO)
  let xo{{ r }} = xbo + min(i0 + {{ r }}u, M - 1u) * {{ "(K / 4u)" if XV else "K" }};
//#   endfor
//# elif XV
//#   for h in range(RO // 4)
  let xo{{ h }} = xbo + min(i0 / 4u + {{ h }}u, M / 4u - 1u);
//#   endfor
//# else
//#   for r in range(RO)
  let xo{{ r }} = xbo + min(i0 + {{ r }}u, M - 1u);
//#   endfor
//# endif
  // The Y vec4s this lane loads for the subgroup: vec4 v = 8t + sid (clamped past the end) is
  // column j0 + v along k (YKC), or k offset v / NQ, columns j0 + 4 (v % NQ) .. + 3.
//# for t in range(NL)
  let li{{ t }} = min({{ 8 * t }}u + sid, RS - 1u);
//#   if YKC
  let yo{{ t }} = ybo + min(j0 + li{{ t }}, N - 1u) * {{ "(K / 4u)" if YV else "K" }};
//#   elif YV
  let yo{{ t }} = ybo + (li{{ t }} / NQ) * (N / 4u) + min(j0 / 4u + li{{ t }} % NQ, N / 4u - 1u);
//#   else
//#     for e in range(4)
  let yo{{ t }}_{{ e }} = ybo + (li{{ t }} / NQ) * N + min(j0 + 4u * (li{{ t }} % NQ) + {{ e }}u, N - 1u);
//#     endfor
//#   endif
//# endfor
//# for r in range(RO)
//#   for q in range(RS // 4)
  var acc{{ r }}_{{ q }} = vec4<f32>(0.0);
//#   endfor
//# endfor
  let kbeg = part * KCHUNK;
  let steps = select(KCHUNK / 4u, (K - kbeg) / 4u, part == PARTS - 1u);
  for (var s = 0u; s < steps; s++) {
    let kb = kbeg + 4u * s;
//# if XKC
//#   for r in range(RO)
//#     if XV
    let xr{{ r }} = xs[xo{{ r }} + kb / 4u];
//#     else
    let xr{{ r }} = {{ V }}(xs[xo{{ r }} + kb], xs[xo{{ r }} + kb + 1u], xs[xo{{ r }} + kb + 2u], xs[xo{{ r }} + kb + 3u]);
//#     endif
//#   endfor
//# else
//#   for u in range(4)
//#     for h in range(RO // 4)
//#       if XV
    let xq{{ u }}_{{ h }} = xs[(kb + {{ u }}u) * (M / 4u) + xo{{ h }}];
//#       else
//#         set row = "(kb + " ~ u ~ "u) * M + xo"
    let xq{{ u }}_{{ h }} = {{ V }}(xs[{{ row }}{{ 4 * h }}], xs[{{ row }}{{ 4 * h + 1 }}], xs[{{ row }}{{ 4 * h + 2 }}], xs[{{ row }}{{ 4 * h + 3 }}]);
//#       endif
//#     endfor
//#   endfor
//# endif
//# for t in range(NL)
//#   if YKC and YV
    let yl{{ t }} = ys[yo{{ t }} + kb / 4u];
//#   elif YKC
    let yl{{ t }} = {{ V }}(ys[yo{{ t }} + kb], ys[yo{{ t }} + kb + 1u], ys[yo{{ t }} + kb + 2u], ys[yo{{ t }} + kb + 3u]);
//#   elif YV
    let yl{{ t }} = ys[kb * (N / 4u) + yo{{ t }}];
//#   else
    let yl{{ t }} = {{ V }}(ys[kb * N + yo{{ t }}_0], ys[kb * N + yo{{ t }}_1], ys[kb * N + yo{{ t }}_2], ys[kb * N + yo{{ t }}_3]);
//#   endif
//# endfor
//# for q in range(RS // 4)
    {
//#   if YKC
//#     for c in range(4)
      let b{{ c }} = subgroupBroadcast(yl{{ (4 * q + c) // 8 }}, {{ (4 * q + c) % 8 }}u);
//#     endfor
//#     for u in range(4)
      let y{{ u }} = {{ V }}(b0.{{ XYZW[u] }}, b1.{{ XYZW[u] }}, b2.{{ XYZW[u] }}, b3.{{ XYZW[u] }});
//#     endfor
//#   else
//#     for u in range(4)
      let y{{ u }} = subgroupBroadcast(yl{{ (u * (RS // 4) + q) // 8 }}, {{ (u * (RS // 4) + q) % 8 }}u);
//#     endfor
//#   endif
//#   for r in range(RO)
//#     for u in range(4)
//#       set xv = ("xr" ~ r ~ "." ~ XYZW[u]) if XKC else ("xq" ~ u ~ "_" ~ (r // 4) ~ "." ~ XYZW[r % 4])
      acc{{ r }}_{{ q }} = fma({{ V }}({{ xv }}), y{{ u }}, acc{{ r }}_{{ q }});
//#     endfor
//#   endfor
    }
//# endfor
  }
//# if KT > 0
  // The last K % 4 values, loaded by each lane itself (once per invocation).
  if (part == PARTS - 1u) {
//#   for u in range(KT)
    {
      let k = K - {{ KT - u }}u;
//#     for r in range(RO)
//#       if XKC
      let x{{ r }} = xs[xo{{ r }} + k];
//#       elif XV
      let x{{ r }} = xs[k * (M / 4u) + xo{{ r // 4 }}].{{ XYZW[r % 4] }};
//#       else
      let x{{ r }} = xs[k * M + xo{{ r }}];
//#       endif
//#     endfor
//#     for q in range(RS // 4)
//#       if YKC
      let y{{ q }} = {{ V }}(ys[ybo + min(j0 + {{ 4 * q }}u, N - 1u) * K + k], ys[ybo + min(j0 + {{ 4 * q + 1 }}u, N - 1u) * K + k], ys[ybo + min(j0 + {{ 4 * q + 2 }}u, N - 1u) * K + k], ys[ybo + min(j0 + {{ 4 * q + 3 }}u, N - 1u) * K + k]);
//#       elif YV
      let y{{ q }} = ys[ybo + k * (N / 4u) + min(j0 / 4u + {{ q }}u, N / 4u - 1u)];
//#       else
      let y{{ q }} = {{ V }}(ys[ybo + k * N + min(j0 + {{ 4 * q }}u, N - 1u)], ys[ybo + k * N + min(j0 + {{ 4 * q + 1 }}u, N - 1u)], ys[ybo + k * N + min(j0 + {{ 4 * q + 2 }}u, N - 1u)], ys[ybo + k * N + min(j0 + {{ 4 * q + 3 }}u, N - 1u)]);
//#       endif
//#       for r in range(RO)
      acc{{ r }}_{{ q }} = fma({{ V }}(x{{ r }}), y{{ q }}, acc{{ r }}_{{ q }});
//#       endfor
//#     endfor
    }
//#   endfor
  }
//# endif
//# if ROWS_OUT
  // D is C: row-major [M, N] per part.
//#   for r in range(RO)
  if (i0 + {{ r }}u < M) {
    let ob = ((part * BATCH + bi) * M + i0 + {{ r }}u) * N + j0;
//#     for q in range(RS // 4)
//#       if OV
    if (j0 + {{ 4 * q }}u < N) { out[ob / 4u + {{ q }}u] = p.alpha * acc{{ r }}_{{ q }}; }
//#       else
//#         for e in range(4)
    if (j0 + {{ 4 * q + e }}u < N) { out[ob + {{ 4 * q + e }}u] = p.alpha * acc{{ r }}_{{ q }}.{{ XYZW[e] }}; }
//#         endfor
//#       endif
//#     endfor
  }
//#   endfor
//# else
  // D is C's transpose: D[i, j] goes to C[j, i], row-major [N, M] per part.
//#   for q in range(RS // 4)
//#     for e in range(4)
  if (j0 + {{ 4 * q + e }}u < N) {
    let ob = ((part * BATCH + bi) * N + j0 + {{ 4 * q + e }}u) * M + i0;
//#       if OV
//#         for h in range(RO // 4)
    if (i0 + {{ 4 * h }}u < M) { out[ob / 4u + {{ h }}u] = p.alpha * {{ V }}(acc{{ 4 * h }}_{{ q }}.{{ XYZW[e] }}, acc{{ 4 * h + 1 }}_{{ q }}.{{ XYZW[e] }}, acc{{ 4 * h + 2 }}_{{ q }}.{{ XYZW[e] }}, acc{{ 4 * h + 3 }}_{{ q }}.{{ XYZW[e] }}); }
//#         endfor
//#       else
//#         for r in range(RO)
    if (i0 + {{ r }}u < M) { out[ob + {{ r }}u] = p.alpha * acc{{ r }}_{{ q }}.{{ XYZW[e] }}; }
//#         endfor
//#       endif
  }
//#     endfor
//#   endfor
//# endif
}
