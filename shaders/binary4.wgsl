// binary.wgsl four elements per invocation (vec4 loads and stores) for sizes that are a
// multiple of 4: on lavapipe each load is a per-lane loop, so a quarter of the loads.
// y = by `code`:  0: a*x + b*z   1: a*x*z   2: z * (x > 0 ? a : b)  (leaky-relu mask)
struct Params { n: u32, code: u32, a: f32, b: f32 }  // n: vec4s
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> Z: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let x = X[i];
    let z = Z[i];
    var y: vec4<f32>;
    switch (P.code) {
        case 0u: { y = P.a * x + P.b * z; }
        case 1u: { y = P.a * x * z; }
        case 2u: { y = z * select(vec4<f32>(P.b), vec4<f32>(P.a), x > vec4<f32>(0.0)); }
        default: { y = x; }
    }
    Y[i] = y;
}
