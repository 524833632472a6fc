// Weight gradient of the stride-1 "same" 3x3 conv, register-blocked:
//   dw[a,b,c,o] = alpha * sum_{n,y,x} x[n,c,y+a-1,x+b-1] * dy[n,o,y,x]
// One invocation per (part, input channel c, block of 4 output channels). It sweeps image rows
// (n, y) number part*rows_per .. (part+1)*rows_per - 1 of the N*H rows, keeping a 3x3 window of
// x in registers: per pixel 3 new x loads and 4 dy loads feed 36 FMAs (the generic kernel does 2
// loads per FMA), and writes DW[part, a, b, c, o]; the caller sums the parts (lavapipe ends an
// invocation's loops after 65535 iterations). Out-of-range output channels of the last block
// read a clamped channel and are not stored.
struct Params { n: u32, c: u32, h: u32, w: u32, o: u32, alpha: f32, rows_per: u32, parts: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DW: array<f32>;

fn xat(base: u32, row: i32, col: i32) -> f32 {
    if (row < 0 || row >= i32(P.h) || col < 0 || col >= i32(P.w)) { return 0.0; }
    return X[base + u32(row) * P.w + u32(col)];
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
    let hw = P.h * P.w;
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
        let xb = (n * P.c + c) * hw;
        let yb = vec4<u32>((n * P.o + oc.x) * hw, (n * P.o + oc.y) * hw, (n * P.o + oc.z) * hw, (n * P.o + oc.w) * hw);
        // Window columns x-1, x, x+1 for input rows y-1, y, y+1.
        var l0 = 0.0; var m0 = xat(xb, y - 1, 0);
        var l1 = 0.0; var m1 = xat(xb, y, 0);
        var l2 = 0.0; var m2 = xat(xb, y + 1, 0);
        let yrow = u32(y) * P.w;
        for (var x = 0; x < i32(P.w); x++) {
            let r0 = xat(xb, y - 1, x + 1);
            let r1 = xat(xb, y, x + 1);
            let r2 = xat(xb, y + 1, x + 1);
            let p = yrow + u32(x);
            let d = vec4<f32>(DY[yb.x + p], DY[yb.y + p], DY[yb.z + p], DY[yb.w + p]);
            a00 = fma(vec4<f32>(l0), d, a00); a01 = fma(vec4<f32>(m0), d, a01); a02 = fma(vec4<f32>(r0), d, a02);
            a10 = fma(vec4<f32>(l1), d, a10); a11 = fma(vec4<f32>(m1), d, a11); a12 = fma(vec4<f32>(r1), d, a12);
            a20 = fma(vec4<f32>(l2), d, a20); a21 = fma(vec4<f32>(m2), d, a21); a22 = fma(vec4<f32>(r2), d, a22);
            l0 = m0; m0 = r0; l1 = m1; m1 = r1; l2 = m2; m2 = r2;
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
