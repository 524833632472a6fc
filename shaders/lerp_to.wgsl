// In place: DST = SRC + (DST - SRC) * t  (moving averages: Gs of G, dlatent_avg of mean w).
struct Params { n: u32, t: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> DST: array<f32>;
@group(0) @binding(2) var<storage, read> SRC: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let s = SRC[i];
    DST[i] = s + (DST[i] - s) * P.t;
}
