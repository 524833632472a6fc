//! Training: losses, optimizer, the training loop, datasets and snapshots.

pub mod optim;
