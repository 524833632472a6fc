// Weight gradient of the stride-1 "same" 3x3 conv, register-blocked, for rows whose width W
// is a multiple of 4 (every 3x3 conv of G and D; other widths take conv/wgrad.wgsl):
//   dw[a,b,c,o] = alpha * sum_{n,y,x} x[n,c,y+a-1,x+b-1] * dy[n,o,y,x]
// One invocation per (part, input channel c, block of 4 output channels), sweeping image rows
// (n, y) number part*rows_per .. (part+1)*rows_per - 1 of the N*H rows, four pixels per step.
// Per step it loads the next vec4 of the three input rows (the window slides, so the halo
// columns come from neighbouring vec4s already loaded) and one vec4 of dy per output channel:
// 7 loads feed 144 FMAs (one pixel at a time with scalar loads: 28; the generic kernel: 288).
// The tap (a, b) of the 4 channels is the row vector of the shifted input times the 4x4 matrix
// of dy columns. Writes DW[part, a, b, c, o]; the caller sums the parts (lavapipe ends an
// invocation's loops after 65535 iterations). Out-of-range output channels of the last block
// read a clamped channel and are not stored.
struct Params { n: u32, c: u32, h: u32, w4: u32, o: u32, alpha: f32, rows_per: u32, parts: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> DY: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;

// vec4 number q of input row `row` of the plane at `base` (in vec4s); zero outside.
fn xat(base: u32, row: i32, q: u32) -> vec4<f32> {
    if (row < 0 || row >= i32(P.h) || q >= P.w4) { return vec4<f32>(0.0); }
    return X[base + u32(row) * P.w4 + q];
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
    let hw4 = P.h * P.w4;
    let om = P.o - 1u;
    let oc = vec4<u32>(min(o0, om), min(o0 + 1u, om), min(o0 + 2u, om), min(o0 + 3u, om));
    var a00 = vec4<f32>(0.0); var a01 = vec4<f32>(0.0); var a02 = vec4<f32>(0.0);
    var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0); var a12 = vec4<f32>(0.0);
    var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0);
    let row_lo = part * P.rows_per;
    let row_hi = min(row_lo + P.rows_per, P.n * P.h);
    for (var row = row_lo; row < row_hi; row++) {
        let n = row / P.h;
        let y = i32(row % P.h);
        let xb = (n * P.c + c) * hw4;
        let yb = vec4<u32>((n * P.o + oc.x) * hw4, (n * P.o + oc.y) * hw4, (n * P.o + oc.z) * hw4, (n * P.o + oc.w) * hw4) + vec4<u32>(u32(y) * P.w4);
        // Current vec4 of input rows y-1, y, y+1 and the column left of it.
        var m0 = xat(xb, y - 1, 0u); var m1 = xat(xb, y, 0u); var m2 = xat(xb, y + 1, 0u);
        var l = vec3<f32>(0.0);
        for (var q = 0u; q < P.w4; q++) {
            let n0 = xat(xb, y - 1, q + 1u);
            let n1 = xat(xb, y, q + 1u);
            let n2 = xat(xb, y + 1, q + 1u);
            let d = mat4x4<f32>(DY[yb.x + q], DY[yb.y + q], DY[yb.z + q], DY[yb.w + q]);
            a00 += vec4<f32>(l.x, m0.xyz) * d; a01 += m0 * d; a02 += vec4<f32>(m0.yzw, n0.x) * d;
            a10 += vec4<f32>(l.y, m1.xyz) * d; a11 += m1 * d; a12 += vec4<f32>(m1.yzw, n1.x) * d;
            a20 += vec4<f32>(l.z, m2.xyz) * d; a21 += m2 * d; a22 += vec4<f32>(m2.yzw, n2.x) * d;
            l = vec3<f32>(m0.w, m1.w, m2.w);
            m0 = n0; m1 = n1; m2 = n2;
        }
    }
    let co = P.c * P.o;
    let base = part * 9u * co + c * P.o;
    for (var j = 0u; j < 4u; j++) {
        let o = o0 + j;
        if (o < P.o) {
            DW[0u * co + base + o] = P.alpha * a00[j];
            DW[1u * co + base + o] = P.alpha * a01[j];
            DW[2u * co + base + o] = P.alpha * a02[j];
            DW[3u * co + base + o] = P.alpha * a10[j];
            DW[4u * co + base + o] = P.alpha * a11[j];
            DW[5u * co + base + o] = P.alpha * a12[j];
            DW[6u * co + base + o] = P.alpha * a20[j];
            DW[7u * co + base + o] = P.alpha * a21[j];
            DW[8u * co + base + o] = P.alpha * a22[j];
        }
    }
}
