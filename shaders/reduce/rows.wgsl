// Row reduction: X viewed as [rows, len]; Y[r] = alpha * sum_l f(X[r, l]), f = x (code 0) or
// x*x (code 1). One workgroup per (row, part), tree reduction in workgroup memory: part p sums
// elements p*chunk .. (p+1)*chunk - 1 of the row into Y[r * parts + p], and the caller adds the
// parts when there is more than one (lavapipe ends an invocation's loops after 65535
// iterations).
struct Params { rows: u32, len: u32, code: u32, alpha: f32, chunk: u32, parts: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let row = g / P.parts;
    let part = g % P.parts;
    var acc = 0.0;
    if (row < P.rows) {
        let base = row * P.len;
        let l1 = min(P.len, (part + 1u) * P.chunk);
        for (var l = part * P.chunk + lid; l < l1; l += WG) {
            let v = X[base + l];
            acc += select(v, v * v, P.code == 1u);
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { partial[lid] += partial[lid + s]; }
        workgroupBarrier();
    }
    if (lid == 0u && row < P.rows) { Y[g] = P.alpha * partial[0]; }
}

// Many short rows: one invocation per row, summed sequentially (no workgroup barriers, which
// are costly on CPU implementations). Used when there are enough rows to fill the device and
// they are short (always one part).
@compute @workgroup_size(SEQ_WG)
fn per_row(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let row = (wid.x + wid.y * nwg.x) * SEQ_WG + lid;
    if (row >= P.rows) { return; }
    let base = row * P.len;
    var acc = 0.0;
    for (var l = 0u; l < P.len; l++) {
        let v = X[base + l];
        acc += select(v, v * v, P.code == 1u);
    }
    Y[row] = P.alpha * acc;
}
