//! Buffer pool: storage buffers are recycled by size class so a training step allocates nothing
//! after the first one. A `Lease` returns its buffer to the pool when the last tensor using it
//! is dropped; commands already recorded keep their own handle, and since the GPU runs them in
//! order, reusing the buffer for a later command in the same step is safe.

use std::collections::HashMap;
use std::rc::Weak;

use crate::gpu::context::GpuInner;

#[derive(Clone, Debug)]
pub struct Buf {
    pub id: u64,
    pub buffer: wgpu::Buffer,
    pub size: u64,
}

pub struct Pool {
    free: HashMap<u64, Vec<Buf>>,
    next_id: u64,
    pub max_buffer: u64,
    pub live_bytes: u64,
    pub peak_bytes: u64,
    pub allocated_bytes: u64,
}

/// Rounds up to a size class: multiples of 256 bytes, then four classes per power of two.
pub fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256).div_ceil(256) * 256;
    if b <= 4096 {
        return b;
    }
    let top = 63 - b.leading_zeros() as u64;
    let quarter = 1u64 << (top - 2);
    b.div_ceil(quarter) * quarter
}

impl Pool {
    pub fn new(max_buffer: u64) -> Self {
        Pool {
            free: HashMap::new(),
            next_id: 1,
            max_buffer,
            live_bytes: 0,
            peak_bytes: 0,
            allocated_bytes: 0,
        }
    }

    pub fn take(&mut self, class: u64) -> Option<Buf> {
        let b = self.free.get_mut(&class)?.pop()?;
        self.live_bytes += b.size;
        self.peak_bytes = self.peak_bytes.max(self.live_bytes);
        Some(b)
    }

    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn register_new(&mut self, size: u64) {
        self.allocated_bytes += size;
        self.live_bytes += size;
        self.peak_bytes = self.peak_bytes.max(self.live_bytes);
    }

    pub fn give_back(&mut self, b: Buf) {
        self.live_bytes -= b.size;
        self.free.entry(b.size).or_default().push(b);
    }

    /// Drops every idle buffer (e.g. after a resolution change in progressive training).
    pub fn trim(&mut self) {
        for (_, v) in self.free.drain() {
            for b in v {
                self.allocated_bytes -= b.size;
                b.buffer.destroy();
            }
        }
    }
}

/// A buffer on loan from the pool.
pub struct Lease {
    pub buf: Buf,
    pub(crate) owner: Weak<GpuInner>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(g) = self.owner.upgrade() {
            if let Ok(mut p) = g.pool.try_borrow_mut() {
                p.give_back(self.buf.clone());
            }
        }
    }
}
