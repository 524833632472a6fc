//! GPU runtime: the context ([`Gpu`], built once: adapter choice, device and its capabilities,
//! pipelines, health, profiling, statistics), kernels and their parameter blocks, shader
//! templates, buffer pool, recorder, tensors, and the tuning of kernel choice by measurement
//! (`tune`). Knows nothing of the ops.

mod adapter;
pub mod context;
mod device;
mod health;
pub mod kernel;
mod pipeline;
mod pipeline_cache;
pub mod policy;
pub mod pool;
mod profile;
pub mod recorder;
pub(crate) mod signal;
mod stats;
pub mod template;
pub mod tensor;
pub mod tune;

pub use adapter::{list_adapters, AdapterChoice, AdapterSummary};
pub use context::Gpu;
pub use device::required_limits;
pub use kernel::{Access, Kernel, KernelParams, ParamsLayout, SEQ_WG, WG};
pub use policy::{AdapterCaps, Policy, Precision, Tune};
pub use stats::GpuStats;
pub use tensor::Tensor;
