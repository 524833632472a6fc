// Minibatch standard deviation. X is [N, C, HW] viewed as [G, M, CHW] (N = G*M: image
// n = g*M + m belongs to group m).
// `stats`: one workgroup per group m: STAT[m] = mean over CHW of sqrt(var over g + eps), with the
//          biased variance taken around the group mean.
// `write_out`: one invocation per element of Y [N, C+1, HW]: X copied, then STAT[n % M] as the
//          last channel.
// Both entry points share one binding layout (X, STAT, Y); `stats` leaves Y alone.
struct Params { n: u32, g: u32, m: u32, c: u32, hw: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> STAT: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m = wid.x + wid.y * nwg.x;
    let chw = P.c * P.hw;
    let gstride = P.m * chw;
    var acc = 0.0;
    if (m < P.m) {
        let inv_g = 1.0 / f32(P.g);
        for (var j = lid; j < chw; j += WG) {
            let base = m * chw + j;
            var mu = 0.0;
            for (var g = 0u; g < P.g; g++) { mu += X[base + g * gstride]; }
            mu *= inv_g;
            var v = 0.0;
            for (var g = 0u; g < P.g; g++) {
                let d = X[base + g * gstride] - mu;
                v += d * d;
            }
            acc += sqrt(v * inv_g + P.eps);
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { part[lid] += part[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u && m < P.m) { STAT[m] = part[0] / f32(chw); }
}

@compute @workgroup_size(WG)
fn write_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let p = i % P.hw;
    let q = i / P.hw;
    let c = q % (P.c + 1u);
    let n = q / (P.c + 1u);
    if (c < P.c) {
        Y[i] = X[(n * P.c + c) * P.hw + p];
    } else {
        Y[i] = STAT[n % P.m];
    }
}
