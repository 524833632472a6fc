//! Training: the loop ([`run`]), the trainer and its step ([`trainer`]), the schedule,
//! losses, the optimizer, and what a run writes ([`outdir`]).

pub mod classifier;
pub mod classifier_run;
pub mod config;
pub mod inspect;
pub mod loss;
pub mod optim;
pub mod outdir;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use config::TrainConfig;
pub use trainer::{TrainState, Trainer};
