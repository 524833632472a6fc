//! f16 tensor-core variant of the tiled conv (`shaders/conv/coop.wgsl`): the same
//! implicit GEMM, gather and phase classes as `tiled`, with the inner product on cooperative
//! matrices (16x16x16, f16 inputs, f32 accumulation; WGSL `enable wgpu_cooperative_matrix;`,
//! wgpu's `Features::EXPERIMENTAL_COOPERATIVE_MATRIX`).
//!
//! **Opt-in and unverified so far.** The planner uses it only for `Precision::F16` convs
//! (inference entry points, under `Policy::f16`, i.e. `STYLEGAN_F16=1`) on adapters whose device
//! was opened with `SHADER_F16`, a 16x16x16 f16 x f16 + f32 cooperative-matrix configuration and
//! one fixed subgroup size of 32 or 64. No adapter available to the project so far had the
//! feature (lavapipe does not), so the kernel has only been validated and translated by naga
//! (`tests/shaders.rs`). On first use on a device it checks itself against the f32 tiled kernel
//! on probe convs (`verified`) and stays off, with a warning, when it fails to compile or
//! disagrees by more than f16 rounding explains.

use std::borrow::Cow;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::template::render;
use crate::gpu::{Access, AdapterCaps, Gpu, Kernel, KernelParams, Tensor};
use crate::gpu::{Policy, Precision};
use crate::ops::conv::plan::{conv_names, ConvImpl, ConvKernel, TILED_MIN_CHANNELS};
use crate::ops::conv::tiled::{dispatch_gemm, gemm_layout, GemmParams, TEMPLATES};
use crate::ops::conv::ConvGeometry;

const BM: usize = 64;
const BN: usize = 32;
const BK: usize = 16;
const NT: usize = 128;

/// The kernel in the planner's table.
pub const KERNEL: ConvKernel = ConvKernel::new(&CoopF16);

struct CoopF16;

impl ConvImpl for CoopF16 {
    conv_names!("coop-f16");

    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
        supports(g, caps)
    }

    /// Only for f16 convs the policy opted into, with a tile's worth of output channels.
    fn planned(&self, g: &ConvGeometry, policy: &Policy, prec: Precision) -> bool {
        prec == Precision::F16 && policy.f16 && g.o >= TILED_MIN_CHANNELS
    }

    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
        run(x, w, g, alpha)
    }

    fn kernels(&self) -> Result<Vec<Kernel>> {
        [32, 64].into_iter().map(kernel).collect()
    }
}

/// Whether the kernel can run `g` on `caps` (whether it has passed its self-check is asked
/// separately, `verified`).
pub fn supports(g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    caps.coop_f16() && gemm_layout(g, caps, BM, BN).is_some()
}

/// The kernel for subgroup size `sg` (32 or 64), rendered.
pub fn kernel(sg: usize) -> Result<Kernel> {
    if sg != 32 && sg != 64 {
        return Err(crate::Error::Invalid(format!(
            "conv_coop: subgroup size {sg}: the kernel is written for 32 or 64"
        )));
    }
    let key = format!("conv_coop_f16:sg{sg}");
    let source = render(
        TEMPLATES,
        "conv/coop.wgsl",
        minijinja::context! {
            KEY => key.clone(),
            BM => BM, BN => BN, BK => BK, NT => NT,
            BLOCKS => (BM / 16) * (BN / 16) / (NT / sg),
        },
    )?;
    Ok(Kernel {
        key: Cow::Owned(key),
        file: "conv/coop.wgsl",
        source: Cow::Owned(source),
        entry: "main",
        bindings: &[Access::Read, Access::Read, Access::ReadWrite],
        params: &<GemmParams as KernelParams>::LAYOUT,
    })
}

thread_local! {
    static RENDERED: std::cell::RefCell<Option<(usize, Rc<Kernel>)>> =
        const { std::cell::RefCell::new(None) };
}

fn kernel_for(sg: usize) -> Result<Rc<Kernel>> {
    if let Some(k) = RENDERED.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|(s, _)| *s == sg)
            .map(|(_, k)| k.clone())
    }) {
        return Ok(k);
    }
    let k = Rc::new(kernel(sg)?);
    RENDERED.with(|c| *c.borrow_mut() = Some((sg, k.clone())));
    Ok(k)
}

/// `alpha * conv(x, w)` as `g` describes it with f16 inputs; the caller checked `supports`.
pub fn run(x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor> {
    let sg = x.gpu().caps().coop_f16_subgroup as usize;
    dispatch_gemm(&*kernel_for(sg)?, x, w, g, BM, BN, alpha)
}

/// Whether the kernel passed its one-time self-check on `gpu` (run on first call): against
/// the f32 tiled kernel on probe convs, a stride-1 3x3 and a transposed stride-2 4x4, every
/// output within 2% of the largest value (f16 inputs round to 1/2048; the probes sum 16 * 9
/// and 16 * 4 products).
pub fn verified(gpu: &Gpu) -> bool {
    gpu.self_check("conv_coop_f16", || self_check(gpu))
}

fn self_check(gpu: &Gpu) -> Result<bool> {
    let probes = [
        ([2, 16, 12, 20], [3, 3, 16, 80], 1, false),
        ([1, 16, 6, 10], [4, 4, 16, 24], 2, true),
    ];
    for (i, (xs, ws, s, transposed)) in probes.into_iter().enumerate() {
        let pad = ws[0] / 2 - usize::from(transposed);
        let g = ConvGeometry::new("conv_coop self-check", &xs, &ws, s, (pad, pad), transposed)?;
        let fill = |shape: &[usize], seed| {
            let n = shape.iter().product();
            Tensor::from_slice(gpu, shape, &crate::rng::lcg_fill(n, seed))
        };
        let x = fill(&xs, 100 + i as u64)?;
        let w = fill(&ws, 200 + i as u64)?;
        let got = run(&x, &w, &g, 0.5)?.to_vec()?;
        let want = crate::ops::conv::tiled::run_with_tile(
            &x,
            &w,
            &g,
            crate::ops::conv::tiled::TILE_SMALL,
            0.5,
        )?
        .to_vec()?;
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        let err = got
            .iter()
            .zip(&want)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        // f32::max skips NaN, so non-finite outputs are checked on their own.
        if got.iter().any(|v| !v.is_finite()) || err / scale > 0.02 {
            log::warn!(
                "the f16 cooperative-matrix conv disagrees with the f32 kernel on probe {i} \
                 (max error {err:.2e} of {scale:.2e}); STYLEGAN_F16 ignored on this adapter"
            );
            return Ok(false);
        }
    }
    Ok(true)
}
