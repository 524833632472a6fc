//! The ranks of a run: MPI's world when `mpirun` (or another MPI launcher) started this
//! process and the binary was built with `--features mpi`, else one process.

use std::rc::Rc;

use anyhow::Result;
use stylegan_wgpu::dist::{Collective, Solo};

/// The number of ranks the launcher says this job has, if an MPI launcher started us.
fn launched_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.parse().ok())
}

/// The collective of this run and this process's node-local rank (which picks its adapter).
pub fn world() -> Result<(Rc<dyn Collective>, usize)> {
    #[cfg(feature = "mpi")]
    if launched_size().is_some() {
        let w = stylegan_wgpu::dist::MpiWorld::init()
            .ok_or_else(|| anyhow::anyhow!("MPI was already initialized in this process"))?;
        let local = stylegan_wgpu::dist::local_rank_from_env().unwrap_or(w.rank());
        return Ok((Rc::new(w), local));
    }
    if let Some(n) = launched_size().filter(|&n| n > 1) {
        anyhow::bail!(
            "started as one of {n} MPI ranks, but this stylegan was built without MPI: build it \
             with `cargo build --release -p stylegan-cli --features mpi` (needs an MPI library and libclang)"
        );
    }
    Ok((Rc::new(Solo), 0))
}

/// Writes `line` and a newline to stderr in one `write`: ranks share the launcher's stderr
/// pipe, and `eprintln!` writes a formatted line in pieces that other ranks' lines split.
pub fn say_atomic(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}
