// Synthesis-layer epilogue in one pass: y = lrelu(x + noise[n,p]*strength[c] + bias[c]*bias_mul).
// X is [N, C, HW] (HW = 1 for dense activations [N, C]); NOISE is [NN, 1, HW] with NN = 1 (one
// map shared by the batch, the official `noise{i}` buffers) or N. Without noise the noise and
// strength bindings hold a placeholder buffer that is never read.
struct Params { n: u32, c: u32, hw: u32, has_noise: u32, noise_n: u32, bias_mul: f32, slope: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> NOISE: array<f32>;
@group(0) @binding(3) var<storage, read> STRENGTH: array<f32>;
@group(0) @binding(4) var<storage, read> BIAS: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let p = i % P.hw;
    let nc = i / P.hw;
    let c = nc % P.c;
    var v = X[i] + BIAS[c] * P.bias_mul;
    if (P.has_noise != 0u) {
        let n = (nc / P.c) % P.noise_n;
        v += NOISE[n * P.hw + p] * STRENGTH[c];
    }
    Y[i] = lrelu(v, P.slope);
}
