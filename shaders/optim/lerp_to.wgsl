// In place: DST = SRC + (DST - SRC) * t for values below `split`, t = 0 (a copy, by the same
// formula) from `split` to `n`: moving averages (Gs of G, whose non-trainable variables are
// laid out after the trainable ones in each flat buffer, `nn::flat`; dlatent_avg of mean w).
struct Params { n: u32, split: u32, t: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> DST: array<f32>;
@group(0) @binding(2) var<storage, read> SRC: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let t = select(0.0, P.t, i < P.split);
    let s = SRC[i];
    DST[i] = s + (DST[i] - s) * t;
}
