//! Buffer pool: storage buffers are recycled by size class so a training step allocates nothing
//! after the first one. A `Lease` returns its buffer to the pool when the last tensor using it
//! is dropped; commands already recorded keep their own handle, and since the GPU runs them in
//! order, reusing the buffer for a later command in the same step is safe.

use std::collections::HashMap;
use std::rc::{Rc, Weak};

use crate::error::{Error, Result};
use crate::gpu::context::GpuInner;
use crate::gpu::health::pop_error_scope;

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

    /// Forgets the peak: it becomes what is live now.
    pub fn reset_peak(&mut self) {
        self.peak_bytes = self.live_bytes;
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

/// A buffer of `g`'s pool with room for `n` f32 values (contents undefined): an idle one of its
/// size class, else a new one. `what` names the tensor in an out-of-memory error.
pub(crate) fn lease(g: &Rc<GpuInner>, n: usize, what: &str) -> Result<Rc<Lease>> {
    let bytes = (n.max(1) * 4) as u64;
    let mut pool = g.pool.borrow_mut();
    // A size class may round past the limit although the tensor itself fits.
    let class = size_class(bytes).min(pool.max_buffer);
    if bytes > pool.max_buffer {
        return Err(Error::OutOfMemory {
            bytes,
            what: format!(
                "{what}: exceeds the adapter's largest storage binding ({} bytes)",
                pool.max_buffer
            ),
        });
    }
    let buf = match pool.take(class) {
        Some(b) => b,
        None => {
            let id = pool.new_id();
            drop(pool);
            let scope = g.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
            let buffer = g.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: class,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            if let Some(e) = pop_error_scope(scope) {
                return Err(Error::OutOfMemory {
                    bytes: class,
                    what: format!("{what}: {e}"),
                });
            }
            g.pool.borrow_mut().register_new(class);
            Buf {
                id,
                buffer,
                size: class,
            }
        }
    };
    Ok(Rc::new(Lease {
        buf,
        owner: Rc::downgrade(g),
    }))
}
