//! Command-line front end of the `stylegan` binary.

pub mod bench;
pub mod devices;
