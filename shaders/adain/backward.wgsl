// Backward of instance norm (mode 0) and AdaIN (mode 1) in one dispatch, for backward passes
// that record no history (`ops::adain_backward`). X, G, DX are [N, C, HW]; S and DS are the
// style and its gradient [N, 2C] (mode 0: placeholders, DS unwritten). Per (n, c) plane:
//   mean = inv_hw * Σ x;  r = rsqrt(inv_hw * Σ (x - mean)^2 + eps);  xhat = (x - mean) * r
//   gs = g * (s[n, c] + 1)   (mode 0: gs = g)
//   dx = r * ((gs - inv_hw * Σ gs) - xhat * (inv_hw * Σ gs * xhat))
//   ds[n, c] = Σ g * xhat;  ds[n, C + c] = Σ g
// The arithmetic is the composite rule's (`ops::adain`, written with elementwise ops and
// `sum_to`), operation for operation, and each Σ adds in the order of the row reduction it
// replaces (`shaders/reduce/rows.wgsl`): `per_plane` sums a plane sequentially in one
// invocation as `per_row` does, `per_workgroup` in one workgroup of WG lanes, lane-strided and
// then as a tree, as `main` does; the caller picks the same one `sum_to` would. So on an
// adapter that rounds each operation alike (no contraction into FMAs) the result is the same
// bit for bit, and a training run does not change.
struct Params { planes: u32, hw: u32, c: u32, mode: u32, inv_hw: f32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<f32>;
@group(0) @binding(4) var<storage, read_write> DX: array<f32>;
@group(0) @binding(5) var<storage, read_write> DS: array<f32>;

var<workgroup> red: array<vec4<f32>, WG>;

// The composite takes (s0 * 1 + s1 * 0) + 1 from the [N, 2, C] view of the style.
fn style_scale(plane: u32) -> f32 {
    if (P.mode == 0u) { return 1.0; }
    let n = plane / P.c;
    let c = plane % P.c;
    let s0 = S[n * 2u * P.c + c];
    let s1 = S[n * 2u * P.c + P.c + c];
    return (s0 + s1 * 0.0) + 1.0;
}

fn upstream(i: u32, sc: f32) -> f32 {
    let g = G[i];
    return select(g, g * sc, P.mode == 1u);
}

// The per-element terms of the third pass: gs, gs * xhat, g * xhat, g.
fn terms(i: u32, mean: f32, r: f32, sc: f32) -> vec4<f32> {
    let xhat = (X[i] - mean) * r;
    let g = G[i];
    let gs = upstream(i, sc);
    return vec4<f32>(gs, gs * xhat, g * xhat, g);
}

fn write_dx(i: u32, mean: f32, r: f32, sc: f32, m1: f32, m2: f32) {
    let xhat = (X[i] - mean) * r;
    let gs = upstream(i, sc);
    DX[i] = r * ((gs - m1) - xhat * m2);
}

// The style gradient of a plane: ds * [1, 0] + db * [0, 1], as the composite interleaves it.
fn write_ds(plane: u32, ds: f32, db: f32) {
    if (P.mode == 0u) { return; }
    let n = plane / P.c;
    let c = plane % P.c;
    DS[n * 2u * P.c + c] = ds + db * 0.0;
    DS[n * 2u * P.c + P.c + c] = ds * 0.0 + db;
}

@compute @workgroup_size(SEQ_WG)
fn per_plane(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let plane = (wid.x + wid.y * nwg.x) * SEQ_WG + lid;
    if (plane >= P.planes) { return; }
    let base = plane * P.hw;
    var acc = 0.0;
    for (var l = 0u; l < P.hw; l++) { acc += X[base + l]; }
    let mean = P.inv_hw * acc;
    var acc2 = 0.0;
    for (var l = 0u; l < P.hw; l++) {
        let d = X[base + l] - mean;
        acc2 += d * d;
    }
    let r = inverseSqrt(P.inv_hw * acc2 + P.eps);
    let sc = style_scale(plane);
    var sums = vec4<f32>(0.0);
    for (var l = 0u; l < P.hw; l++) { sums += terms(base + l, mean, r, sc); }
    let m1 = P.inv_hw * sums.x;
    let m2 = P.inv_hw * sums.y;
    for (var l = 0u; l < P.hw; l++) { write_dx(base + l, mean, r, sc, m1, m2); }
    write_ds(plane, sums.z, sums.w);
}

// Sums of `v` over the workgroup, in rows.wgsl's tree order; every invocation gets them.
fn wg_sums(v: vec4<f32>, lid: u32) -> vec4<f32> {
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

@compute @workgroup_size(WG)
fn per_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    // `plane` is uniform across the workgroup, so the barriers stay in uniform control flow:
    // workgroups past the last plane run the reductions and skip the loads and stores.
    let plane = wid.x + wid.y * nwg.x;
    let live = plane < P.planes;
    let base = plane * P.hw;
    var acc = 0.0;
    if (live) {
        for (var l = lid; l < P.hw; l += WG) { acc += X[base + l]; }
    }
    let mean = P.inv_hw * wg_sums(vec4<f32>(acc, 0.0, 0.0, 0.0), lid).x;
    var acc2 = 0.0;
    if (live) {
        for (var l = lid; l < P.hw; l += WG) {
            let d = X[base + l] - mean;
            acc2 += d * d;
        }
    }
    let r = inverseSqrt(P.inv_hw * wg_sums(vec4<f32>(acc2, 0.0, 0.0, 0.0), lid).x + P.eps);
    var sc = 1.0;
    var sums = vec4<f32>(0.0);
    if (live) {
        sc = style_scale(plane);
        for (var l = lid; l < P.hw; l += WG) { sums += terms(base + l, mean, r, sc); }
    }
    sums = wg_sums(sums, lid);
    if (!live) { return; }
    let m1 = P.inv_hw * sums.x;
    let m2 = P.inv_hw * sums.y;
    for (var l = lid; l < P.hw; l += WG) { write_dx(base + l, mean, r, sc, m1, m2); }
    if (lid == 0u) { write_ds(plane, sums.z, sums.w); }
}
