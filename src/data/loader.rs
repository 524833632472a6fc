//! The background loader: a thread that assembles batches in stream order, a few ahead of
//! the training loop, so that decoding overlaps with GPU work.
//!
//! Batches are made from the deterministic stream in `order`, which is why a loader can be
//! started at any position to resume a run.

use super::dataset::{Dataset, DatasetInfo, Storage};
use super::decode::decode_many;
use super::order::{flip_at, stream_indices};
use super::source::Entry;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A minibatch: images `[n, C, R, R]` in [-1, 1] and, where the dataset has labels, the class
/// of each.
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Option<Vec<u32>>,
}

/// Produces shuffled batches on a background thread, `prefetch` batches ahead.
pub struct Loader {
    rx: Option<Receiver<Result<Batch>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    batch: usize,
    /// Images of each minibatch this loader hands out (the whole `batch` unless sharded).
    local: usize,
    consumed: u64,
    info: DatasetInfo,
}

impl Loader {
    /// A loader starting at the beginning of epoch 0.
    pub fn new(ds: Arc<Dataset>, batch: usize, seed: u64, mirror: bool, prefetch: usize) -> Loader {
        Self::new_at(ds, batch, seed, mirror, prefetch, 0)
    }

    /// A loader whose first batch starts at stream position `start` (images consumed so far by
    /// an earlier run with the same seed): its batches equal those the earlier loader would
    /// have produced next.
    pub fn new_at(
        ds: Arc<Dataset>,
        batch: usize,
        seed: u64,
        mirror: bool,
        prefetch: usize,
        start: u64,
    ) -> Loader {
        Self::sharded(
            ds,
            batch,
            (0..batch).collect(),
            seed,
            mirror,
            prefetch,
            start,
        )
    }

    /// A loader of one rank's share of minibatches of `batch` images: the images at rows
    /// `rows` of each minibatch of the stream (`dist::shard_rows`), in that order, so
    /// the ranks together see exactly the single-process stream. Starts at stream position
    /// `start`, as `new_at`.
    pub fn sharded(
        ds: Arc<Dataset>,
        batch: usize,
        rows: Vec<usize>,
        seed: u64,
        mirror: bool,
        prefetch: usize,
        start: u64,
    ) -> Loader {
        let local = rows.len();
        let (tx, rx) = sync_channel(prefetch.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let info = ds.info().clone();
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("stylegan-data".into())
            .spawn(move || {
                let mut pos = start;
                while !stop2.load(Ordering::Relaxed) {
                    let positions: Vec<u64> = rows.iter().map(|&r| pos + r as u64).collect();
                    let r = make_batch(&ds, &positions, seed, mirror);
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        break;
                    }
                    pos += batch as u64;
                }
            })
            .ok();
        Loader {
            rx: Some(rx),
            stop,
            thread,
            batch,
            local,
            consumed: start,
            info,
        }
    }

    /// The next `[batch, C, R, R]` batch (sharded: this rank's rows of it), values
    /// `x / 127.5 - 1` in [-1, 1].
    pub fn next_batch(&mut self) -> Result<Vec<f32>> {
        Ok(self.next_labeled()?.images)
    }

    /// `next_batch` with the class of each image where the dataset has labels.
    pub fn next_labeled(&mut self) -> Result<Batch> {
        if self.batch == 0 || self.local == 0 {
            return Err(Error::Invalid(
                "data loader batch size must be at least 1".into(),
            ));
        }
        let rx = self.rx.as_ref().expect("receiver lives until drop");
        match rx.recv() {
            Ok(Ok(b)) => {
                self.consumed += self.batch as u64;
                Ok(b)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Invalid(
                "data loader thread has stopped (after an earlier error)".into(),
            )),
        }
    }

    /// Images handed out so far, counting the `start` given to [`Loader::new_at`]: pass this
    /// back to `new_at` to resume.
    pub fn position(&self) -> u64 {
        self.consumed
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }

    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks a thread waiting in `send`.
        self.rx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The images at stream positions `positions`, as `x / 127.5 - 1`, and their labels.
fn make_batch(ds: &Dataset, positions: &[u64], seed: u64, mirror: bool) -> Result<Batch> {
    let batch = positions.len();
    if batch == 0 {
        return Err(Error::Invalid(
            "data loader batch size must be at least 1".into(),
        ));
    }
    let info = ds.info();
    let (c, r) = (info.channels, info.resolution);
    let n = c * r * r;
    let idx = stream_indices(info.len, seed, positions);
    let labels = ds.labels().map(|l| idx.iter().map(|&i| l[i]).collect());
    let lazy_bytes;
    let images: Vec<&[u8]> = match &ds.storage {
        Storage::Memory(d) => idx.iter().map(|&i| &d[i * n..(i + 1) * n]).collect(),
        Storage::Lazy(entries) => {
            let refs: Vec<&Entry> = idx.iter().map(|&i| &entries[i]).collect();
            let mut buf = vec![0u8; batch * n];
            decode_many(&refs, info, ds.fit, &mut buf)?;
            lazy_bytes = buf;
            lazy_bytes.chunks(n).collect()
        }
    };
    let mut out = vec![0f32; batch * n];
    for ((img, dst), &pos) in images.iter().zip(out.chunks_mut(n)).zip(positions) {
        let flip = mirror && flip_at(seed, pos);
        for (srow, drow) in img.chunks(r).zip(dst.chunks_mut(r)) {
            if flip {
                for (d, s) in drow.iter_mut().zip(srow.iter().rev()) {
                    *d = *s as f32 / 127.5 - 1.0;
                }
            } else {
                for (d, s) in drow.iter_mut().zip(srow) {
                    *d = *s as f32 / 127.5 - 1.0;
                }
            }
        }
    }
    Ok(Batch {
        images: out,
        labels,
    })
}
