// Y[i] = X[sum_d idx_d(i) * S_d]: broadcast (tile) of X over the dims whose stride is 0.
// Shapes are padded on the left to rank 6.
struct Params { n: u32, d0: u32, d1: u32, d2: u32, d3: u32, d4: u32, d5: u32,
                s0: u32, s1: u32, s2: u32, s3: u32, s4: u32, s5: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    var r = i;
    var src = 0u;
    src += (r % P.d5) * P.s5; r /= P.d5;
    src += (r % P.d4) * P.s4; r /= P.d4;
    src += (r % P.d3) * P.s3; r /= P.d3;
    src += (r % P.d2) * P.s2; r /= P.d2;
    src += (r % P.d1) * P.s1; r /= P.d1;
    src += r * P.s0;
    Y[i] = X[src];
}
