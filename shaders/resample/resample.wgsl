// Nearest x2 upsampling and 2x2 block-sum downsampling (NCHW), both scaled by `gain`.
// They are adjoints of each other, which is what makes each one the other's backward.
//
// Scalar: one output per invocation. `h`, `w` are always the LOW-resolution sizes (the input of
// `up`, the output of `down`), so both entries share one parameter block; `n` is the number of
// outputs.
// VEC4, where the low-resolution width is a multiple of 4: `up` reads four pixels of a row and
// writes the 2 x 8 they become; `down` writes four outputs from 2 x 8 inputs, adding in the
// scalar kernel's order (so both forms give the same bits). `n4` counts low-resolution vec4s,
// `w4` the vec4s of a low-resolution row. On lavapipe the scalar forms' per-output index
// arithmetic (divisions by uniforms) is their cost.
//# if VEC4
struct Params { n4: u32, w4: u32, gain: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n4) { return; }
    // Low-resolution row r (over every plane) becomes output rows 2r and 2r + 1.
    let r = o / P.w4;
    let xq = o % P.w4;
    let v = P.gain * X[o];
    let a = v.xxyy;
    let b = v.zzww;
    let top = (2u * r) * (2u * P.w4) + 2u * xq;
    let bottom = top + 2u * P.w4;
    Y[top] = a;
    Y[top + 1u] = b;
    Y[bottom] = a;
    Y[bottom + 1u] = b;
}

@compute @workgroup_size(WG)
fn down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n4) { return; }
    let r = o / P.w4;
    let xq = o % P.w4;
    let i = (2u * r) * (2u * P.w4) + 2u * xq;
    let j = i + 2u * P.w4;
    let p = X[i];
    let q = X[i + 1u];
    let s = X[j];
    let t = X[j + 1u];
    let top = vec4<f32>(p.x + p.y, p.z + p.w, q.x + q.y, q.z + q.w);
    let bot = vec4<f32>(s.x + s.y, s.z + s.w, t.x + t.y, t.z + t.w);
    Y[o] = P.gain * (top + bot);
}
//# else
struct Params { n: u32, h: u32, w: u32, gain: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(WG)
fn up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let w2 = 2u * P.w;
    let x = o % w2;
    let r = o / w2;
    let y = r % (2u * P.h);
    let plane = r / (2u * P.h);
    Y[o] = P.gain * X[(plane * P.h + y / 2u) * P.w + x / 2u];
}

@compute @workgroup_size(WG)
fn down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if (o >= P.n) { return; }
    let x = o % P.w;
    let r = o / P.w;
    let y = r % P.h;
    let plane = r / P.h;
    let w2 = 2u * P.w;
    let i = (plane * 2u * P.h + 2u * y) * w2 + 2u * x;
    Y[o] = P.gain * ((X[i] + X[i + 1u]) + (X[i + w2] + X[i + w2 + 1u]));
}
//# endif
