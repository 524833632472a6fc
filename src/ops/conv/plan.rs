//! Which kernel runs a convolution: one pure function of the conv's shape, what the adapter
//! offers, the context's policy and the precision the caller asked for. Nothing else decides.
//!
//! Each kernel module (`direct`, `subgroup`, `tiled`, `coop`) answers `supports(geometry,
//! caps)` for the shapes it is written for and `run(..)` to dispatch; `plan` only orders them.
//!
//! **Adding a kernel:** write its module with `supports` and `run` (and a template under
//! `shaders/conv/`), add a `ConvKernel` variant, give it a place in `plan`'s order below and a
//! line in `supports` / `conv::run_on`, and add it to the `tests/conv_kernels.rs` shape table.
//! The benchmark (`stylegan bench kernels`) then times it on every shape it takes.

pub use crate::gpu::Precision;
use crate::gpu::{AdapterCaps, Policy};
use crate::ops::conv::{coop, direct, subgroup, subgroup_general, tiled, ConvGeometry};

/// Output channels from which the tiled kernels are planned: few output channels (ToRGB) would
/// leave most of a 64-channel tile idle.
pub const TILED_MIN_CHANNELS: usize = 16;

/// The kernels a forward conv can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKernel {
    /// Weights shared across an 8-wide subgroup with `subgroupBroadcast`, one shader per shape
    /// (`subgroup`: 3x3 same, the 4x4 stride-2 down-conv and its transposed up-conv).
    Subgroup,
    /// The same technique for any forward conv (kernels up to 7x7, strides up to 2, any
    /// padding and width; `subgroup_general`).
    SubgroupGeneral,
    /// Tiled implicit GEMM in workgroup memory (`tiled`).
    Tiled,
    /// The tiled GEMM on f16 cooperative matrices (`coop`).
    CoopF16,
    /// One output pixel x 4 channels per invocation (`direct`): takes every conv.
    Direct,
}

impl ConvKernel {
    /// Every kernel, in the order `plan` considers them.
    pub const ALL: [ConvKernel; 5] = [
        ConvKernel::Subgroup,
        ConvKernel::SubgroupGeneral,
        ConvKernel::CoopF16,
        ConvKernel::Tiled,
        ConvKernel::Direct,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ConvKernel::Subgroup => "subgroup",
            ConvKernel::SubgroupGeneral => "subgroup-general",
            ConvKernel::Tiled => "tiled",
            ConvKernel::CoopF16 => "coop-f16",
            ConvKernel::Direct => "direct",
        }
    }

    /// The `Gpu::tally` name of a conv planned on this kernel at `prec`.
    pub(crate) fn tally(self, prec: Precision) -> &'static str {
        use ConvKernel::*;
        use Precision::*;
        match (self, prec) {
            (Subgroup, F32) => "conv f32 on subgroup",
            (SubgroupGeneral, F32) => "conv f32 on subgroup-general",
            (Tiled, F32) => "conv f32 on tiled",
            (CoopF16, F32) => "conv f32 on coop-f16",
            (Direct, F32) => "conv f32 on direct",
            (Subgroup, F16) => "conv f16 on subgroup",
            (SubgroupGeneral, F16) => "conv f16 on subgroup-general",
            (Tiled, F16) => "conv f16 on tiled",
            (CoopF16, F16) => "conv f16 on coop-f16",
            (Direct, F16) => "conv f16 on direct",
        }
    }
}

/// Whether `kernel` can run `g` on an adapter with `caps` (whatever the policy).
pub fn supports(kernel: ConvKernel, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    match kernel {
        ConvKernel::Subgroup => subgroup::supports(g, caps),
        ConvKernel::SubgroupGeneral => subgroup_general::supports(g, caps),
        ConvKernel::Tiled => tiled::supports(g, caps),
        ConvKernel::CoopF16 => coop::supports(g, caps),
        ConvKernel::Direct => direct::supports(g, caps),
    }
}

/// The kernel for `g`; `None` when no kernel takes it (a reduction too long for one
/// invocation, a grid past the adapter's limits).
///
/// Order: the subgroup kernels where the adapter has 8-wide subgroups and they take the shape
/// (measured fastest on lavapipe; the fixed-shape one first); f16 cooperative matrices for `Precision::F16` when the policy
/// opts in; the tiled GEMM for 16 or more output channels; the direct kernel for the rest.
pub fn plan(
    g: &ConvGeometry,
    caps: &AdapterCaps,
    policy: &Policy,
    prec: Precision,
) -> Option<ConvKernel> {
    let wide = g.o >= TILED_MIN_CHANNELS;
    let allowed = |k: ConvKernel| match k {
        ConvKernel::Subgroup | ConvKernel::SubgroupGeneral => policy.subgroup_conv,
        ConvKernel::CoopF16 => prec == Precision::F16 && policy.f16 && wide,
        ConvKernel::Tiled => policy.tiled_conv && wide,
        ConvKernel::Direct => true,
    };
    ConvKernel::ALL
        .into_iter()
        .find(|&k| allowed(k) && supports(k, g, caps))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(subgroup8: bool, coop: u32, cpu: bool) -> AdapterCaps {
        AdapterCaps {
            subgroup8,
            coop_f16_subgroup: coop,
            cpu,
            max_workgroups: 65535,
        }
    }

    fn same(n: usize, c: usize, o: usize, hw: usize, k: usize) -> ConvGeometry {
        ConvGeometry::same(&[n, c, hw, hw], &[k, k, c, o]).unwrap()
    }

    #[test]
    fn lavapipe_plans() {
        let lp = caps(true, 0, true);
        let p = Policy::default();
        let f32 = Precision::F32;
        assert_eq!(
            plan(&same(4, 64, 64, 32, 3), &lp, &p, f32),
            Some(ConvKernel::Subgroup)
        );
        // 1x1 with 16+ outputs: the general subgroup kernel (tiled without subgroups); ToRGB
        // (3 outputs): direct.
        assert_eq!(
            plan(&same(4, 64, 32, 32, 1), &lp, &p, f32),
            Some(ConvKernel::SubgroupGeneral)
        );
        assert_eq!(
            plan(&same(4, 64, 32, 32, 1), &caps(false, 0, true), &p, f32),
            Some(ConvKernel::Tiled)
        );
        assert_eq!(
            plan(&same(4, 64, 3, 32, 1), &lp, &p, f32),
            Some(ConvKernel::Direct)
        );
        let up = ConvGeometry::up2(&[4, 64, 16, 16], &[4, 4, 64, 32]).unwrap();
        assert_eq!(plan(&up, &lp, &p, f32), Some(ConvKernel::Subgroup));
        let no_sg = Policy {
            subgroup_conv: false,
            ..Policy::default()
        };
        assert_eq!(plan(&up, &lp, &no_sg, f32), Some(ConvKernel::Tiled));
        let neither = Policy {
            tiled_conv: false,
            ..no_sg
        };
        assert_eq!(plan(&up, &lp, &neither, f32), Some(ConvKernel::Direct));
    }

    #[test]
    fn f16_only_when_asked_allowed_and_present() {
        let gpu = caps(false, 32, false);
        let on = Policy {
            f16: true,
            ..Policy::default()
        };
        let g = same(4, 64, 64, 32, 3);
        assert_eq!(
            plan(&g, &gpu, &on, Precision::F16),
            Some(ConvKernel::CoopF16)
        );
        // Training and gradients ask for f32: never f16, whatever the policy.
        assert_eq!(plan(&g, &gpu, &on, Precision::F32), Some(ConvKernel::Tiled));
        assert_eq!(
            plan(&g, &gpu, &Policy::default(), Precision::F16),
            Some(ConvKernel::Tiled)
        );
        assert_eq!(
            plan(&g, &caps(false, 0, false), &on, Precision::F16),
            Some(ConvKernel::Tiled)
        );
    }

    #[test]
    fn the_next_networks_shapes_have_a_kernel() {
        // Inception-v3 and VGG16: non-square, 5x5, stride 2 without fused resampling,
        // padding 0, 1x1 on 2048 channels.
        type Shape<'a> = (&'a [usize], &'a [usize], usize, (usize, usize));
        let shapes: [Shape; 7] = [
            (&[2, 3, 299, 299], &[3, 3, 3, 32], 2, (0, 0)),
            (&[2, 768, 17, 17], &[1, 7, 768, 192], 1, (0, 3)),
            (&[2, 192, 17, 17], &[7, 1, 192, 192], 1, (3, 0)),
            (&[2, 448, 8, 8], &[1, 3, 448, 384], 1, (0, 1)),
            (&[2, 48, 35, 35], &[5, 5, 48, 64], 1, (2, 2)),
            (&[2, 2048, 8, 8], &[1, 1, 2048, 320], 1, (0, 0)),
            (&[2, 512, 14, 14], &[3, 3, 512, 512], 1, (1, 1)),
        ];
        for (x, w, s, pad) in shapes {
            let g = ConvGeometry::new("t", x, w, s, pad, false).unwrap();
            for c in [
                caps(true, 0, true),
                caps(false, 0, false),
                caps(false, 32, false),
            ] {
                for prec in [Precision::F32, Precision::F16] {
                    let p = Policy {
                        f16: true,
                        ..Policy::default()
                    };
                    let k = plan(&g, &c, &p, prec);
                    assert!(k.is_some(), "{} on {c:?}: no kernel", g.label());
                    assert!(supports(k.unwrap(), &g, &c));
                    if c.subgroup8 {
                        assert!(
                            k.unwrap() == ConvKernel::SubgroupGeneral
                                || k.unwrap() == ConvKernel::Subgroup,
                            "{}: {k:?} on lavapipe",
                            g.label()
                        );
                    }
                }
            }
        }
    }
}
