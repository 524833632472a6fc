//! Reading and writing weights, arrays and images.

pub mod atomic;
pub mod model;
pub mod safetensors;

pub mod images;
pub mod npy;
pub mod official;
pub mod pickle;
