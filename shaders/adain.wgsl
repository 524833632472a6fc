// Instance norm / AdaIN: one workgroup per (n, c) plane of X [N, C, HW].
//   xhat = (x - mean) * rsqrt(mean((x - mean)^2) + eps)      (biased variance)
//   mode 0: y = xhat          mode 1: y = xhat * (S[n, c] + 1) + S[n, C + c],  S is [N, 2C]
// The variance is taken around the mean in a second pass rather than as E[x^2] - E[x]^2, which
// cancels badly for planes with a large mean. Without a style (mode 0) the S binding holds a
// placeholder buffer that is never read.
struct Params { planes: u32, hw: u32, c: u32, mode: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

var<workgroup> part: array<f32, WG>;

// Sum of `v` over the workgroup; every invocation gets the result.
fn wg_sum(v: f32, lid: u32) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { part[lid] += part[lid + s]; }
        workgroupBarrier();
    }
    let total = part[0];
    // Nobody may overwrite part[0] (next wg_sum) before everyone has read it.
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    // `plane` is uniform across the workgroup, so the barriers inside wg_sum stay in uniform
    // control flow: out-of-range workgroups run the reductions and just skip the loads/stores.
    let plane = wid.x + wid.y * nwg.x;
    let live = plane < P.planes;
    let base = plane * P.hw;
    let inv = 1.0 / f32(P.hw);

    var acc = 0.0;
    if (live) {
        for (var l = lid; l < P.hw; l += WG) { acc += X[base + l]; }
    }
    let mean = wg_sum(acc, lid) * inv;

    var acc2 = 0.0;
    if (live) {
        for (var l = lid; l < P.hw; l += WG) {
            let d = X[base + l] - mean;
            acc2 += d * d;
        }
    }
    let r = inverseSqrt(wg_sum(acc2, lid) * inv + P.eps);
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
    for (var l = lid; l < P.hw; l += WG) {
        Y[base + l] = (X[base + l] - mean) * a + b;
    }
}
