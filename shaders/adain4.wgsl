// Instance norm / AdaIN of adain.wgsl for planes whose size HW is a multiple of 4: vec4 loads
// and stores, and a workgroup of 64 (fewer lanes to synchronize in the two reductions; on
// lavapipe barriers, not arithmetic, dominate this kernel).
const AW: u32 = 64u;
struct Params { planes: u32, hw: u32, c: u32, mode: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<vec4<f32>>;

var<workgroup> part: array<f32, AW>;

fn wg_sum(v: f32, lid: u32) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    for (var s = AW / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { part[lid] += part[lid + s]; }
        workgroupBarrier();
    }
    let total = part[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(AW)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let plane = wid.x + wid.y * nwg.x;
    let live = plane < P.planes;
    let hw4 = P.hw / 4u;
    let base = plane * hw4;
    let inv = 1.0 / f32(P.hw);

    var acc = vec4<f32>(0.0);
    if (live) {
        for (var l = lid; l < hw4; l += AW) { acc += X[base + l]; }
    }
    let mean = wg_sum(acc.x + acc.y + acc.z + acc.w, lid) * inv;

    var acc2 = vec4<f32>(0.0);
    if (live) {
        for (var l = lid; l < hw4; l += AW) {
            let d = X[base + l] - vec4<f32>(mean);
            acc2 += d * d;
        }
    }
    let r = inverseSqrt(wg_sum(acc2.x + acc2.y + acc2.z + acc2.w, lid) * inv + P.eps);
    if (!live) { return; }

    // (x - mean) * a + b: see adain.wgsl for why the mean is not folded into b.
    var a = r;
    var b = 0.0;
    if (P.mode == 1u) {
        let n = plane / P.c;
        let c = plane % P.c;
        a = r * (S[n * 2u * P.c + c] + 1.0);
        b = S[n * 2u * P.c + P.c + c];
    }
    for (var l = lid; l < hw4; l += AW) {
        Y[base + l] = (X[base + l] - vec4<f32>(mean)) * a + vec4<f32>(b);
    }
}
