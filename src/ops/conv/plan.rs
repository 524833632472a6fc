//! Which kernel runs a convolution: one pure function of the conv's shape, what the adapter
//! offers, the context's policy and the precision the caller asked for. Nothing else decides.
//!
//! The planner is a table: each kernel module (`subgroup`, `subgroup_general`, `coop`,
//! `tiled`, `direct`) implements [`ConvImpl`] (what it takes, when the policy allows it, how it
//! runs, its kernels) and [`ConvKernel::ALL`] lists them in the order `plan` tries them.
//!
//! **Adding a kernel:** write its module (a `ConvImpl`, its template under `shaders/conv/`),
//! declare it in `conv/mod.rs` and give it its place in `ConvKernel::ALL`; add it to the
//! `tests/ops_conv_kernels.rs` shape table. The shader tests then validate its kernels, and the
//! benchmark (`stylegan bench kernels`) times it on every shape it takes.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::Result;
pub use crate::gpu::Precision;
use crate::gpu::{AdapterCaps, Kernel, Policy, Tensor};
use crate::ops::conv::{
    coop, direct, pointwise, subgroup, subgroup_general, tiled, winograd, ConvGeometry,
};

/// Output channels from which the tiled kernels are planned: few output channels (ToRGB) would
/// leave most of a 64-channel tile idle.
pub const TILED_MIN_CHANNELS: usize = 16;

/// One forward conv kernel, as the planner and the benchmarks see it.
pub trait ConvImpl: Sync {
    /// Its name in benchmark reports and errors (`conv_names!` writes it and `tally`).
    fn name(&self) -> &'static str;

    /// The `Gpu::tally` name of a conv planned on it at `prec`.
    fn tally(&self, prec: Precision) -> &'static str;

    /// Whether it can run `g` on an adapter with `caps`, whatever the policy.
    fn supports(&self, g: &ConvGeometry, caps: &AdapterCaps) -> bool;

    /// Whether the policy's switches leave it on (the benchmarks time every kernel that is).
    fn enabled(&self, _policy: &Policy) -> bool {
        true
    }

    /// Whether `plan` may give it `g` at `prec`: `enabled`, unless the kernel asks for more.
    fn planned(&self, _g: &ConvGeometry, policy: &Policy, _prec: Precision) -> bool {
        self.enabled(policy)
    }

    /// `alpha * conv(x, w)` as `g` describes it; the caller checked `supports`.
    fn run(&self, x: &Tensor, w: &Tensor, g: &ConvGeometry, alpha: f32) -> Result<Tensor>;

    /// Its kernels, the rendered ones for representative configurations (shader tests).
    fn kernels(&self) -> Result<Vec<Kernel>>;
}

/// Writes `ConvImpl::name` and `ConvImpl::tally` from the kernel's name.
macro_rules! conv_names {
    ($name:literal) => {
        fn name(&self) -> &'static str {
            $name
        }

        fn tally(&self, prec: $crate::gpu::Precision) -> &'static str {
            match prec {
                $crate::gpu::Precision::F32 => concat!("conv f32 on ", $name),
                $crate::gpu::Precision::F16 => concat!("conv f16 on ", $name),
            }
        }
    };
}
pub(crate) use conv_names;

/// A forward conv kernel: one entry of the planner's table. Equal when the names are.
#[derive(Clone, Copy)]
pub struct ConvKernel(&'static dyn ConvImpl);

impl ConvKernel {
    /// Every kernel, in the order `plan` considers them.
    pub const ALL: &'static [ConvKernel] = &[
        subgroup::KERNEL,
        pointwise::KERNEL,
        subgroup_general::KERNEL,
        coop::KERNEL,
        tiled::KERNEL,
        direct::KERNEL,
        winograd::KERNEL,
    ];

    pub(crate) const fn new(imp: &'static dyn ConvImpl) -> ConvKernel {
        ConvKernel(imp)
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Whether the policy's switches leave it on (`ConvImpl::enabled`).
    pub fn enabled(self, policy: &Policy) -> bool {
        self.0.enabled(policy)
    }

    pub(crate) fn imp(self) -> &'static dyn ConvImpl {
        self.0
    }
}

impl PartialEq for ConvKernel {
    fn eq(&self, other: &ConvKernel) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ConvKernel {}

impl Hash for ConvKernel {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for ConvKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConvKernel({})", self.name())
    }
}

/// Whether `kernel` can run `g` on an adapter with `caps` (whatever the policy).
pub fn supports(kernel: ConvKernel, g: &ConvGeometry, caps: &AdapterCaps) -> bool {
    kernel.0.supports(g, caps)
}

/// The kernels `plan` may give `g`, in the fixed order: those the policy leaves on for `g` at
/// `prec` and that take it on an adapter with `caps`. Tuning measures these.
pub fn candidates(
    g: &ConvGeometry,
    caps: &AdapterCaps,
    policy: &Policy,
    prec: Precision,
) -> Vec<ConvKernel> {
    ConvKernel::ALL
        .iter()
        .copied()
        .filter(|k| k.0.planned(g, policy, prec) && k.0.supports(g, caps))
        .collect()
}

/// The kernel for `g` in the fixed order; `None` when no kernel takes it (a reduction too long
/// for one invocation, a grid past the adapter's limits). `plan_with` without a tuned choice.
///
/// Order: the subgroup kernels where the adapter has 8-wide subgroups and they take the shape
/// (measured fastest on lavapipe; the fixed-shape one first, then 1x1 convs as matrix products,
/// then the general one); f16 cooperative matrices for
/// `Precision::F16` when the policy opts in; the tiled GEMM for 16 or more output channels;
/// the direct kernel for the rest. Winograd comes last, so only tuning picks it, where it
/// measures fastest (wide 3x3 layers at 32² and more on lavapipe). A kernel the policy pins (`Policy::pin["conv"]`) comes first
/// where it is a candidate.
pub fn plan(
    g: &ConvGeometry,
    caps: &AdapterCaps,
    policy: &Policy,
    prec: Precision,
) -> Option<ConvKernel> {
    plan_with(g, caps, policy, prec, None)
}

/// The kernel for `g`: the policy's pin for `conv` if it is a candidate, else `tuned` (the
/// name the tuning table chose, `Gpu::tuned`) if it is one, else the first candidate in the
/// fixed order (`plan`). Still a pure function: the measured choice is an input.
pub fn plan_with(
    g: &ConvGeometry,
    caps: &AdapterCaps,
    policy: &Policy,
    prec: Precision,
    tuned: Option<&str>,
) -> Option<ConvKernel> {
    let cands = candidates(g, caps, policy, prec);
    let named =
        |name: Option<&str>| name.and_then(|n| cands.iter().copied().find(|k| k.name() == n));
    named(policy.pin.get(FAMILY).map(String::as_str))
        .or_else(|| named(tuned))
        .or_else(|| cands.first().copied())
}

/// The forward conv's family name in the tuning table and in `Policy::pin`.
pub const FAMILY: &str = "conv";

/// The forward conv's shape key in the tuning table: the geometry (batch included) and the
/// precision.
pub fn tune_key(g: &ConvGeometry, prec: Precision) -> String {
    format!("{} {}", g.label(), prec.name())
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
            Some(subgroup::KERNEL)
        );
        // 1x1: the matmul kernel, ToRGB (3 outputs) included; without subgroups the tiled
        // kernel for 16+ outputs, else direct. Other odd shapes: the general subgroup kernel.
        assert_eq!(
            plan(&same(4, 64, 32, 32, 1), &lp, &p, f32),
            Some(pointwise::KERNEL)
        );
        assert_eq!(
            plan(&same(4, 64, 3, 32, 1), &lp, &p, f32),
            Some(pointwise::KERNEL)
        );
        assert_eq!(
            plan(&same(4, 64, 32, 32, 1), &caps(false, 0, true), &p, f32),
            Some(tiled::KERNEL)
        );
        assert_eq!(
            plan(&same(4, 64, 3, 32, 1), &caps(false, 0, true), &p, f32),
            Some(direct::KERNEL)
        );
        assert_eq!(
            plan(&same(4, 64, 32, 32, 5), &lp, &p, f32),
            Some(subgroup_general::KERNEL)
        );
        let up = ConvGeometry::up2(&[4, 64, 16, 16], &[4, 4, 64, 32]).unwrap();
        assert_eq!(plan(&up, &lp, &p, f32), Some(subgroup::KERNEL));
        let no_sg = Policy {
            subgroup_conv: false,
            ..Policy::default()
        };
        assert_eq!(plan(&up, &lp, &no_sg, f32), Some(tiled::KERNEL));
        let neither = Policy {
            tiled_conv: false,
            ..no_sg
        };
        assert_eq!(plan(&up, &lp, &neither, f32), Some(direct::KERNEL));
    }

    #[test]
    fn the_tuned_choice_and_the_pin_are_inputs() {
        let lp = caps(true, 0, true);
        let p = Policy::default();
        let f32 = Precision::F32;
        let g = same(4, 64, 64, 32, 3);
        let names: Vec<&str> = candidates(&g, &lp, &p, f32)
            .iter()
            .map(|k| k.name())
            .collect();
        assert_eq!(
            names,
            [
                "subgroup",
                "subgroup-general",
                "tiled",
                "direct",
                "winograd"
            ]
        );
        assert_eq!(plan(&g, &lp, &p, f32), Some(subgroup::KERNEL));
        assert_eq!(
            plan_with(&g, &lp, &p, f32, Some("tiled")),
            Some(tiled::KERNEL)
        );
        // A name that is not a candidate here (coop in f32, or unknown): the fixed order.
        for other in ["coop-f16", "nonsense"] {
            assert_eq!(
                plan_with(&g, &lp, &p, f32, Some(other)),
                Some(subgroup::KERNEL)
            );
        }
        // The pin wins over the tuned choice where it takes the shape.
        let pinned = Policy::default().pinned(FAMILY, "direct");
        assert_eq!(
            plan_with(&g, &lp, &pinned, f32, Some("tiled")),
            Some(direct::KERNEL)
        );
        // ToRGB (3 outputs): the matmul and direct kernels are the candidates; a pin on
        // subgroup falls back to the fixed order.
        let rgb = same(4, 64, 3, 32, 1);
        let sg = Policy::default().pinned(FAMILY, "subgroup");
        assert_eq!(plan(&rgb, &lp, &sg, f32), Some(pointwise::KERNEL));
        assert_eq!(
            candidates(&rgb, &lp, &sg, f32),
            [pointwise::KERNEL, direct::KERNEL]
        );
    }

    #[test]
    fn f16_only_when_asked_allowed_and_present() {
        let gpu = caps(false, 32, false);
        let on = Policy {
            f16: true,
            ..Policy::default()
        };
        let g = same(4, 64, 64, 32, 3);
        assert_eq!(plan(&g, &gpu, &on, Precision::F16), Some(coop::KERNEL));
        // Training and gradients ask for f32: never f16, whatever the policy.
        assert_eq!(plan(&g, &gpu, &on, Precision::F32), Some(tiled::KERNEL));
        assert_eq!(
            plan(&g, &gpu, &Policy::default(), Precision::F16),
            Some(tiled::KERNEL)
        );
        assert_eq!(
            plan(&g, &caps(false, 0, false), &on, Precision::F16),
            Some(tiled::KERNEL)
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
                            [
                                subgroup_general::KERNEL,
                                subgroup::KERNEL,
                                pointwise::KERNEL
                            ]
                            .contains(&k.unwrap()),
                            "{}: {k:?} on lavapipe",
                            g.label()
                        );
                    }
                }
            }
        }
    }
}
