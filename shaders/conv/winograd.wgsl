// Winograd F(2x2, 3x3) for the stride-1 "same" 3x3 conv (src/ops/conv/winograd.rs): the three
// transforms around 16 batched matrix products that ops::dense runs. With tiles of 2x2
// outputs, t = (n, ty, tx) and p = (n * TH + ty) * TW + tx (TH = H / 2, TW = W / 2):
//   U[xi, c, k] = (G g G^T)[xi]        g = w[:, :, c, k], 3x3       (`weights`)
//   V[xi, c, p] = (B^T d B)[xi]        d = x[n, c, 2ty-1 .., 2tx-1 ..], 4x4, zero outside
//                                                                    (`input`)
//   M[xi] = alpha * U[xi]^T @ V[xi]    [K, P]                        (the matmul)
//   y[n, k, 2ty + i, 2tx + j] = (A^T m A)[i, j],  m = M[:, k, p]     (`output`)
// with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
// A^T = [1 1 1 0; 0 1 -1 -1] (Lavin and Gray 2015; this is cross-correlation, as the conv).
// 2.25x fewer multiplications than the direct conv, paid for with 4x the activations through
// memory: it only wins where the products are large (wide layers).
struct Params { n: u32, c: u32, k: u32, h: u32, w: u32, th: u32, tw: u32, total: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> D: array<f32>;

// One invocation per (c, k), k fastest: reads w[a, b, c, k] (HWIO), writes U[xi, c, k].
@compute @workgroup_size(WG)
fn weights(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    if (id >= P.total) { return; }
    let ck = P.c * P.k;
    var g: array<f32, 9>;
    for (var i = 0u; i < 9u; i++) { g[i] = S[i * ck + id]; }
    // t = G g (4x3), then t G^T (4x4).
    var t: array<f32, 12>;
    for (var b = 0u; b < 3u; b++) {
        let g0 = g[b]; let g1 = g[3u + b]; let g2 = g[6u + b];
        t[b] = g0;
        t[3u + b] = 0.5 * (g0 + g1 + g2);
        t[6u + b] = 0.5 * (g0 - g1 + g2);
        t[9u + b] = g2;
    }
    for (var r = 0u; r < 4u; r++) {
        let t0 = t[3u * r]; let t1 = t[3u * r + 1u]; let t2 = t[3u * r + 2u];
        D[(4u * r) * ck + id] = t0;
        D[(4u * r + 1u) * ck + id] = 0.5 * (t0 + t1 + t2);
        D[(4u * r + 2u) * ck + id] = 0.5 * (t0 - t1 + t2);
        D[(4u * r + 3u) * ck + id] = t2;
    }
}

// One invocation per (n, c, ty, tx), tx fastest: reads the 4x4 input tile, writes V[xi, c, p].
@compute @workgroup_size(WG)
fn input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    if (id >= P.total) { return; }
    let tx = id % P.tw;
    let ty = (id / P.tw) % P.th;
    let c = (id / (P.tw * P.th)) % P.c;
    let n = id / (P.tw * P.th * P.c);
    let base = (n * P.c + c) * P.h * P.w;
    var d: array<f32, 16>;
    for (var r = 0u; r < 4u; r++) {
        let iy = i32(2u * ty + r) - 1;
        for (var s = 0u; s < 4u; s++) {
            let ix = i32(2u * tx + s) - 1;
            var v = 0.0;
            if (iy >= 0 && iy < i32(P.h) && ix >= 0 && ix < i32(P.w)) {
                v = S[base + u32(iy) * P.w + u32(ix)];
            }
            d[4u * r + s] = v;
        }
    }
    // t = B^T d (rows), then t B (columns).
    var t: array<f32, 16>;
    for (var s = 0u; s < 4u; s++) {
        let d0 = d[s]; let d1 = d[4u + s]; let d2 = d[8u + s]; let d3 = d[12u + s];
        t[s] = d0 - d2;
        t[4u + s] = d1 + d2;
        t[8u + s] = d2 - d1;
        t[12u + s] = d1 - d3;
    }
    let pp = P.th * P.tw;
    let p = (n * P.th + ty) * P.tw + tx;
    let np = P.n * pp;
    let cp = P.c * np;
    let o = c * np + p;
    for (var r = 0u; r < 4u; r++) {
        let t0 = t[4u * r]; let t1 = t[4u * r + 1u]; let t2 = t[4u * r + 2u]; let t3 = t[4u * r + 3u];
        D[(4u * r) * cp + o] = t0 - t2;
        D[(4u * r + 1u) * cp + o] = t1 + t2;
        D[(4u * r + 2u) * cp + o] = t2 - t1;
        D[(4u * r + 3u) * cp + o] = t1 - t3;
    }
}

// One invocation per (n, k, ty, tx), tx fastest: reads M[xi, k, p], writes the 2x2 outputs.
@compute @workgroup_size(WG)
fn output(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    if (id >= P.total) { return; }
    let tx = id % P.tw;
    let ty = (id / P.tw) % P.th;
    let k = (id / (P.tw * P.th)) % P.k;
    let n = id / (P.tw * P.th * P.k);
    let np = P.n * P.th * P.tw;
    let kp = P.k * np;
    let o = k * np + (n * P.th + ty) * P.tw + tx;
    var m: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) { m[i] = S[i * kp + o]; }
    // t = A^T m (2x4), then t A (2x2).
    var t: array<f32, 8>;
    for (var s = 0u; s < 4u; s++) {
        let m0 = m[s]; let m1 = m[4u + s]; let m2 = m[8u + s]; let m3 = m[12u + s];
        t[s] = m0 + m1 + m2;
        t[4u + s] = m1 - m2 - m3;
    }
    let yb = ((n * P.k + k) * P.h + 2u * ty) * P.w + 2u * tx;
    for (var r = 0u; r < 2u; r++) {
        let t0 = t[4u * r]; let t1 = t[4u * r + 1u]; let t2 = t[4u * r + 2u]; let t3 = t[4u * r + 3u];
        D[yb + r * P.w] = t0 + t1 + t2;
        D[yb + r * P.w + 1u] = t1 - t2 - t3;
    }
}
