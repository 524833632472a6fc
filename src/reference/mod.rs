//! Plain-Rust reference of every op in f64: slow, obvious, and what the GPU kernels are tested
//! against (values directly, gradients through central finite differences). One module per op,
//! named as in `ops` (`reference::pixel_norm` is the reference of `ops::pixel_norm`), then the
//! networks built from them.

pub mod adain;
pub mod concat;
pub mod conv;
pub mod dense;
pub mod elementwise;
pub mod epilogue;
pub mod mbstd;
pub mod pixel_norm;
pub mod pool;
pub mod reduce;
pub mod resample;
pub mod resize;
pub mod roll;
pub mod softmax;

pub mod classifier;
pub mod discriminator;
pub mod generator;
pub mod lpips;

/// The normalization epsilon of the official network (pixel norm, instance norm, minibatch
/// stddev).
pub const EPS: f64 = 1e-8;

/// A dense f64 array, row-major (NCHW for images, HWIO for conv weights).
#[derive(Clone, Debug, PartialEq)]
pub struct Arr {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Arr {
    pub fn new(shape: &[usize], data: Vec<f64>) -> Arr {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "Arr::new: shape {shape:?}"
        );
        Arr {
            shape: shape.to_vec(),
            data,
        }
    }

    pub fn zeros(shape: &[usize]) -> Arr {
        Arr::new(shape, vec![0.0; shape.iter().product()])
    }

    pub fn from_f32(shape: &[usize], data: &[f32]) -> Arr {
        Arr::new(shape, data.iter().map(|&v| v as f64).collect())
    }

    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    pub fn map(&self, f: impl Fn(f64) -> f64) -> Arr {
        Arr::new(&self.shape, self.data.iter().map(|&v| f(v)).collect())
    }

    pub fn zip(&self, o: &Arr, f: impl Fn(f64, f64) -> f64) -> Arr {
        assert_eq!(self.shape, o.shape, "Arr::zip");
        Arr::new(
            &self.shape,
            self.data
                .iter()
                .zip(&o.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        )
    }

    pub fn reshape(&self, shape: &[usize]) -> Arr {
        Arr::new(shape, self.data.clone())
    }

    /// Σ self·o (used for random projections in gradient checks).
    pub fn dot(&self, o: &Arr) -> f64 {
        self.data.iter().zip(&o.data).map(|(a, b)| a * b).sum()
    }

    /// Index of a 4-D array `[a, b, c, d]`.
    pub fn at4(&self, a: usize, b: usize, c: usize, d: usize) -> f64 {
        let s = &self.shape;
        self.data[((a * s[1] + b) * s[2] + c) * s[3] + d]
    }
}
