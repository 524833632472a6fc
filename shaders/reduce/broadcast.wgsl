// Y[i] = X[sum_d idx_d(i) * S_d]: broadcast (tile) of X over the dims whose stride is 0.
// Shapes are padded on the left to rank 6.
//
// VEC4: four output elements per invocation, for shapes whose last dim d5 is a multiple of 4:
// the four share every index but the last, so they read one source element (last-dim stride
// 0: a splat) or four consecutive ones (stride 1, one vec4 load; the other strides are then
// multiples of 4). `vec_src` says which.
//# if VEC4
struct Params { n4: u32, d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d54: u32,
                s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, vec_src: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<vec4<f32>>;
//# else
struct Params { n: u32, d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
                s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
//# endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
//# if VEC4
    if (i >= P.n4) { return; }
    var r = i;
    let q = r % P.d54; r /= P.d54;
    var src = 0u;
//# else
    if (i >= P.n) { return; }
    var r = i;
    var src = 0u;
    src += (r % P.d5) * P.s5; r /= P.d5;
//# endif
    src += (r % P.d4) * P.s4; r /= P.d4;
    src += (r % P.d3) * P.s3; r /= P.d3;
    src += (r % P.d2) * P.s2; r /= P.d2;
    src += (r % P.d1) * P.s1; r /= P.d1;
    src += r * P.s0;
//# if VEC4
    if (P.vec_src != 0u) {
        Y[i] = X4[src / 4u + q];
    } else {
        Y[i] = vec4<f32>(X[src]);
    }
//# else
    Y[i] = X[src];
//# endif
}
