// Adam in place (not differentiable: it runs outside the graph), TF's AdamOptimizer with the
// bias correction folded into lr_t:
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;  p = keep * p - lr_t * m / (sqrt(v) + eps)
// where keep = 1 - lr * decay is AdamW's decoupled weight decay (1: plain Adam).
// over values [start, end) of the bound buffers: one variable, or every variable of a network
// laid out in one flat buffer (`nn::flat`; its zero padding stays zero). GRAD holds `parts`
// gradients `stride` values apart that add up to g, left to right (the order autodiff received
// them in; where a variable had fewer, the rest hold -0, which adds nothing).
struct Params { start: u32, end: u32, lr_t: f32, b1: f32, b2: f32, eps: f32, parts: u32, stride: u32, keep: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> PARAM: array<f32>;
@group(0) @binding(2) var<storage, read> GRAD: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;

@compute @workgroup_size(WG)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = P.start + linear_id(wid, nwg, lid);
    if (i >= P.end) { return; }
    var g = GRAD[i];
    for (var k = 1u; k < P.parts; k++) { g = g + GRAD[k * P.stride + i]; }
    let m = P.b1 * M[i] + (1.0 - P.b1) * g;
    let v = P.b2 * V[i] + (1.0 - P.b2) * g * g;
    M[i] = m;
    V[i] = v;
    PARAM[i] = P.keep * PARAM[i] - P.lr_t * m / (sqrt(v) + P.eps);
}
