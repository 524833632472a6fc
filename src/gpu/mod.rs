//! GPU runtime: context (policy and adapter capabilities), kernels and their parameter
//! blocks, shader templates, buffer pool, recorder, tensors. Knows nothing of the ops.

pub mod context;
pub mod kernel;
mod pipeline_cache;
pub mod policy;
pub mod pool;
pub mod recorder;
pub(crate) mod signal;
pub mod template;
pub mod tensor;

pub use context::{list_adapters, AdapterChoice, AdapterSummary, Gpu, GpuStats};
pub use kernel::{Access, Kernel, KernelParams, ParamsLayout, WG};
pub use policy::{AdapterCaps, Policy, Precision};
pub use tensor::Tensor;
