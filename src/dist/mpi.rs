//! [`Collective`] over MPI (Open MPI or MPICH, through the `mpi` crate): `mpirun -np N`
//! starts one process per GPU. MPI's default error handler aborts the whole job when a
//! collective fails, so a rank that dies ends every rank (mpirun names the one that died).

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::Collective;
use crate::error::{Error, Result};

/// MPI counts are `int`: longer buffers move in pieces of this many elements.
const CHUNK: usize = 1 << 28;

/// `MPI_COMM_WORLD` of an initialized MPI environment (finalized on drop).
pub struct MpiWorld {
    world: SimpleCommunicator,
    _universe: Universe,
}

impl MpiWorld {
    /// Initializes MPI. `None` when it was already initialized in this process.
    pub fn init() -> Option<MpiWorld> {
        let universe = mpi::initialize()?;
        Some(MpiWorld {
            world: universe.world(),
            _universe: universe,
        })
    }
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()> {
        let mut out = vec![0f32; buf.len().min(CHUNK)];
        for piece in buf.chunks_mut(CHUNK) {
            let out = &mut out[..piece.len()];
            self.world
                .all_reduce_into(&piece[..], &mut out[..], SystemOperation::sum());
            piece.copy_from_slice(out);
        }
        Ok(())
    }
    fn broadcast(&self, bytes: &mut Vec<u8>) -> Result<()> {
        let root = self.world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        for piece in bytes.chunks_mut(CHUNK) {
            root.broadcast_into(piece);
        }
        Ok(())
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>> {
        let n = self.size();
        let mut lens = vec![0u64; n];
        self.world
            .all_gather_into(&(local.len() as u64), &mut lens[..]);
        let total: u64 = lens.iter().sum();
        if lens.iter().any(|&l| l as usize > CHUNK) || total as usize > i32::MAX as usize {
            return Err(Error::Invalid(format!(
                "all-gather of {total} values is larger than one MPI call moves"
            )));
        }
        let counts: Vec<i32> = lens.iter().map(|&l| l as i32).collect();
        let displs: Vec<i32> = counts
            .iter()
            .scan(0, |acc, &c| {
                let d = *acc;
                *acc += c;
                Some(d)
            })
            .collect();
        let mut out = vec![0f32; total as usize];
        let mut partition =
            mpi::datatype::PartitionMut::new(&mut out[..], &counts[..], &displs[..]);
        self.world.all_gather_varcount_into(local, &mut partition);
        Ok(out)
    }
}

/// This process's rank among the ranks on its node, from the launcher's environment (Open MPI,
/// MPICH/Hydra, Slurm); each rank takes the adapter of that index.
pub fn local_rank_from_env() -> Option<usize> {
    [
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MPI_LOCALRANKID",
        "MV2_COMM_WORLD_LOCAL_RANK",
        "SLURM_LOCALID",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok()?.parse().ok())
}
