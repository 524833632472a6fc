// Nearest x2 upsampling and 2x2 block-sum downsampling (NCHW), both scaled by `gain`.
// They are adjoints of each other, which is what makes each one the other's backward.
// `h`, `w` are always the LOW-resolution sizes (the input of `up`, the output of `down`), so
// both entries share one parameter block; `n` is the number of outputs.
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
