// The two linear maps of max pooling's backward, given the argmax indices `I` (one per output,
// the index within the input plane) that `pool/max_pool.wgsl` wrote. They are adjoints of each
// other, so each one is the other's backward.
// `scatter`: one invocation per INPUT pixel gathers the output gradients whose argmax it is
// (no atomics): dx[p] = sum over the outputs q whose window holds p and I[q] == p of g[q].
// `gather`: one invocation per OUTPUT: y[q] = x[I[q]] in the same plane.
struct Params { n: u32, h: u32, w: u32, ho: u32, wo: u32, k: u32, s: u32, pad: u32, include_pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> I: array<u32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

// The outputs [lo, hi) along one axis whose window (start o * s - pad, k long) holds input i.
fn cover(i: u32, lout: u32) -> vec2<u32> {
    let a = i + P.pad;
    var lo = 0u;
    if (a + 1u > P.k) {
        lo = (a + 1u - P.k + P.s - 1u) / P.s;
    }
    return vec2<u32>(lo, min(a / P.s + 1u, lout));
}

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let ix = o % P.w;
    let r = o / P.w;
    let iy = r % P.h;
    let plane = r / P.h;
    let me = iy * P.w + ix;
    let cy = cover(iy, P.ho);
    let cx = cover(ix, P.wo);
    var acc = 0.0;
    for (var oy = cy.x; oy < cy.y; oy++) {
        let row = (plane * P.ho + oy) * P.wo;
        for (var ox = cx.x; ox < cx.y; ox++) {
            if (I[row + ox] == me) {
                acc += G[row + ox];
            }
        }
    }
    Y[o] = acc;
}

@compute @workgroup_size(WG)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let plane = o / (P.ho * P.wo);
    Y[o] = G[plane * P.h * P.w + I[o]];
}
