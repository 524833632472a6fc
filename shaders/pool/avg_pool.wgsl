// Average pooling (NCHW), like torch.nn.functional.avg_pool2d (floor output size): a k x k
// window every `s` pixels, `pad` pixels of zero padding, divided by k * k (`include_pad`, the
// window clipped to the padded input, which is k * k without ceil_mode) or by the number of
// input pixels in the window. `main`: one invocation per output. `adjoint`: its transpose,
// one invocation per input pixel (the backward; avg pooling is in turn the adjoint's backward).
struct Params { n: u32, h: u32, w: u32, ho: u32, wo: u32, k: u32, s: u32, pad: u32, include_pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

// Window of output o along an axis of `len` inputs: [start, end) clipped to the input, and the
// window's extent clipped to the padded input.
fn window(o: u32, len: u32) -> vec3<i32> {
    let start = i32(o * P.s) - i32(P.pad);
    let end = min(start + i32(P.k), i32(len + P.pad));
    return vec3<i32>(max(start, 0), min(end, i32(len)), end - start);
}

fn divisor(oy: u32, ox: u32) -> f32 {
    let wy = window(oy, P.h);
    let wx = window(ox, P.w);
    if (P.include_pad != 0u) {
        return f32(wy.z * wx.z);
    }
    return f32((wy.y - wy.x) * (wx.y - wx.x));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let ox = o % P.wo;
    let r = o / P.wo;
    let oy = r % P.ho;
    let plane = r / P.ho;
    let wy = window(oy, P.h);
    let wx = window(ox, P.w);
    let base = plane * P.h * P.w;
    var acc = 0.0;
    for (var y = u32(wy.x); y < u32(wy.y); y++) {
        for (var x = u32(wx.x); x < u32(wx.y); x++) {
            acc += X[base + y * P.w + x];
        }
    }
    Y[o] = acc / divisor(oy, ox);
}

// The outputs [lo, hi) along one axis whose window holds input i.
fn cover(i: u32, lout: u32) -> vec2<u32> {
    let a = i + P.pad;
    var lo = 0u;
    if (a + 1u > P.k) {
        lo = (a + 1u - P.k + P.s - 1u) / P.s;
    }
    return vec2<u32>(lo, min(a / P.s + 1u, lout));
}

// X is the output-shaped gradient, Y the input-shaped result; `n` counts inputs.
@compute @workgroup_size(WG)
fn adjoint(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let ix = o % P.w;
    let r = o / P.w;
    let iy = r % P.h;
    let plane = r / P.h;
    let cy = cover(iy, P.ho);
    let cx = cover(ix, P.wo);
    var acc = 0.0;
    for (var oy = cy.x; oy < cy.y; oy++) {
        let row = (plane * P.ho + oy) * P.wo;
        for (var ox = cx.x; ox < cx.y; ox++) {
            acc += X[row + ox] / divisor(oy, ox);
        }
    }
    Y[o] = acc;
}
