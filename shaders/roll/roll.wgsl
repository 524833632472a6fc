// Y = X rolled by (sh, sw) pixels over the last two axes of [..., h, w] (torch.roll with
// shifts (sh, sw), dims (-2, -1)): Y[.., y, x] = X[.., (y - sh) mod h, (x - sw) mod w]. The
// shifts arrive already reduced to [0, h) and [0, w).
struct Params { n: u32, h: u32, w: u32, sh: u32, sw: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let x = i % P.w;
    let y = (i / P.w) % P.h;
    let plane = i - y * P.w - x;
    let sy = (y + P.h - P.sh) % P.h;
    let sx = (x + P.w - P.sw) % P.w;
    Y[i] = X[plane + sy * P.w + sx];
}
