// Log-softmax over the rows of X viewed as [rows, len]: Y[r, k] = X[r, k] - logsumexp(X[r, :]),
// with the row maximum subtracted first so exp never overflows. One invocation per row walks
// it three times: the rows are short (class logits), so no workgroup reduction is needed.
struct Params { rows: u32, len: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if (r >= P.rows) { return; }
    let base = r * P.len;
    var m = X[base];
    for (var k = 1u; k < P.len; k++) { m = max(m, X[base + k]); }
    var s = 0.0;
    for (var k = 0u; k < P.len; k++) { s += exp(X[base + k] - m); }
    let lse = m + log(s);
    for (var k = 0u; k < P.len; k++) { Y[base + k] = X[base + k] - lse; }
}
