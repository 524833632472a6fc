// The parameter block and bindings of the implicit-GEMM conv kernels (conv/tiled.wgsl,
// conv/coop.wgsl); src/ops/conv/tiled.rs fills it (GemmParams).
// Weights [kh, kw, c, o]; kth x ktw taps reach each output pixel (per phase class when
// transposed, mode 1), kred = kth * ktw * c reduction rows; hc x wc output pixels per class.
struct Params {
  c: u32, h: u32, w: u32, o: u32, ho: u32, wo: u32, kh: u32, kw: u32, kth: u32, ktw: u32,
  kred: u32, s: i32, ph: i32, pw: i32, mode: u32, hc: u32, wc: u32, pix: u32, tiles_pix: u32,
  classes: u32, alpha: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
