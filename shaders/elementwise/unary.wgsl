// Elementwise kernels over equal-shape tensors (broadcasting is its own op).
// y = f(x) for the function `code` of `ops::elementwise::Unary`: the cases below are rendered
// from that table (affine a*x + b; square, sqrt, rsqrt, sigmoid, softplus, lrelu with slope b,
// exp, each times a).
struct Params { n: u32, code: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

fn softplus(x: f32) -> f32 {
    // Stable: max(x,0) + log1p(exp(-|x|)).
    return max(x, 0.0) + log(1.0 + exp(-abs(x)));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let x = X[i];
    var y: f32;
    switch (P.code) {
//# for f in FUNCTIONS
        case {{ loop.index0 }}u: { y = {{ f }}; }
//# endfor
        // Codes come from the Rust enum only; WGSL requires a default.
        default: { y = x; }
    }
    Y[i] = y;
}
