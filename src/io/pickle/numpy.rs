//! numpy arrays, scalars and dtypes in a pickle: interpreting numpy's constructors and
//! materializing the final [`NdArray`].
//!
//! numpy pickles an array as `_reconstruct(ndarray, ...)` followed by a `BUILD` whose state
//! carries shape, dtype, order and raw bytes (or, with protocol 5, one `_frombuffer` call), and
//! a dtype as `dtype('f4', ...)` with a `BUILD` giving its byte order. Lengths are checked
//! against shape and dtype as soon as the data arrives, so a lying header fails at its own
//! opcode. Byte swapping and the Fortran-to-C reorder wait until the tree is built, when the
//! data is owned and no longer shared, so each array is converted once; users of [`NdArray`]
//! only ever see little-endian, row-major data.

use super::arena::{Node, H};
use super::globals::Callable;
use super::machine::Machine;
use crate::error::Result;
use crate::io::dtype::{ByteOrder, DType};

/// A numpy array with its data converted to little-endian, C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NdArray {
    pub dtype: DType,
    /// Empty for numpy scalars and 0-d arrays.
    pub shape: Vec<usize>,
    /// `product(shape) * dtype.itemsize()` bytes.
    pub data: Vec<u8>,
}

impl NdArray {
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.itemsize()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements as f32 (weights are stored as f32 whatever the file used; f8 and i8 round).
    pub fn to_f32(&self) -> Vec<f32> {
        self.dtype.le_to_f32(&self.data)
    }
}

/// The numpy callables a pickle may name (see the whitelist in `globals`): the constructors
/// numpy's `__reduce__` writes for arrays, scalars and dtypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NumpyFn {
    /// `numpy.core.multiarray._reconstruct`: an empty array, filled in by `BUILD`.
    Reconstruct,
    /// `numpy.ndarray`, only ever an argument to `_reconstruct`.
    NdArrayType,
    /// `numpy.dtype`.
    DtypeType,
    /// `numpy.core.multiarray.scalar`: a numpy scalar from its dtype and raw bytes.
    Scalar,
    /// `numpy.core.numeric._frombuffer`: protocol 5's array from a buffer.
    FromBuffer,
}

impl Machine<'_> {
    /// REDUCE of one of numpy's constructors.
    pub(super) fn call_numpy(&mut self, f: NumpyFn, qual: &str, args: &[H]) -> Result<Node> {
        match f {
            NumpyFn::Reconstruct => {
                let ok = matches!(
                    args.first().map(|&a| &self.nodes[a]),
                    Some(Node::Global {
                        kind: Callable::Numpy(NumpyFn::NdArrayType),
                        ..
                    })
                );
                if !ok || args.len() != 3 {
                    return self.err(format!(
                        "{qual} should be called as (numpy.ndarray, shape, typecode)"
                    ));
                }
                Ok(Node::PendingArray)
            }
            NumpyFn::NdArrayType => self.err("numpy.ndarray cannot be called directly"),
            NumpyFn::DtypeType => {
                let Some(&a) = args.first() else {
                    return self.err("numpy.dtype needs a type string");
                };
                let s = self.str_node(a, "numpy.dtype argument")?;
                match DType::parse(&s) {
                    Ok((dtype, order)) => Ok(Node::Dtype {
                        dtype,
                        big_endian: order == ByteOrder::Big,
                    }),
                    Err(_) => self.err(format!(
                        "unsupported numpy dtype '{s}' (numeric types only)"
                    )),
                }
            }
            NumpyFn::Scalar => {
                let [dt, raw] = args else {
                    return self.err(format!("{qual} should be called as (dtype, bytes)"));
                };
                let (dtype, big_endian) = self.dtype_node(*dt)?;
                let data = self.bytes_node(*raw, "numpy scalar data")?;
                self.check_len(data, dtype, &[])?;
                Ok(Node::Array {
                    dtype,
                    big_endian,
                    shape: Vec::new(),
                    fortran: false,
                    data,
                })
            }
            NumpyFn::FromBuffer => {
                let [buf, dt, shape, order] = args else {
                    return self.err(format!(
                        "{qual} should be called as (buffer, dtype, shape, order)"
                    ));
                };
                let (dtype, big_endian) = self.dtype_node(*dt)?;
                let shape = self.shape_node(*shape)?;
                let fortran = match self.str_node(*order, "array order")?.as_str() {
                    "C" => false,
                    "F" => true,
                    o => return self.err(format!("unknown array order '{o}'")),
                };
                let data = self.bytes_node(*buf, "array data")?;
                self.check_len(data, dtype, &shape)?;
                Ok(Node::Array {
                    dtype,
                    big_endian,
                    shape,
                    fortran,
                    data,
                })
            }
        }
    }

    /// `BUILD` on an array from `_reconstruct`: gives it its shape, dtype and data.
    pub(super) fn build_array(&mut self, inst: H, state: H) -> Result<()> {
        // numpy's ndarray.__setstate__: (version, shape, dtype, is_fortran, rawdata),
        // or the same without version from very old numpy.
        let st = self.seq_node(state, "numpy array state")?;
        let st = match st.len() {
            5 => &st[1..],
            4 => &st[..],
            n => return self.err(format!("numpy array state has {n} items, expected 5")),
        };
        let shape = self.shape_node(st[0])?;
        let (dtype, big_endian) = self.dtype_node(st[1])?;
        let fortran = match &self.nodes[st[2]] {
            Node::Bool(b) => *b,
            Node::Int(i) => *i != 0,
            n => return self.err(format!("is_fortran should be a bool, found {}", n.kind())),
        };
        let data = self.bytes_node(st[3], "numpy array data")?;
        self.check_len(data, dtype, &shape)?;
        self.replace(
            inst,
            Node::Array {
                dtype,
                big_endian,
                shape,
                fortran,
                data,
            },
        )
    }

    /// `BUILD` on a dtype: its byte order; structured and sub-array dtypes are refused here.
    pub(super) fn build_dtype(&mut self, inst: H, dtype: DType, state: H) -> Result<()> {
        // numpy's dtype.__setstate__: (version, byteorder, subarray, names, fields,
        // elsize, alignment, flags[, metadata]).
        let st = self.seq_node(state, "numpy dtype state")?;
        if st.len() < 2 {
            return self.err("numpy dtype state is too short");
        }
        let order = self.str_node(st[1], "dtype byte order")?;
        let big_endian = match order.as_str() {
            ">" => true,
            "<" | "|" | "=" => false,
            o => return self.err(format!("unknown byte order '{o}'")),
        };
        for &h in st.iter().skip(2).take(3) {
            if !matches!(self.nodes[h], Node::None) {
                return self.err("structured or sub-array numpy dtypes are not supported");
            }
        }
        self.nodes[inst] = Node::Dtype { dtype, big_endian };
        Ok(())
    }

    fn dtype_node(&self, h: H) -> Result<(DType, bool)> {
        match &self.nodes[h] {
            Node::Dtype { dtype, big_endian } => Ok((*dtype, *big_endian)),
            n => self.err(format!("expected a numpy dtype, found {}", n.kind())),
        }
    }

    fn shape_node(&self, h: H) -> Result<Vec<usize>> {
        let dims = self.seq_node(h, "array shape")?;
        let mut shape = Vec::with_capacity(dims.len());
        for d in dims {
            let v = self.int_node(d, "array dimension")?;
            if v < 0 {
                return self.err(format!("negative array dimension {v}"));
            }
            shape.push(v as usize);
        }
        Ok(shape)
    }

    fn check_len(&self, data: H, dtype: DType, shape: &[usize]) -> Result<()> {
        let Node::Bytes(b) = &self.nodes[data] else {
            return self.err("array data should be bytes");
        };
        let n = shape
            .iter()
            .try_fold(dtype.itemsize(), |a, &d| a.checked_mul(d));
        match n {
            Some(n) if n == b.len() => Ok(()),
            _ => self.err(format!(
                "array of shape {shape:?} and dtype {} needs {} bytes, the pickle holds {}",
                dtype.name(),
                n.map_or("too many".to_string(), |n| n.to_string()),
                b.len()
            )),
        }
    }
}

/// The final array from an arena node's parts: elements swapped to little-endian and
/// reordered to row-major, so that users of [`NdArray`] never see either variant.
pub(super) fn ndarray(
    dtype: DType,
    big_endian: bool,
    shape: Vec<usize>,
    fortran: bool,
    mut bytes: Vec<u8>,
) -> NdArray {
    let size = dtype.itemsize();
    if big_endian && size > 1 {
        bytes.chunks_exact_mut(size).for_each(|c| c.reverse());
    }
    if fortran && shape.len() > 1 {
        bytes = fortran_to_c(&bytes, &shape, size);
    }
    NdArray {
        dtype,
        shape,
        data: bytes,
    }
}

/// Reorders column-major bytes into row-major.
fn fortran_to_c(src: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = vec![0u8; src.len()];
    // Fortran strides in elements: the first axis varies fastest.
    let mut fstride = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        fstride[k] = fstride[k - 1] * shape[k - 1];
    }
    let mut idx = vec![0usize; shape.len()];
    for c in 0..n {
        let f: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        out[c * size..(c + 1) * size].copy_from_slice(&src[f * size..(f + 1) * size]);
        // Advance the row-major multi-index.
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}
