// Backward of the epilogue y = lrelu(x + noise[n, p] * strength[c] + bias[c] * bias_mul) in one
// dispatch, for backward passes that record no history (`ops::epilogue_backward`). G (the
// output's gradient), Y (the output: its sign is the pre-activation's) and DX are [N, C, HW]
// (HW = 1 for dense activations [N, C], `planar` 0); NOISE is [NN, 1, HW], NN = 1 or N (a
// placeholder without noise). Per channel c:
//   dx = g * (y > 0 ? 1 : slope)
//   dbias[c] = Σ_n bias_mul * Σ_hw dx          (dense: bias_mul * Σ_n dx)
//   dstrength[c] = Σ_n Σ_hw dx * noise[n, hw]
// written to DP[c] and DP[str_off + c]. The arithmetic is the composite rule's (`leaky_mask`,
// `mul`, `sum_to`), and each Σ adds in the order of the reduction it replaces: a plane's Σ_hw
// as `shaders/reduce/rows.wgsl` does (`per_channel`: sequentially, as `per_row`;
// `per_workgroup`: lane-strided then as a tree over WG lanes, as `main`), Σ_n sequentially from
// 0 as `shaders/reduce/reduce.wgsl` does (a single image's plane sum is taken as it is, as
// `sum_to` does when there is nothing left to reduce). The caller picks the kernel `sum_to`
// would. So on an adapter that rounds each operation alike the gradients are the same bit for
// bit.
struct Params { n: u32, c: u32, hw: u32, planar: u32, has_noise: u32, noise_n: u32, bias_mul: f32, slope: f32, str_off: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> Y: array<f32>;
@group(0) @binding(3) var<storage, read> NOISE: array<f32>;
@group(0) @binding(4) var<storage, read_write> DX: array<f32>;
@group(0) @binding(5) var<storage, read_write> DP: array<f32>;

var<workgroup> red: array<vec2<f32>, WG>;

// dx at element `i`, stored, with its noise product (0 without noise).
fn grad_at(i: u32, img: u32, l: u32) -> vec2<f32> {
    let d = G[i] * select(P.slope, 1.0, Y[i] > 0.0);
    DX[i] = d;
    var s = 0.0;
    if (P.has_noise != 0u) {
        s = d * NOISE[select(0u, img, P.noise_n > 1u) * P.hw + l];
    }
    return vec2<f32>(d, s);
}

fn write_out(c: u32, db: f32, ds: f32) {
    DP[c] = db;
    if (P.has_noise != 0u) { DP[P.str_off + c] = ds; }
}

@compute @workgroup_size(SEQ_WG)
fn per_channel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = (wid.x + wid.y * nwg.x) * SEQ_WG + lid;
    if (c >= P.c) { return; }
    var acc = vec2<f32>(0.0);
    var last = vec2<f32>(0.0);
    for (var n = 0u; n < P.n; n++) {
        let base = (n * P.c + c) * P.hw;
        if (P.planar == 0u) {
            acc += grad_at(base, n, 0u);
            continue;
        }
        var plane = vec2<f32>(0.0);
        for (var l = 0u; l < P.hw; l++) { plane += grad_at(base + l, n, l); }
        last = vec2<f32>(P.bias_mul * plane.x, plane.y);
        acc += last;
    }
    if (P.planar == 0u) {
        write_out(c, P.bias_mul * acc.x, acc.y);
    } else if (P.n == 1u) {
        write_out(c, last.x, last.y);
    } else {
        write_out(c, acc.x, acc.y);
    }
}

// Sums of `v` over the workgroup, in rows.wgsl's tree order; every invocation gets them.
fn wg_sums(v: vec2<f32>, lid: u32) -> vec2<f32> {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { red[lid] += red[lid + s]; }
        workgroupBarrier();
    }
    let total = red[0];
    // Nobody may overwrite red[0] (next wg_sums) before everyone has read it.
    workgroupBarrier();
    return total;
}

// Planar only.
@compute @workgroup_size(WG)
fn per_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    // `c` is uniform across the workgroup, so the barriers stay in uniform control flow:
    // workgroups past the last channel run the reductions and skip the loads and stores.
    let c = wid.x + wid.y * nwg.x;
    let live = c < P.c;
    var acc = vec2<f32>(0.0);
    var last = vec2<f32>(0.0);
    for (var n = 0u; n < P.n; n++) {
        let base = (n * P.c + c) * P.hw;
        var plane = vec2<f32>(0.0);
        if (live) {
            for (var l = lid; l < P.hw; l += WG) { plane += grad_at(base + l, n, l); }
        }
        let s = wg_sums(plane, lid);
        last = vec2<f32>(P.bias_mul * s.x, s.y);
        acc += last;
    }
    if (!live || lid != 0u) { return; }
    if (P.n == 1u) {
        write_out(c, last.x, last.y);
    } else {
        write_out(c, acc.x, acc.y);
    }
}
