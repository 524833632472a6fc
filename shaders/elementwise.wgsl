// Elementwise kernels over equal-shape tensors (broadcasting is its own op).
// unary:  y = f(x) by `code`:
//   0 affine  a*x + b        1 square   a*x*x        2 sqrt   a*sqrt(x)
//   3 rsqrt   a/sqrt(x)      4 sigmoid  a*s(x)       5 softplus  a*log(1+e^x)
//   6 lrelu   a*lrelu(x, b)   7 exp      a*e^x
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
        case 0u: { y = P.a * x + P.b; }
        case 1u: { y = P.a * x * x; }
        case 2u: { y = P.a * sqrt(x); }
        case 3u: { y = P.a * inverseSqrt(x); }
        case 4u: { y = P.a / (1.0 + exp(-x)); }
        case 5u: { y = P.a * softplus(x); }
        case 6u: { y = P.a * lrelu(x, P.b); }
        case 7u: { y = P.a * exp(x); }
        default: { y = x; }
    }
    Y[i] = y;
}
