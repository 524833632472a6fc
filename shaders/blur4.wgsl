// The depthwise 3x3 correlation of blur.wgsl, four pixels of one row per invocation, for rows
// whose width W is a multiple of 4: each of the three input rows is one vec4 load plus one
// halo value each side (9 loads for 4 outputs instead of 36; on lavapipe loads are the cost).
// The taps arrive already rotated when the adjoint is wanted.
struct Params { n4: u32, h: u32, w4: u32,
                t0: f32, t1: f32, t2: f32, t3: f32, t4: f32, t5: f32, t6: f32, t7: f32, t8: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;

// One input row's contribution: taps (a, b, c) on the columns left of, at, and right of each
// of the four pixels.
fn row(i: u32, xq: u32, a: f32, b: f32, c: f32) -> vec4<f32> {
    let m = X[i];
    var l = 0.0;
    var r = 0.0;
    if (xq > 0u) { l = X[i - 1u].w; }
    if (xq + 1u < P.w4) { r = X[i + 1u].x; }
    return a * vec4<f32>(l, m.xyz) + b * m + c * vec4<f32>(m.yzw, r);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n4) { return; }
    let xq = o % P.w4;
    let r = o / P.w4;
    let y = r % P.h;
    var acc = row(o, xq, P.t3, P.t4, P.t5);
    if (y > 0u) { acc += row(o - P.w4, xq, P.t0, P.t1, P.t2); }
    if (y + 1u < P.h) { acc += row(o + P.w4, xq, P.t6, P.t7, P.t8); }
    Y[o] = acc;
}
