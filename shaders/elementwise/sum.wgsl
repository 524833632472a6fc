// y = ((x0 + x1) + x2) + x3 over the first `k` inputs (2 to 4; the unused bindings hold a
// placeholder that is never read), left to right: the same rounding as adding them one at a
// time, in one pass (gradient accumulation).
// VEC4: four elements per invocation for sizes that are a multiple of 4; n counts vec4s there.
//# set T = "vec4<f32>" if VEC4 else "f32"
struct Params { n: u32, k: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X0: array<{{ T }}>;
@group(0) @binding(2) var<storage, read> X1: array<{{ T }}>;
@group(0) @binding(3) var<storage, read> X2: array<{{ T }}>;
@group(0) @binding(4) var<storage, read> X3: array<{{ T }}>;
@group(0) @binding(5) var<storage, read_write> Y: array<{{ T }}>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    var y = X0[i] + X1[i];
    if (P.k > 2u) { y = y + X2[i]; }
    if (P.k > 3u) { y = y + X3[i]; }
    Y[i] = y;
}
