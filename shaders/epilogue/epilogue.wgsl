// Synthesis-layer epilogue in one pass: y = lrelu(x + noise[n,p]*strength[c] + bias[c]*bias_mul).
// X is [N, C, HW] (HW = 1 for dense activations [N, C]); NOISE is [NN, 1, HW] with NN = 1 (one
// map shared by the batch, the official `noise{i}` buffers) or N. Without noise the noise and
// strength bindings hold a placeholder buffer that is never read.
//
// VEC4: four elements per invocation with vec4 loads and stores, for planes whose size HW is a
// multiple of 4 (so the four share one channel and one noise row): on lavapipe every load is a
// per-lane scalar loop, and a quarter of the index arithmetic. n and hw count vec4s there.
//# set T = "vec4<f32>" if VEC4 else "f32"
struct Params { n: u32, c: u32, hw: u32, has_noise: u32, noise_n: u32, bias_mul: f32, slope: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<{{ T }}>;
@group(0) @binding(2) var<storage, read> NOISE: array<{{ T }}>;
@group(0) @binding(3) var<storage, read> STRENGTH: array<f32>;
@group(0) @binding(4) var<storage, read> BIAS: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<{{ T }}>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let p = i % P.hw;
    let nc = i / P.hw;
    let c = nc % P.c;
//# if VEC4
    var v = X[i] + vec4<f32>(BIAS[c] * P.bias_mul);
//# else
    var v = X[i] + BIAS[c] * P.bias_mul;
//# endif
    if (P.has_noise != 0u) {
        let n = (nc / P.c) % P.noise_n;
        v += NOISE[n * P.hw + p] * STRENGTH[c];
    }
//# if VEC4
    Y[i] = select(v * P.slope, v, v > vec4<f32>(0.0));
//# else
    Y[i] = lrelu(v, P.slope);
//# endif
}
