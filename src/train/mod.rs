//! Training: losses, optimizer, the training loop and snapshots.

pub mod classifier;
pub mod inspect;
pub mod loss;
pub mod optim;
pub mod trainer;
