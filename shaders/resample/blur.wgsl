// Depthwise 3x3 correlation with one filter shared by every channel, zero padding "same".
// The 9 taps (row-major) travel in the uniform.
//
// Scalar: one pixel per invocation; `flip` reads the taps rotated by 180 degrees, which turns
// the op into its own adjoint (the backward of a correlation is the correlation with the
// flipped filter), so one kernel serves forward, backward and double backward.
// VEC4: four pixels of one row per invocation, for rows whose width W is a multiple of 4: each
// of the three input rows is one vec4 load plus one halo value each side (9 loads for 4
// outputs instead of 36; on lavapipe loads are the cost). The taps arrive already rotated when
// the adjoint is wanted.
//# if VEC4
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
//# else
struct Params { n: u32, h: u32, w: u32, flip: u32,
                t0: f32, t1: f32, t2: f32, t3: f32, t4: f32, t5: f32, t6: f32, t7: f32, t8: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

fn tap(k: u32) -> f32 {
    let j = select(k, 8u - k, P.flip != 0u);
    switch (j) {
        case 0u: { return P.t0; }
        case 1u: { return P.t1; }
        case 2u: { return P.t2; }
        case 3u: { return P.t3; }
        case 4u: { return P.t4; }
        case 5u: { return P.t5; }
        case 6u: { return P.t6; }
        case 7u: { return P.t7; }
        default: { return P.t8; }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let x = i32(o % P.w);
    let r = o / P.w;
    let y = i32(r % P.h);
    let base = (r / P.h) * P.h * P.w;
    let h = i32(P.h);
    let w = i32(P.w);
    var acc = 0.0;
    for (var dy = 0; dy < 3; dy++) {
        let yy = y + dy - 1;
        if (yy < 0 || yy >= h) { continue; }
        for (var dx = 0; dx < 3; dx++) {
            let xx = x + dx - 1;
            if (xx < 0 || xx >= w) { continue; }
            acc += tap(u32(dy * 3 + dx)) * X[base + u32(yy * w + xx)];
        }
    }
    Y[o] = acc;
}
//# endif
