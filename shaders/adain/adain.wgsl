// Instance norm / AdaIN: one workgroup per (n, c) plane of X [N, C, HW].
//   xhat = (x - mean) * rsqrt(mean((x - mean)^2) + eps)      (biased variance)
//   mode 0: y = xhat          mode 1: y = xhat * (S[n, c] + 1) + S[n, C + c],  S is [N, 2C]
// The variance is taken around the mean in a second pass rather than as E[x^2] - E[x]^2, which
// cancels badly for planes with a large mean. Without a style (mode 0) the S binding holds a
// placeholder buffer that is never read.
//
// VEC4, for planes whose size HW is a multiple of 4: vec4 loads and stores, and a workgroup of
// 64 (fewer lanes to synchronize in the two reductions; on lavapipe barriers, not arithmetic,
// dominate this kernel). VEC4 also has `per_plane`: one invocation per plane, sequential
// vec4 sums and no barrier, for CPU adapters (planes up to 64²; chosen whatever the batch).
//# set T = "vec4<f32>" if VEC4 else "f32"
//# set LANES = "AW" if VEC4 else "WG"
//# set LEN = "hw4" if VEC4 else "P.hw"
//# if VEC4
const AW: u32 = 64u;
//# endif
struct Params { planes: u32, hw: u32, c: u32, mode: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<{{ T }}>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<{{ T }}>;

var<workgroup> part: array<f32, {{ LANES }}>;

// Sum of `v` over the workgroup; every invocation gets the result.
fn wg_sum(v: f32, lid: u32) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    for (var s = {{ LANES }} / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { part[lid] += part[lid + s]; }
        workgroupBarrier();
    }
    let total = part[0];
    // Nobody may overwrite part[0] (next wg_sum) before everyone has read it.
    workgroupBarrier();
    return total;
}

@compute @workgroup_size({{ LANES }})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    // `plane` is uniform across the workgroup, so the barriers inside wg_sum stay in uniform
    // control flow: out-of-range workgroups run the reductions and just skip the loads/stores.
    let plane = wid.x + wid.y * nwg.x;
    let live = plane < P.planes;
//# if VEC4
    let hw4 = P.hw / 4u;
    let base = plane * hw4;
//# else
    let base = plane * P.hw;
//# endif
    let inv = 1.0 / f32(P.hw);

//# if VEC4
    var acc = vec4<f32>(0.0);
//# else
    var acc = 0.0;
//# endif
    if (live) {
        for (var l = lid; l < {{ LEN }}; l += {{ LANES }}) { acc += X[base + l]; }
    }
//# if VEC4
    let mean = wg_sum(acc.x + acc.y + acc.z + acc.w, lid) * inv;
//# else
    let mean = wg_sum(acc, lid) * inv;
//# endif

//# if VEC4
    var acc2 = vec4<f32>(0.0);
//# else
    var acc2 = 0.0;
//# endif
    if (live) {
        for (var l = lid; l < {{ LEN }}; l += {{ LANES }}) {
//# if VEC4
            let d = X[base + l] - vec4<f32>(mean);
//# else
            let d = X[base + l] - mean;
//# endif
            acc2 += d * d;
        }
    }
//# if VEC4
    let r = inverseSqrt(wg_sum(acc2.x + acc2.y + acc2.z + acc2.w, lid) * inv + P.eps);
//# else
    let r = inverseSqrt(wg_sum(acc2, lid) * inv + P.eps);
//# endif
    if (!live) { return; }

    // (x - mean) * a + b, not x * a + (b - mean * a): for a nearly constant plane r is up to
    // 1e4 and folding the mean into b cancels catastrophically (found by the PyTorch twin).
    var a = r;
    var b = 0.0;
    if (P.mode == 1u) {
        let n = plane / P.c;
        let c = plane % P.c;
        a = r * (S[n * 2u * P.c + c] + 1.0);
        b = S[n * 2u * P.c + P.c + c];
    }
    for (var l = lid; l < {{ LEN }}; l += {{ LANES }}) {
//# if VEC4
        Y[base + l] = (X[base + l] - vec4<f32>(mean)) * a + vec4<f32>(b);
//# else
        Y[base + l] = (X[base + l] - mean) * a + b;
//# endif
    }
}

//# if VEC4
// (x - mean) * a + b with plane `plane`'s style (see `main`).
fn style_ab(plane: u32, r: f32) -> vec2<f32> {
    if (P.mode == 0u) { return vec2<f32>(r, 0.0); }
    let n = plane / P.c;
    let c = plane % P.c;
    return vec2<f32>(r * (S[n * 2u * P.c + c] + 1.0), S[n * 2u * P.c + P.c + c]);
}

@compute @workgroup_size(SEQ_WG)
fn per_plane(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let plane = (wid.x + wid.y * nwg.x) * SEQ_WG + lid;
    if (plane >= P.planes) { return; }
    let hw4 = P.hw / 4u;
    let base = plane * hw4;
    let inv = 1.0 / f32(P.hw);
    var acc = vec4<f32>(0.0);
    for (var l = 0u; l < hw4; l++) { acc += X[base + l]; }
    let mean = (acc.x + acc.y + acc.z + acc.w) * inv;
    var acc2 = vec4<f32>(0.0);
    for (var l = 0u; l < hw4; l++) {
        let d = X[base + l] - vec4<f32>(mean);
        acc2 += d * d;
    }
    let ab = style_ab(plane, inverseSqrt((acc2.x + acc2.y + acc2.z + acc2.w) * inv + P.eps));
    for (var l = 0u; l < hw4; l++) {
        Y[base + l] = (X[base + l] - vec4<f32>(mean)) * ab.x + vec4<f32>(ab.y);
    }
}
//# endif
