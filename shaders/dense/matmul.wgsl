// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N], row-major C.
// Transposes cost nothing: op(A)[m,k] = A[m*a_sm + k*a_sk] and op(B)[k,n] = B[k*b_sk + n*b_sn],
// so the host picks the strides and one kernel serves all four flag combinations.
// Each invocation owns a 4x4 block of C: per k it loads 4 values of A and 4 of B for 16 FMAs
// (loads, not FMAs, are what cost on lavapipe). Edge blocks clamp their load indices to the
// last row/column, so no load is out of bounds and no branch sits in the k loop; only the
// stores are guarded. Long inner dims are split: part p sums k in p*kchunk .. (p+1)*kchunk - 1
// into C[p, M, N] and the caller adds the parts (lavapipe ends an invocation's loops after 65535
// iterations).
const MM_WG: u32 = 64u;
struct Params { m: u32, n: u32, k: u32, a_sm: u32, a_sk: u32, b_sk: u32, b_sn: u32, tiles_n: u32, tiles: u32, alpha: f32, kchunk: u32, parts: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(MM_WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let g = (wid.x + wid.y * nwg.x) * MM_WG + lid;
    if (g >= P.tiles * P.parts) { return; }
    let part = g / P.tiles;
    let t = g % P.tiles;
    let m0 = (t / P.tiles_n) * 4u;
    let n0 = (t % P.tiles_n) * 4u;
    let ra = vec4<u32>(min(m0, P.m - 1u), min(m0 + 1u, P.m - 1u), min(m0 + 2u, P.m - 1u), min(m0 + 3u, P.m - 1u)) * P.a_sm;
    let cb = vec4<u32>(min(n0, P.n - 1u), min(n0 + 1u, P.n - 1u), min(n0 + 2u, P.n - 1u), min(n0 + 3u, P.n - 1u)) * P.b_sn;
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    let k1 = min(P.k, (part + 1u) * P.kchunk);
    for (var k = part * P.kchunk; k < k1; k++) {
        let ak = k * P.a_sk;
        let bk = k * P.b_sk;
        let b = vec4<f32>(B[bk + cb.x], B[bk + cb.y], B[bk + cb.z], B[bk + cb.w]);
        c0 += A[ra.x + ak] * b;
        c1 += A[ra.y + ak] * b;
        c2 += A[ra.z + ak] * b;
        c3 += A[ra.w + ak] * b;
    }
    var rows = array<vec4<f32>, 4>(c0, c1, c2, c3);
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + i;
        if (m >= P.m) { break; }
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + j;
            if (n >= P.n) { break; }
            C[(part * P.m + m) * P.n + n] = P.alpha * rows[i][j];
        }
    }
}
