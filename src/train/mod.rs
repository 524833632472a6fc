//! Training: losses, optimizer, the training loop, datasets and snapshots.

pub mod classifier;
pub mod data;
pub mod dist;
pub mod inspect;
pub mod loss;
pub mod optim;
pub mod trainer;
