// One axis of a separable linear resampling (NCHW viewed as [outer, lin, inner] ->
// [outer, lout, inner]), driven by a sparse table in CSR form built on the host:
//   T[0..=lout]            row offsets (row q of the output axis owns entries T[q]..T[q+1]),
//   T[idx_base + e]        the input index of entry e,
//   T[w_base + e]          its weight,
// integers stored exactly as f32. y[., q, .] = sum_e w_e * x[., idx_e, .] in entry order.
// Bilinear resizing applies one table along W and one along H; its backward applies the
// transposed tables with this same kernel.
struct Params { n: u32, lout: u32, lin: u32, inner: u32, idx_base: u32, w_base: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let i = o % P.inner;
    let r = o / P.inner;
    let q = r % P.lout;
    let base = (r / P.lout) * P.lin;
    let a = u32(T[q]);
    let b = u32(T[q + 1u]);
    var acc = 0.0;
    for (var e = a; e < b; e++) {
        acc += T[P.w_base + e] * X[(base + u32(T[P.idx_base + e])) * P.inner + i];
    }
    Y[o] = acc;
}
