//! The shape of one forward convolution, checked once and handed to the planner and the
//! kernels: input `[N, C, H, W]`, HWIO weight `[KH, KW, C, O]`, one stride for both axes,
//! symmetric zero padding per axis, and the direction.
//!
//! Forward: `y[n,o,p,q] = alpha * sum x[n,c, s*p+a-ph, s*q+b-pw] * w[a,b,c,o]`, with
//! `HO = floor((H + 2 ph - KH) / s) + 1` (PyTorch's `conv2d`).
//! Transposed, the exact adjoint of the forward with the same stride and padding (PyTorch's
//! `conv_transpose2d` with the kernel laid out `[C, O, KH, KW]`, not flipped):
//! `y[n,o,p,q] = alpha * sum over s*i+a-ph == p, s*j+b-pw == q of x[n,c,i,j] * w[a,b,c,o]`,
//! with `HO = (H - 1) s + KH - 2 ph + oph`: `oph` is the output padding (PyTorch's
//! `output_padding`, `0 <= oph < s`; extra output rows at the end that only the taps reaching
//! past the natural size feed). It exists so that the transposed conv can be the exact adjoint
//! of every forward conv: when `(H + 2 ph - KH)` is not a multiple of `s`, the forward conv
//! reads no tap from the input's last `(H + 2 ph - KH) % s` rows, and its adjoint must still
//! return the input's `H` rows.

use crate::error::{shape_err, Result};

/// A convolution's stride, padding and direction, apart from the shapes of its operands (what
/// `ops::conv` takes; `geometry` adds the shapes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvSpec {
    pub stride: usize,
    /// Zero padding `(rows, columns)`, on both sides of each axis.
    pub pad: (usize, usize),
    pub transposed: bool,
    /// Extra output `(rows, columns)` of a transposed conv (below the stride; zero for forward
    /// convs), see the module docs.
    pub output_padding: (usize, usize),
}

impl ConvSpec {
    /// A forward conv (PyTorch's `conv2d(stride, padding)`).
    pub fn forward(stride: usize, pad: (usize, usize)) -> ConvSpec {
        ConvSpec {
            stride,
            pad,
            transposed: false,
            output_padding: (0, 0),
        }
    }

    /// A transposed conv (PyTorch's `conv_transpose2d(stride, padding)`), the adjoint of
    /// `forward(stride, pad)`.
    pub fn transposed(stride: usize, pad: (usize, usize)) -> ConvSpec {
        ConvSpec {
            transposed: true,
            ..ConvSpec::forward(stride, pad)
        }
    }

    /// The same spec with `output_padding` (transposed convs only; checked by `geometry`).
    pub fn with_output_padding(self, output_padding: (usize, usize)) -> ConvSpec {
        ConvSpec {
            output_padding,
            ..self
        }
    }

    /// The geometry of this conv on input shape `x` and weight shape `w`; errors name `op`.
    pub fn geometry(&self, op: &'static str, x: &[usize], w: &[usize]) -> Result<ConvGeometry> {
        ConvGeometry::with_output_padding(
            op,
            x,
            w,
            self.stride,
            self.pad,
            self.transposed,
            self.output_padding,
        )
    }
}

/// One forward convolution's shape (see the module docs). Build it with `new`,
/// `with_output_padding`, `same`, `down2`, `up2` or `adjoint`, which check it; every field is
/// then consistent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad_h: usize,
    pub pad_w: usize,
    pub transposed: bool,
    pub ho: usize,
    pub wo: usize,
}

fn dims4(op: &'static str, what: &str, s: &[usize]) -> Result<[usize; 4]> {
    match *s {
        [a, b, c, d] => Ok([a, b, c, d]),
        _ => shape_err(op, format!("{what} must be 4-D, got {s:?}")),
    }
}

impl ConvGeometry {
    /// The conv of input `x` (NCHW) with HWIO weight `w`, stride `stride`, padding
    /// `(pad_h, pad_w)`, forward or `transposed`; errors name `op`.
    pub fn new(
        op: &'static str,
        x: &[usize],
        w: &[usize],
        stride: usize,
        pad: (usize, usize),
        transposed: bool,
    ) -> Result<ConvGeometry> {
        ConvGeometry::with_output_padding(op, x, w, stride, pad, transposed, (0, 0))
    }

    /// `new` with the output padding `(rows, columns)` of a transposed conv (each below the
    /// stride, as PyTorch requires; it must be zero for forward convs).
    pub fn with_output_padding(
        op: &'static str,
        x: &[usize],
        w: &[usize],
        stride: usize,
        (pad_h, pad_w): (usize, usize),
        transposed: bool,
        (oph, opw): (usize, usize),
    ) -> Result<ConvGeometry> {
        let [n, c, h, wd] = dims4(op, "input (NCHW)", x)?;
        let [kh, kw, ci, o] = dims4(op, "weight (HWIO)", w)?;
        if ci != c {
            return shape_err(
                op,
                format!("input {x:?} has {c} channels but weight {w:?} expects {ci}"),
            );
        }
        if stride == 0 || kh == 0 || kw == 0 {
            return shape_err(
                op,
                format!("stride {stride} and kernel {kh}x{kw} must be at least 1"),
            );
        }
        if (oph, opw) != (0, 0) && (!transposed || oph >= stride || opw >= stride) {
            return shape_err(
                op,
                format!(
                    "output padding ({oph}, {opw}) needs a transposed conv and must be below \
                     the stride {stride} (input {x:?}, weight {w:?})"
                ),
            );
        }
        let out = |size: usize, k: usize, pad: usize, opad: usize, axis: &str| -> Result<usize> {
            let o = if transposed {
                ((size.max(1) - 1) * stride + k + opad).checked_sub(2 * pad)
            } else {
                (size + 2 * pad).checked_sub(k).map(|v| v / stride + 1)
            };
            match o {
                Some(o) if o > 0 && size > 0 => Ok(o),
                _ => shape_err(
                    op,
                    format!(
                        "input {axis} {size} with kernel {k}, stride {stride} and padding {pad} \
                         leaves no output (input {x:?}, weight {w:?})"
                    ),
                ),
            }
        };
        let ho = out(h, kh, pad_h, oph, "height")?;
        let wo = out(wd, kw, pad_w, opw, "width")?;
        Ok(ConvGeometry {
            n,
            c,
            h,
            w: wd,
            o,
            kh,
            kw,
            stride,
            pad_h,
            pad_w,
            transposed,
            ho,
            wo,
        })
    }

    /// Stride 1, "same" zero padding: odd kernels, output the input's size (`conv2d`).
    pub fn same(x: &[usize], w: &[usize]) -> Result<ConvGeometry> {
        let op = "conv2d";
        let wd = dims4(op, "weight (HWIO)", w)?;
        if wd[0].is_multiple_of(2) || wd[1].is_multiple_of(2) {
            return shape_err(
                op,
                format!("weight {w:?}: kernel sizes must be odd for same padding"),
            );
        }
        ConvGeometry::new(op, x, w, 1, (wd[0] / 2, wd[1] / 2), false)
    }

    /// The stride-2, padding-1, 4x4 down-conv of even-sized inputs (`conv_down2`).
    pub fn down2(x: &[usize], w: &[usize]) -> Result<ConvGeometry> {
        let op = "conv_down2";
        check_4x4(op, w)?;
        let xd = dims4(op, "input (NCHW)", x)?;
        if !xd[2].is_multiple_of(2) || !xd[3].is_multiple_of(2) {
            return shape_err(op, format!("input {x:?} must have even height and width"));
        }
        ConvGeometry::new(op, x, w, 2, (1, 1), false)
    }

    /// The transposed stride-2, padding-1, 4x4 up-conv: output `2H x 2W` (`conv_up2`).
    pub fn up2(x: &[usize], w: &[usize]) -> Result<ConvGeometry> {
        let op = "conv_up2";
        check_4x4(op, w)?;
        ConvGeometry::new(op, x, w, 2, (1, 1), true)
    }

    /// The output padding `(rows, columns)`: the output size past the natural
    /// `(H - 1) s + KH - 2 ph` of a transposed conv; `(0, 0)` for forward convs.
    pub fn output_padding(&self) -> (usize, usize) {
        if !self.transposed {
            return (0, 0);
        }
        // HO = (H - 1) s + KH - 2 ph + oph, in unsigned arithmetic.
        let opad = |size: usize, osize: usize, k: usize, pad: usize| {
            osize + 2 * pad - ((size - 1) * self.stride + k)
        };
        (
            opad(self.h, self.ho, self.kh, self.pad_h),
            opad(self.w, self.wo, self.kw, self.pad_w),
        )
    }

    /// The stride, padding and direction of this conv.
    pub fn spec(&self) -> ConvSpec {
        ConvSpec {
            stride: self.stride,
            pad: (self.pad_h, self.pad_w),
            transposed: self.transposed,
            output_padding: self.output_padding(),
        }
    }

    /// The adjoint conv: the map from this conv's output back to its input space with the
    /// kernel's in/out axes exchanged, `<conv(x, w), y> == <x, adjoint conv(y, swap_io(w))>`.
    /// A forward conv's adjoint is the transposed conv with the same stride and padding and
    /// the output padding that brings it back to `H x W`; a transposed conv's is the forward
    /// conv. Input `[N, O, HO, WO]`, weight `[KH, KW, O, C]`, output `[N, C, H, W]`.
    pub fn adjoint(&self) -> Result<ConvGeometry> {
        let op = "conv adjoint";
        let (x, w) = (
            [self.n, self.o, self.ho, self.wo],
            self.weight_shape_swapped(),
        );
        let pad = (self.pad_h, self.pad_w);
        let g = if self.transposed {
            ConvGeometry::new(op, &x, &w, self.stride, pad, false)?
        } else {
            // The forward conv reads rows up to (HO - 1) s + KH - 1 - ph; the rest, at most
            // s - 1 of them, the transposed conv adds as output padding.
            let opad = |size: usize, osize: usize, k: usize, pad: usize| {
                (size + 2 * pad) - ((osize - 1) * self.stride + k)
            };
            let oph = opad(self.h, self.ho, self.kh, self.pad_h);
            let opw = opad(self.w, self.wo, self.kw, self.pad_w);
            ConvGeometry::with_output_padding(op, &x, &w, self.stride, pad, true, (oph, opw))?
        };
        if (g.ho, g.wo) != (self.h, self.w) {
            return shape_err(
                op,
                format!("the adjoint of {} maps to {}", self.label(), g.label()),
            );
        }
        Ok(g)
    }

    fn weight_shape_swapped(&self) -> [usize; 4] {
        [self.kh, self.kw, self.o, self.c]
    }

    /// Output shape `[N, O, HO, WO]`.
    pub fn out_shape(&self) -> [usize; 4] {
        [self.n, self.o, self.ho, self.wo]
    }

    /// Weight shape `[KH, KW, C, O]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.kh, self.kw, self.c, self.o]
    }

    /// Multiply-adds of the direct convolution, times 2: every tap of every output pixel for
    /// forward convs, every tap of every input pixel for transposed ones.
    pub fn flops(&self) -> f64 {
        let pixels = if self.transposed {
            self.h * self.w
        } else {
            self.ho * self.wo
        };
        2.0 * (self.n * pixels * self.kh * self.kw * self.c * self.o) as f64
    }

    /// A short label, e.g. `N4 C512->O512 3x3/s1/p1,1 16x16->16x16` (`/T` for transposed
    /// convs, `/op1,0` for output padding).
    pub fn label(&self) -> String {
        let op = match self.output_padding() {
            (0, 0) => String::new(),
            (a, b) => format!("/op{a},{b}"),
        };
        format!(
            "N{} C{}->O{} {}x{}/s{}/p{},{}{}{op} {}x{}->{}x{}",
            self.n,
            self.c,
            self.o,
            self.kh,
            self.kw,
            self.stride,
            self.pad_h,
            self.pad_w,
            if self.transposed { "/T" } else { "" },
            self.h,
            self.w,
            self.ho,
            self.wo
        )
    }

    /// Whether this is `same`'s geometry with a `k x k` kernel.
    pub fn is_same(&self, k: usize) -> bool {
        !self.transposed
            && self.stride == 1
            && (self.kh, self.kw) == (k, k)
            && (self.pad_h, self.pad_w) == (k / 2, k / 2)
    }

    /// Whether this is `down2`'s geometry (even input sides).
    pub fn is_down2(&self) -> bool {
        !self.transposed && self.is_4x4_s2_p1() && self.h == 2 * self.ho && self.w == 2 * self.wo
    }

    /// Whether this is `up2`'s geometry (output exactly `2H x 2W`: no output padding).
    pub fn is_up2(&self) -> bool {
        self.transposed && self.is_4x4_s2_p1() && self.ho == 2 * self.h && self.wo == 2 * self.w
    }

    fn is_4x4_s2_p1(&self) -> bool {
        (self.kh, self.kw, self.stride, self.pad_h, self.pad_w) == (4, 4, 2, 1, 1)
    }
}

fn check_4x4(op: &'static str, w: &[usize]) -> Result<()> {
    let wd = dims4(op, "weight (HWIO)", w)?;
    if wd[0] != 4 || wd[1] != 4 {
        return shape_err(op, format!("weight {w:?} must be 4x4 (HWIO [4,4,C,O])"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        // Inception-style: 3x3 stride 2 without padding, 1x7 with (0, 3), 5x5 with 2.
        let g =
            ConvGeometry::new("t", &[1, 3, 299, 299], &[3, 3, 3, 32], 2, (0, 0), false).unwrap();
        assert_eq!((g.ho, g.wo), (149, 149));
        let g = ConvGeometry::new("t", &[1, 8, 17, 17], &[1, 7, 8, 8], 1, (0, 3), false).unwrap();
        assert_eq!((g.ho, g.wo), (17, 17));
        let g = ConvGeometry::same(&[2, 4, 9, 11], &[5, 5, 4, 6]).unwrap();
        assert_eq!((g.ho, g.wo, g.pad_h), (9, 11, 2));
        assert!(g.is_same(5) && !g.is_same(3));
        let g = ConvGeometry::up2(&[1, 4, 3, 5], &[4, 4, 4, 8]).unwrap();
        assert_eq!((g.ho, g.wo), (6, 10));
        assert!(g.is_up2() && !g.is_down2());
        let g = ConvGeometry::down2(&[1, 4, 6, 10], &[4, 4, 4, 8]).unwrap();
        assert_eq!((g.ho, g.wo), (3, 5));
        assert!(g.is_down2());
    }

    #[test]
    fn bad_shapes_name_the_op() {
        let e = ConvGeometry::same(&[1, 4, 8, 8], &[2, 2, 4, 8]).unwrap_err();
        assert!(e.to_string().starts_with("conv2d:"), "{e}");
        let e = ConvGeometry::down2(&[1, 4, 7, 8], &[4, 4, 4, 8]).unwrap_err();
        assert!(e.to_string().contains("even"), "{e}");
        let e = ConvGeometry::new("c", &[1, 4, 2, 2], &[5, 5, 4, 8], 1, (0, 0), false).unwrap_err();
        assert!(e.to_string().contains("no output"), "{e}");
        let e = ConvGeometry::new("c", &[1, 3, 8, 8], &[3, 3, 4, 8], 1, (1, 1), false).unwrap_err();
        assert!(e.to_string().contains("channels"), "{e}");
    }
}
