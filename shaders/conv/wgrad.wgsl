// Weight gradient of the forward (non-transposed) convolution in conv/direct.wgsl, any kernel size,
// stride and padding per axis (dy may have any size; taps outside x are zero padding):
//   dw[a,b,c,o] = alpha * sum_{n,p,q} x[n,c, s*p+a-ph, s*q+b-pw] * dy[n,o,p,q]
// One invocation per (weight element, part): part `s` reduces output rows (n, p) number
// s*rows_per .. (s+1)*rows_per - 1 of the N*HO rows and writes DW[s, a, b, c, o]; the caller
// sums the parts (lavapipe ends an invocation's loops after 65535 iterations, and a real GPU
// wants the parallelism). The valid output range for each tap is computed up front so the inner
// loop has no padding checks.
struct Params {
    total: u32, n: u32, c: u32, h: u32,
    w: u32, o: u32, ho: u32, wo: u32,
    kh: u32, kw: u32, s: i32, ph: i32,
    pw: i32, alpha: f32, rows_per: u32, parts: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;

// First output coordinate whose tap `a` with padding `pad` lands inside the input (>= 0).
fn first(a: i32, pad: i32) -> i32 {
    let t = pad - a;
    return select(0, (t + P.s - 1) / P.s, t > 0);
}

// One past the last output coordinate whose tap `a` lands inside an input of `size`
// (clamped to the output size; an empty range when no coordinate does).
fn end(a: i32, pad: i32, size: u32, osize: u32) -> i32 {
    let t = i32(size) - 1 + pad - a;
    // Integer division truncates toward zero, so the negative case is handled separately.
    return select(0, min(t / P.s + 1, i32(osize)), t >= 0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let gid = linear_id(wid, nwg, lid);
    if (gid >= P.total * P.parts) { return; }
    let part = gid / P.total;
    let id = gid % P.total;
    let o = id % P.o;
    let c = (id / P.o) % P.c;
    let b = i32((id / (P.o * P.c)) % P.kw);
    let a = i32(id / (P.o * P.c * P.kw));
    let p0 = first(a, P.ph);
    let q0 = first(b, P.pw);
    let p1 = end(a, P.ph, P.h, P.ho);
    let q1 = end(b, P.pw, P.w, P.wo);
    let r0 = part * P.rows_per;
    let r1 = min(r0 + P.rows_per, P.n * P.ho);
    var acc = 0.0;
    for (var r = r0; r < r1; r++) {
        let n = r / P.ho;
        let p = i32(r % P.ho);
        if (p < p0 || p >= p1) { continue; }
        let xr = (n * P.c + c) * P.h * P.w + u32(P.s * p + a - P.ph) * P.w;
        let yr = (n * P.o + o) * P.ho * P.wo + u32(p) * P.wo;
        for (var q = q0; q < q1; q++) {
            acc += X[xr + u32(P.s * q + b - P.pw)] * DY[yr + u32(q)];
        }
    }
    DW[gid] = P.alpha * acc;
}
