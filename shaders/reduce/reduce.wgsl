// Y[o * parts + part] = alpha * sum over reduced elements j of part (j in part*chunk ..
// (part+1)*chunk - 1 of `count`) of X; the caller adds the parts when there is more than one
// (lavapipe ends an invocation's loops after 65535 iterations). Kept dims: output sizes k* with
// input strides ks*; reduced dims: sizes r* with input strides rs*. All padded to rank 6.
struct Params { n: u32, count: u32, alpha: f32,
                k0: u32, k1: u32, k2: u32, k3: u32, k4: u32, k5: u32,
                ks0: u32, ks1: u32, ks2: u32, ks3: u32, ks4: u32, ks5: u32,
                r0: u32, r1: u32, r2: u32, r3: u32, r4: u32, r5: u32,
                rs0: u32, rs1: u32, rs2: u32, rs3: u32, rs4: u32, rs5: u32,
                chunk: u32, parts: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    if (id >= P.n * P.parts) { return; }
    let o = id / P.parts;
    let part = id % P.parts;
    var r = o;
    var base = 0u;
    base += (r % P.k5) * P.ks5; r /= P.k5;
    base += (r % P.k4) * P.ks4; r /= P.k4;
    base += (r % P.k3) * P.ks3; r /= P.k3;
    base += (r % P.k2) * P.ks2; r /= P.k2;
    base += (r % P.k1) * P.ks1; r /= P.k1;
    base += r * P.ks0;
    var acc = 0.0;
    let j1 = min(P.count, (part + 1u) * P.chunk);
    for (var j = part * P.chunk; j < j1; j++) {
        var q = j;
        var off = 0u;
        off += (q % P.r5) * P.rs5; q /= P.r5;
        off += (q % P.r4) * P.rs4; q /= P.r4;
        off += (q % P.r3) * P.rs3; q /= P.r3;
        off += (q % P.r2) * P.rs2; q /= P.r2;
        off += (q % P.r1) * P.rs1; q /= P.r1;
        off += q * P.rs0;
        acc += X[base + off];
    }
    Y[id] = P.alpha * acc;
}
