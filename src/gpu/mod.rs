//! GPU runtime: context, kernels, buffer pool, recorder, tensors.

pub mod context;
pub mod kernel;
pub mod pool;
pub mod recorder;
pub mod tensor;

pub use context::{list_adapters, AdapterChoice, AdapterSummary, Gpu, GpuStats};
pub use kernel::{Access, Kernel, Params, WG};
pub use tensor::Tensor;
