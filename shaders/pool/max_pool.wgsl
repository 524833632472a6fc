// Max pooling (NCHW), like torch.nn.functional.max_pool2d: a k x k window every `s` pixels,
// `pad` pixels of -inf padding, floor output size. One invocation per output writes the maximum
// and its index within the input plane (y * w + x) for the backward. Ties keep the first index
// in row-major window order and a NaN wins (as PyTorch's `val > max || isnan(val)`).
struct Params { n: u32, h: u32, w: u32, ho: u32, wo: u32, k: u32, s: u32, pad: u32, include_pad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read_write> I: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let ox = o % P.wo;
    let r = o / P.wo;
    let oy = r % P.ho;
    let plane = r / P.ho;
    // The window clipped to the input (padding is -inf, so it never wins; every window holds at
    // least one input pixel since pad <= k / 2).
    let y0 = i32(oy * P.s) - i32(P.pad);
    let x0 = i32(ox * P.s) - i32(P.pad);
    let ya = u32(max(y0, 0));
    let yb = u32(min(y0 + i32(P.k), i32(P.h)));
    let xa = u32(max(x0, 0));
    let xb = u32(min(x0 + i32(P.k), i32(P.w)));
    let base = plane * P.h * P.w;
    var best = ya * P.w + xa;
    var m = X[base + best];
    for (var y = ya; y < yb; y++) {
        for (var x = xa; x < xb; x++) {
            let i = y * P.w + x;
            let v = X[base + i];
            if (v > m || v != v) {
                m = v;
                best = i;
            }
        }
    }
    Y[o] = m;
    I[o] = best;
}
