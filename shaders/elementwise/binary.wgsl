// y = f(x, z) for the function `code` of `ops::elementwise::Binary`: the cases below are
// rendered from that table (a*x + b*z, a*x*z, the leaky-relu mask z * (x > 0 ? a : b)).
// VEC4: four elements per invocation (vec4 loads and stores) for sizes that are a multiple of 4:
// on lavapipe each load is a per-lane loop, so a quarter of the loads. n counts vec4s there.
//# set T = "vec4<f32>" if VEC4 else "f32"
struct Params { n: u32, code: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<{{ T }}>;
@group(0) @binding(2) var<storage, read> Z: array<{{ T }}>;
@group(0) @binding(3) var<storage, read_write> Y: array<{{ T }}>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let x = X[i];
    let z = Z[i];
    var y: {{ T }};
    switch (P.code) {
//# for f in FUNCTIONS
        case {{ loop.index0 }}u: { y = {{ f }}; }
//# endfor
        // Codes come from the Rust enum only; WGSL requires a default.
        default: { y = x; }
    }
    Y[i] = y;
}
