// Weight gradient of the stride-2, padding-1 4x4 down-conv, register-blocked (the up-conv's
// weight gradient is this one with the roles of x and dy exchanged):
//   dw[a,b,c,o] = alpha * sum_{n,p,q} x[n,c,2p+a-1,2q+b-1] * dy[n,o,p,q],  x [N,C,2HO,2WO]
// One invocation per (part, input channel c, block of 4 output channels). It sweeps output rows
// (n, p) number part*rows_per .. (part+1)*rows_per - 1 of the N*HO rows, keeping the 4x4 window
// of x under output pixel q in registers and sliding it two columns per step: per output pixel
// 8 new x loads and 4 dy loads feed 64 FMAs (the generic kernel does 2 loads per FMA), and
// writes DW[part, a, b, c, o]; the caller sums the parts (lavapipe ends an invocation's loops
// after 65535 iterations). Out-of-range output channels of the last block read a clamped
// channel and are not stored.
struct Params { n: u32, c: u32, ho: u32, wo: u32, o: u32, alpha: f32, rows_per: u32, parts: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;

// x at (row, col) of the plane at `base`; zero outside (padding).
fn xat(base: u32, row: i32, col: i32) -> f32 {
    let w = 2u * P.wo;
    if (row < 0 || row >= i32(2u * P.ho) || col < 0 || col >= i32(w)) { return 0.0; }
    return X[base + u32(row) * w + u32(col)];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let gid = (wid.x + wid.y * nwg.x) * 64u + lid;
    let ob = (P.o + 3u) / 4u;
    if (gid >= P.c * ob * P.parts) { return; }
    let part = gid / (P.c * ob);
    let id = gid % (P.c * ob);
    let c = id / ob;
    let o0 = (id % ob) * 4u;
    let hw = 4u * P.ho * P.wo;
    let hwo = P.ho * P.wo;
    let om = P.o - 1u;
    let oc = vec4<u32>(min(o0, om), min(o0 + 1u, om), min(o0 + 2u, om), min(o0 + 3u, om));
    // acc[a][b]: tap (a, b) for the 4 output channels.
    var acc: array<array<vec4<f32>, 4>, 4>;
    for (var a = 0u; a < 4u; a++) {
        for (var b = 0u; b < 4u; b++) { acc[a][b] = vec4<f32>(0.0); }
    }
    let row_lo = part * P.rows_per;
    let row_hi = min(row_lo + P.rows_per, P.n * P.ho);
    for (var row = row_lo; row < row_hi; row++) {
        let n = row / P.ho;
        let p = row % P.ho;
        let iy = 2 * i32(p) - 1;
        let xb = (n * P.c + c) * hw;
        let yb = vec4<u32>((n * P.o + oc.x) * hwo, (n * P.o + oc.y) * hwo, (n * P.o + oc.z) * hwo, (n * P.o + oc.w) * hwo) + vec4<u32>(p * P.wo);
        // Window columns 2q-1 and 2q of the four input rows (column -1 is padding).
        var s0 = vec4<f32>(0.0);
        var s1 = vec4<f32>(xat(xb, iy, 0), xat(xb, iy + 1, 0), xat(xb, iy + 2, 0), xat(xb, iy + 3, 0));
        for (var q = 0u; q < P.wo; q++) {
            let c2 = 2 * i32(q) + 1;
            let n2 = vec4<f32>(xat(xb, iy, c2), xat(xb, iy + 1, c2), xat(xb, iy + 2, c2), xat(xb, iy + 3, c2));
            let n3 = vec4<f32>(xat(xb, iy, c2 + 1), xat(xb, iy + 1, c2 + 1), xat(xb, iy + 2, c2 + 1), xat(xb, iy + 3, c2 + 1));
            let d = vec4<f32>(DY[yb.x + q], DY[yb.y + q], DY[yb.z + q], DY[yb.w + q]);
            for (var a = 0u; a < 4u; a++) {
                acc[a][0] = fma(vec4<f32>(s0[a]), d, acc[a][0]);
                acc[a][1] = fma(vec4<f32>(s1[a]), d, acc[a][1]);
                acc[a][2] = fma(vec4<f32>(n2[a]), d, acc[a][2]);
                acc[a][3] = fma(vec4<f32>(n3[a]), d, acc[a][3]);
            }
            s0 = n2;
            s1 = n3;
        }
    }
    let co = P.c * P.o;
    let base = part * 16u * co + c * P.o;
    for (var j = 0u; j < 4u; j++) {
        let o = o0 + j;
        if (o < P.o) {
            for (var t = 0u; t < 16u; t++) {
                DW[t * co + base + o] = P.alpha * acc[t / 4u][t % 4u][j];
            }
        }
    }
}
