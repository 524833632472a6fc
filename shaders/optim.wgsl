// In-place parameter updates (not differentiable: they run outside the graph).
// adam: TF's AdamOptimizer with bias correction folded into lr_t:
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  p -= lr_t * m / (sqrt(v) + eps)
// lerp_to: dst = src + (dst - src) * t   (moving averages: Gs of G, dlatent_avg)
struct Params { n: u32, lr_t: f32, b1: f32, b2: f32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> PARAM: array<f32>;
@group(0) @binding(2) var<storage, read> GRAD: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let g = GRAD[i];
    let m = P.b1 * M[i] + (1.0 - P.b1) * g;
    let v = P.b2 * V[i] + (1.0 - P.b2) * g * g;
    M[i] = m;
    V[i] = v;
    PARAM[i] = PARAM[i] - P.lr_t * m / (sqrt(v) + P.eps);
}
