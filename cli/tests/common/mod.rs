//! The library's test harness (`tests/common` at the workspace root: the GPU context, random
//! inputs, temporary folders, snapshot comparisons), plus running this crate's binary.
#![allow(dead_code, unused_imports)]

#[path = "../../../tests/common/mod.rs"]
mod shared;
pub use shared::*;

pub mod process {
    pub use super::shared::process::*;
    use std::path::Path;

    /// Our binary, untuned (see `command`).
    pub fn stylegan_command() -> std::process::Command {
        command(env!("CARGO_BIN_EXE_stylegan"))
    }

    /// Runs our binary in `dir`; panics with its output when it fails.
    pub fn stylegan(dir: &Path, args: &[&str]) -> String {
        run(dir, env!("CARGO_BIN_EXE_stylegan"), args)
    }
}
