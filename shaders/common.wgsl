// Shared by every kernel (prepended by the `kernel!` macro).
// Binding 0 of group 0 is each kernel's `Params` uniform; storage buffers follow.
const WG: u32 = 256u;
// Workgroup size of the kernels with one long sequential loop per invocation (gpu::SEQ_WG).
const SEQ_WG: u32 = 8u;

// Linear invocation index over a 2-D grid of 1-D workgroups of size WG.
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn lrelu(x: f32, slope: f32) -> f32 {
    return select(x * slope, x, x > 0.0);
}

