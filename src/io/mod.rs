//! Reading and writing weights, arrays and images.

pub mod atomic;
pub mod model;
pub mod safetensors;
