// Direct convolution, generic over stride and direction (the fallback every adapter can run).
// Each invocation computes one output pixel for 4 consecutive output channels, so every input
// value it loads feeds 4 FMAs; the last group's missing channels read a clamped (valid) weight
// column and are simply not written, which keeps the inner loop branch-free.
//
// Forward (transposed == 0): y[n,o,p,q] = alpha * sum x[n,c, s*p+a-ph, s*q+b-pw] * w[a,b,c,o]
// Transposed (transposed == 1), the exact adjoint of the forward with the same s and padding:
//   y[n,o,p,q] = alpha * sum over s*i+a-ph == p, s*j+b-pw == q of x[n,c,i,j] * w[a,b,c,o]
// Weights are HWIO [kh,kw,C,O]; out-of-range taps are zero padding.
struct Params {
    total: u32, c: u32, h: u32, w: u32,
    o: u32, og: u32, ho: u32, wo: u32,
    kh: u32, kw: u32, s: i32, ph: i32,
    pw: i32, transposed: u32, alpha: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;

// Input row (or column) that output coordinate `p` reads through tap `a` with padding `pad`;
// -1 when none.
fn src(p: i32, a: i32, pad: i32, size: u32) -> i32 {
    var i: i32;
    if (P.transposed == 0u) {
        i = P.s * p + a - pad;
    } else {
        let t = p + pad - a;
        // Checked before `%`: WGSL's remainder takes the sign of a negative dividend.
        if (t < 0 || t % P.s != 0) { return -1; }
        i = t / P.s;
    }
    return select(-1, i, i >= 0 && i < i32(size));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let id = linear_id(wid, nwg, lid);
    if (id >= P.total) { return; }
    // Pixel fastest: neighbouring invocations read neighbouring inputs and the same weights.
    let q = id % P.wo;
    let p = (id / P.wo) % P.ho;
    let g = (id / (P.wo * P.ho)) % P.og;
    let n = id / (P.wo * P.ho * P.og);
    let o0 = g * 4u;
    let olast = P.o - 1u;
    let o1 = min(o0 + 1u, olast);
    let o2 = min(o0 + 2u, olast);
    let o3 = min(o0 + 3u, olast);
    let kh = i32(P.kh);
    let kw = i32(P.kw);
    let plane = P.h * P.w;
    var acc = vec4<f32>(0.0);
    for (var a = 0; a < kh; a++) {
        let ih = src(i32(p), a, P.ph, P.h);
        if (ih < 0) { continue; }
        for (var b = 0; b < kw; b++) {
            let iw = src(i32(q), b, P.pw, P.w);
            if (iw < 0) { continue; }
            var xi = n * P.c * plane + u32(ih) * P.w + u32(iw);
            var wi = u32(a * kw + b) * P.c * P.o;
            for (var c = 0u; c < P.c; c++) {
                let xv = X[xi];
                acc += xv * vec4<f32>(Wt[wi + o0], Wt[wi + o1], Wt[wi + o2], Wt[wi + o3]);
                xi += plane;
                wi += P.o;
            }
        }
    }
    acc *= P.alpha;
    let oplane = P.ho * P.wo;
    let yi = (n * P.o + o0) * oplane + p * P.wo + q;
    Y[yi] = acc.x;
    if (o0 + 1u < P.o) { Y[yi + oplane] = acc.y; }
    if (o0 + 2u < P.o) { Y[yi + 2u * oplane] = acc.z; }
    if (o0 + 3u < P.o) { Y[yi + 3u * oplane] = acc.w; }
}
