//! Bilinear resizing exactly like `torch.nn.functional.interpolate(x, (ho, wo),
//! mode="bilinear", align_corners=False, antialias=False)` (pytorch-fid resizes every image to
//! 299x299 with it), up or down.
//!
//! It is separable: along each axis, output `q` reads inputs `i0`, `i1` with weights `1 - l`,
//! `l`, where (in f32, as PyTorch computes it) `src = (q + 0.5) * (in / out) - 0.5` clamped
//! below at 0, `i0 = floor(src)`, `i1 = min(i0 + 1, in - 1)`, `l = src - i0`. Each axis is a
//! sparse table applied by one kernel (`shaders/resize/resize.wgsl`); the backward applies the
//! transposed tables with the same kernel, and their backward the tables again, so the op
//! differentiates any number of times.

use std::rc::Rc;

use crate::error::{shape_err, Result};
use crate::gpu::kernel::u32p;
use crate::gpu::{Gpu, Tensor};
use crate::ops::elementwise::groups;
use crate::ops::MAX_LOOP;
use crate::tape::Var;
use crate::{kernel, kernel_params};

kernel_params! {
    /// Parameters of `shaders/resize/resize.wgsl`: `n` outputs `[outer, lout, inner]` from
    /// `[outer, lin, inner]`; the table's index and weight sections start at `idx_base`,
    /// `w_base`.
    pub struct ResizeParams { n: u32, lout: u32, lin: u32, inner: u32, idx_base: u32, w_base: u32 }
}

kernel!(
    RESIZE_AXIS,
    "resize/resize.wgsl",
    "main",
    ResizeParams,
    [Read, Read, ReadWrite]
);

/// This op's kernels (`ops::kernels` gathers every op's for the shader tests).
pub fn kernels() -> Result<Vec<crate::gpu::Kernel>> {
    Ok(vec![RESIZE_AXIS])
}

/// PyTorch's bilinear source taps for output `q` of `lout` from `lin` (align_corners False,
/// no scale factor given): `(i0, i1, 1 - l, l)`, all index arithmetic in f32 as in ATen's
/// `area_pixel_compute_scale` / `area_pixel_compute_source_index`.
pub fn bilinear_taps(q: usize, lin: usize, lout: usize) -> (usize, usize, f32, f32) {
    let scale = lin as f32 / lout as f32;
    let src = (scale * (q as f32 + 0.5) - 0.5).max(0.0);
    let i0 = (src as usize).min(lin - 1);
    let i1 = (i0 + 1).min(lin - 1);
    let l = (src - i0 as f32).clamp(0.0, 1.0);
    (i0, i1, 1.0 - l, l)
}

/// A sparse `[lout, lin]` matrix in CSR form.
struct Table {
    lout: usize,
    lin: usize,
    offsets: Vec<usize>,
    idx: Vec<usize>,
    w: Vec<f32>,
}

impl Table {
    fn bilinear(lin: usize, lout: usize) -> Table {
        let mut t = Table {
            lout,
            lin,
            offsets: vec![0],
            idx: Vec::with_capacity(2 * lout),
            w: Vec::with_capacity(2 * lout),
        };
        for q in 0..lout {
            let (i0, i1, w0, w1) = bilinear_taps(q, lin, lout);
            t.idx.extend([i0, i1]);
            t.w.extend([w0, w1]);
            t.offsets.push(t.idx.len());
        }
        t
    }

    /// The transpose (`[lin, lout]`), each row's entries in ascending output order.
    fn transpose(&self) -> Table {
        let mut rows: Vec<Vec<(usize, f32)>> = vec![Vec::new(); self.lin];
        for q in 0..self.lout {
            for e in self.offsets[q]..self.offsets[q + 1] {
                rows[self.idx[e]].push((q, self.w[e]));
            }
        }
        let mut t = Table {
            lout: self.lin,
            lin: self.lout,
            offsets: vec![0],
            idx: Vec::new(),
            w: Vec::new(),
        };
        for r in rows {
            for (q, w) in r {
                t.idx.push(q);
                t.w.push(w);
            }
            t.offsets.push(t.idx.len());
        }
        t
    }

    fn longest_row(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|p| p[1] - p[0])
            .max()
            .unwrap_or(0)
    }

    /// `[offsets | idx | w]` as one f32 tensor (the integers are exact: sizes are far below
    /// 2^24 entries).
    fn upload(&self, g: &Gpu) -> Result<GpuTable> {
        let mut data: Vec<f32> = self.offsets.iter().map(|&v| v as f32).collect();
        data.extend(self.idx.iter().map(|&v| v as f32));
        data.extend_from_slice(&self.w);
        let n = data.len();
        Ok(GpuTable {
            lout: self.lout,
            lin: self.lin,
            idx_base: self.offsets.len(),
            w_base: self.offsets.len() + self.idx.len(),
            t: Tensor::from_slice(g, &[n], &data)?,
        })
    }
}

struct GpuTable {
    lout: usize,
    lin: usize,
    idx_base: usize,
    w_base: usize,
    t: Tensor,
}

/// A table and its transpose, shared by an op and its backward.
struct Pair {
    fwd: GpuTable,
    bwd: GpuTable,
}

/// Applies `table` along axis 2 (H) or 3 (W) of an NCHW tensor.
fn apply_t(x: &Tensor, table: &GpuTable, axis: usize) -> Result<Tensor> {
    let s = x.shape();
    let inner: usize = s[axis + 1..].iter().product();
    let mut shape = s.to_vec();
    shape[axis] = table.lout;
    let y = Tensor::empty(x.gpu(), &shape)?;
    let n = y.numel();
    if n == 0 {
        return Ok(y);
    }
    debug_assert_eq!(s[axis], table.lin);
    let p = ResizeParams {
        n: u32p(n),
        lout: u32p(table.lout),
        lin: u32p(table.lin),
        inner: u32p(inner),
        idx_base: u32p(table.idx_base),
        w_base: u32p(table.w_base),
    };
    x.gpu()
        .dispatch(&RESIZE_AXIS, &[&table.t, x, &y], &p, groups(n))?;
    Ok(y)
}

fn apply(x: &Var, tables: Rc<Pair>, axis: usize, transposed: bool) -> Result<Var> {
    let table = if transposed { &tables.bwd } else { &tables.fwd };
    let y = apply_t(x.value(), table, axis)?;
    Ok(Var::from_op(y, "resize_bilinear", &[x], move |g, _| {
        Ok(vec![Some(apply(g, tables.clone(), axis, !transposed)?)])
    }))
}

fn check(x: &[usize], ho: usize, wo: usize) -> Result<[usize; 4]> {
    let op = "resize_bilinear";
    let &[n, c, h, w] = x else {
        return shape_err(
            op,
            format!("expects an NCHW tensor [N, C, H, W], got {x:?}"),
        );
    };
    if h == 0 || w == 0 || ho == 0 || wo == 0 {
        return shape_err(
            op,
            format!("input {x:?} and output size {ho}x{wo} must be non-empty"),
        );
    }
    if [h, w, ho, wo].iter().any(|&v| v >= 1 << 22)
        || n * c * h.max(ho) * w.max(wo) >= u32::MAX as usize
    {
        return shape_err(op, format!("input {x:?} or output {ho}x{wo} is too large"));
    }
    // The backward's rows: an input pixel receives about 2 * out / in outputs.
    for (lin, lout) in [(h, ho), (w, wo)] {
        if 2 * lout.div_ceil(lin) + 2 > MAX_LOOP {
            return shape_err(
                op,
                format!(
                    "upscaling {lin} to {lout} is more than {}x",
                    MAX_LOOP / 2 - 1
                ),
            );
        }
    }
    Ok([n, c, h, w])
}

fn pair(g: &Gpu, lin: usize, lout: usize) -> Result<Rc<Pair>> {
    let t = Table::bilinear(lin, lout);
    let tt = t.transpose();
    debug_assert!(tt.longest_row() <= MAX_LOOP);
    Ok(Rc::new(Pair {
        fwd: t.upload(g)?,
        bwd: tt.upload(g)?,
    }))
}

/// The axes to resample, in order (the smaller intermediate first), with their tables.
fn plan(g: &Gpu, [_, _, h, w]: [usize; 4], ho: usize, wo: usize) -> Result<Vec<(usize, Rc<Pair>)>> {
    let mut steps = Vec::new();
    let h_first = ho * w <= h * wo;
    for axis in if h_first { [2, 3] } else { [3, 2] } {
        let (lin, lout) = if axis == 2 { (h, ho) } else { (w, wo) };
        if lin != lout {
            steps.push((axis, pair(g, lin, lout)?));
        }
    }
    Ok(steps)
}

/// Bilinear resizing of a tensor (see [`resize_bilinear`]).
pub fn resize_bilinear_t(x: &Tensor, ho: usize, wo: usize) -> Result<Tensor> {
    let dims = check(x.shape(), ho, wo)?;
    let mut cur = x.clone();
    for (axis, t) in plan(x.gpu(), dims, ho, wo)? {
        cur = apply_t(&cur, &t.fwd, axis)?;
    }
    Ok(cur)
}

/// `[N,C,H,W] -> [N,C,ho,wo]` exactly like `F.interpolate(x, size=(ho, wo), mode="bilinear",
/// align_corners=False, antialias=False)`, up- or downscaling (no antialiasing: downscaling
/// reads 2 taps per axis). Linear; its backward (the transposed interpolation) differentiates
/// again, any number of times. A same-size axis is left as is.
pub fn resize_bilinear(x: &Var, ho: usize, wo: usize) -> Result<Var> {
    let dims = check(x.shape(), ho, wo)?;
    let mut cur = x.clone();
    for (axis, t) in plan(x.value().gpu(), dims, ho, wo)? {
        cur = apply(&cur, t, axis, false)?;
    }
    Ok(cur)
}
