//! Data-parallel training: one process per GPU, as PyTorch's DDP and stylegan3 do it.
//!
//! Every rank holds the whole networks and optimizer state and computes its share of the
//! global minibatch; after each phase's backward pass the gradients (with the phase's loss
//! sums and the sum of w for `dlatent_avg`) are flattened into one buffer, summed over the
//! ranks in one all-reduce, and every rank takes the same optimizer step. Ranks therefore never
//! drift apart, and only rank 0 writes anything.
//!
//! The step does not depend on the number of ranks: each image of the global minibatch draws
//! its latents and noise from its own stream keyed by (step, global index), and a rank's images
//! are whole minibatch-stddev groups of the global batch ([`shard_rows`]), so N processes with
//! `B / N` images compute what one process with `B` computes, up to the order of the sums.
//!
//! [`Collective`] is the transport: [`Solo`] for one process, [`LocalGroup`] for ranks that are
//! threads of one process (tests), and `MpiWorld` (feature `mpi`) over MPI.

#[cfg(feature = "mpi")]
mod mpi;
#[cfg(feature = "mpi")]
pub use self::mpi::{local_rank_from_env, MpiWorld};

use std::sync::{Arc, Barrier, Mutex};

use crate::error::{Error, Result};

/// The collective operations data-parallel training needs. Every rank must make the same
/// calls in the same order (they block until all ranks have made them).
pub trait Collective {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Replaces `buf` on every rank with the element-wise sum of all ranks' `buf`.
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()>;
    /// Rank 0's `bytes` on every rank (the others' `bytes` are replaced, whatever their size).
    fn broadcast(&self, bytes: &mut Vec<u8>) -> Result<()>;
    /// Every rank's `local` concatenated in rank order, on every rank (lengths may differ).
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>>;

    /// Ends every rank of the job at once (after an error on this one, whose peers would
    /// otherwise wait in their next collective forever). A single process just exits.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }

    /// True on every rank when `flag` is true on any rank (a stop request, say).
    fn any(&self, flag: bool) -> Result<bool> {
        let mut v = [flag as u8 as f32];
        self.all_reduce_sum(&mut v)?;
        Ok(v[0] > 0.0)
    }
}

/// One process: every collective is the identity.
#[derive(Clone, Copy, Debug, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn broadcast(&self, _: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>> {
        Ok(local.to_vec())
    }
}

/// Ranks that are threads of one process, meeting at a barrier: the same collectives as MPI
/// without MPI, so the distributed step can be tested in any build. Sums run in rank order.
pub struct LocalGroup {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<u8>>>,
}

impl LocalGroup {
    /// `n` connected ranks; hand one to each thread.
    pub fn new(n: usize) -> Vec<LocalGroup> {
        let shared = Arc::new(Shared {
            barrier: Barrier::new(n),
            slots: Mutex::new(vec![Vec::new(); n]),
        });
        (0..n)
            .map(|rank| LocalGroup {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    /// Publishes `mine`, waits for every rank's, and returns them all in rank order.
    fn exchange(&self, mine: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        let lock = || {
            self.shared
                .slots
                .lock()
                .map_err(|_| Error::Device("a rank of the local group panicked".into()))
        };
        lock()?[self.rank] = mine;
        self.shared.barrier.wait();
        let all = lock()?.clone();
        // Nobody may publish the next exchange before everyone has read this one.
        self.shared.barrier.wait();
        Ok(all)
    }
}

impl Collective for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.slots.lock().map(|s| s.len()).unwrap_or(0)
    }
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()> {
        let all = self.exchange(bytemuck::cast_slice(buf).to_vec())?;
        buf.fill(0.0);
        for other in &all {
            let v = floats(other);
            if v.len() != buf.len() {
                return Err(Error::Device(format!(
                    "all-reduce: ranks sent {} and {} values",
                    v.len(),
                    buf.len()
                )));
            }
            for (b, x) in buf.iter_mut().zip(&v) {
                *b += x;
            }
        }
        Ok(())
    }
    fn broadcast(&self, bytes: &mut Vec<u8>) -> Result<()> {
        let all = self.exchange(std::mem::take(bytes))?;
        *bytes = all.into_iter().next().unwrap_or_default();
        Ok(())
    }
    fn all_gather(&self, local: &[f32]) -> Result<Vec<f32>> {
        let all = self.exchange(bytemuck::cast_slice(local).to_vec())?;
        Ok(all.iter().flat_map(|b| floats(b)).collect())
    }
}

/// f32 values from bytes of any alignment.
fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The global indices of rank `rank`'s images in a minibatch of `batch` split over `size`
/// ranks, in the order the rank holds them, and whether the split is exact (the same
/// minibatch-stddev groups as one process with the whole batch).
///
/// Discriminator group `m` of a batch of `B` holds images `m, m + M, m + 2M, ...` with
/// `M = B / G` (the official reshape to `[G, M, ...]`). A rank gets `M / size` whole groups and
/// lists them as its own minibatch would group them, so its local groups are global groups.
/// When a rank's share cannot hold whole groups (`B / size` not a multiple of `G`), ranks take
/// contiguous slices and group within them, as the official multi-GPU code does: the run is
/// valid, but the step then depends on the number of ranks. A share above the group size that
/// is not a multiple of it is an error (the discriminator could not group it).
pub fn shard_rows(
    batch: usize,
    group: usize,
    rank: usize,
    size: usize,
) -> Result<(Vec<usize>, bool)> {
    if size == 0 || rank >= size {
        return Err(Error::Invalid(format!("rank {rank} of {size} ranks")));
    }
    if batch == 0 || !batch.is_multiple_of(size) {
        return Err(Error::Invalid(format!(
            "--batch {batch}: the global minibatch must split evenly over {size} ranks"
        )));
    }
    let local = batch / size;
    let g = group.min(batch).max(1);
    if local < g {
        return Ok(((rank * local..(rank + 1) * local).collect(), size == 1));
    }
    if !local.is_multiple_of(g) {
        return Err(Error::Invalid(format!(
            "--batch {batch} over {size} ranks: {local} images per rank are not whole \
             minibatch-stddev groups of {g}; give each rank a multiple of {g} images (or fewer \
             than {g})"
        )));
    }
    Ok((
        group_rows(batch, g, rank * (local / g), (rank + 1) * (local / g)),
        true,
    ))
}

/// Images of the minibatch-stddev groups `m0..m1` of a batch of `batch` in groups of `g`,
/// listed `[m0..m1] + 0M, [m0..m1] + 1M, ...` (`M = batch / g`): a batch made of these rows in
/// this order forms exactly these groups again.
pub fn group_rows(batch: usize, g: usize, m0: usize, m1: usize) -> Vec<usize> {
    let m = batch / g;
    (0..g)
        .flat_map(|i| (m0..m1).map(move |j| j + i * m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_whole_groups_and_cover_the_batch() {
        let (r0, exact) = shard_rows(8, 4, 0, 2).unwrap();
        assert!(exact);
        assert_eq!(r0, [0, 2, 4, 6]);
        assert_eq!(shard_rows(8, 4, 1, 2).unwrap().0, [1, 3, 5, 7]);
        let mut all: Vec<usize> = (0..4)
            .flat_map(|r| shard_rows(32, 4, r, 4).unwrap().0)
            .collect();
        all.sort();
        assert_eq!(all, (0..32).collect::<Vec<_>>());
        assert_eq!(shard_rows(8, 4, 0, 1).unwrap(), ((0..8).collect(), true));
        // 2 images per rank cannot hold a group of 4: contiguous, not exact.
        assert_eq!(shard_rows(4, 4, 1, 2).unwrap(), (vec![2, 3], false));
        assert!(shard_rows(6, 4, 0, 4).is_err());
        // 6 images per rank: more than a group of 4, not whole groups.
        let e = shard_rows(12, 4, 0, 2).unwrap_err().to_string();
        assert!(e.contains("multiple of 4"), "{e}");
    }

    #[test]
    fn the_local_group_sums_broadcasts_and_gathers() {
        let ranks = LocalGroup::new(3);
        let out: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = ranks
                .iter()
                .map(|c| {
                    s.spawn(move || {
                        let mut v = [c.rank() as f32, 1.0];
                        c.all_reduce_sum(&mut v).unwrap();
                        let mut b = if c.rank() == 0 { vec![7, 8, 9] } else { vec![] };
                        c.broadcast(&mut b).unwrap();
                        let g = c.all_gather(&vec![c.rank() as f32; c.rank() + 1]).unwrap();
                        (v, b, g, c.any(c.rank() == 2).unwrap())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (v, b, g, any) in out {
            assert_eq!(v, [3.0, 3.0]);
            assert_eq!(b, [7, 8, 9]);
            assert_eq!(g, [0.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
            assert!(any);
        }
    }
}
