// Copies channels [src_start, src_start + len) of SRC ([N, c_src, hw]) into channels
// [dst_start, dst_start + len) of DST ([N, c_dst, hw]); other channels of DST are left as
// they are, so concat is two copies into one buffer and pad is a copy into zeros.
struct Params { n: u32, hw: u32, len: u32, c_src: u32, src_start: u32, c_dst: u32, dst_start: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> SRC: array<f32>;
@group(0) @binding(2) var<storage, read_write> DST: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if (i >= P.n) { return; }
    let p = i % P.hw;
    let r = i / P.hw;
    let c = r % P.len;
    let b = r / P.len;
    DST[(b * P.c_dst + P.dst_start + c) * P.hw + p] = SRC[(b * P.c_src + P.src_start + c) * P.hw + p];
}
