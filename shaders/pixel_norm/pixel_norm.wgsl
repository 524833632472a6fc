// Pixel norm: y = x * rsqrt(mean over channels of x^2 + eps). X is [N, C, HW] (HW = 1 for
// [N, C]); one invocation per (n, pixel) walks its C channels (stride HW), twice: the channel
// count is small (<= 512) and this keeps the kernel free of workgroup memory.
struct Params { pixels: u32, c: u32, hw: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.pixels) { return; }
    let n = i / P.hw;
    let base = n * P.c * P.hw + i % P.hw;
    var acc = 0.0;
    for (var c = 0u; c < P.c; c++) {
        let v = X[base + c * P.hw];
        acc += v * v;
    }
    let r = inverseSqrt(acc / f32(P.c) + P.eps);
    for (var c = 0u; c < P.c; c++) {
        Y[base + c * P.hw] = X[base + c * P.hw] * r;
    }
}
