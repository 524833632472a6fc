//! f32 tensors in GPU memory with a shape. Cloning is cheap (the buffer is shared); a reshape is
//! a view. All work is recorded into the context's step and runs at the next flush.

use std::rc::Rc;

use crate::error::{Error, Result};
use crate::gpu::context::Gpu;
use crate::gpu::pool::Lease;
use crate::gpu::recorder::Cmd;
use crate::gpu::signal::Signal;

/// An f32 tensor in GPU memory. Work on it is recorded and runs at the next read-back or
/// `Gpu::flush`, as one submission.
///
/// ```
/// use stylegan_wgpu::{Gpu, Tensor};
/// # fn main() -> stylegan_wgpu::Result<()> {
/// let gpu = Gpu::new()?;
/// let t = Tensor::from_slice(&gpu, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(t.shape(), [2, 3]);
/// assert_eq!(t.to_vec()?[4], 5.0); // waits for the GPU
/// // A shape that does not hold the data is an error naming both.
/// assert!(Tensor::from_slice(&gpu, &[4], &[1.0]).is_err());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) gpu: Gpu,
    pub(crate) lease: Rc<Lease>,
    /// Where the tensor starts in its buffer, in f32 values: 0 except for the views of a flat
    /// buffer (`view`), which kernels see from their start as they see any tensor.
    offset: usize,
    shape: Vec<usize>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?}", self.shape)
    }
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Tensor {
    /// An uninitialised tensor (every element will be written by the kernel that produces it).
    pub fn empty(gpu: &Gpu, shape: &[usize]) -> Result<Tensor> {
        let lease = gpu.alloc(numel(shape), &format!("tensor {shape:?}"))?;
        Ok(Tensor {
            gpu: gpu.clone(),
            lease,
            offset: 0,
            shape: shape.to_vec(),
        })
    }

    pub fn zeros(gpu: &Gpu, shape: &[usize]) -> Result<Tensor> {
        let t = Tensor::empty(gpu, shape)?;
        gpu.inner.rec.borrow_mut().push(Cmd::Clear {
            dst: t.lease.buf.buffer.clone(),
            off: 0,
            size: t.lease.buf.size,
        });
        Ok(t)
    }

    /// Uploads `data`. The copy is recorded in the step (not `queue.write_buffer`), so it is
    /// ordered with the dispatches around it even when the buffer was just recycled.
    pub fn from_slice(gpu: &Gpu, shape: &[usize], data: &[f32]) -> Result<Tensor> {
        let mut t = Tensor::from_slices(gpu, &[shape], data)?;
        Ok(t.pop().expect("one shape, one tensor"))
    }

    /// Uploads `data` as consecutive tensors of `shapes` through one staging buffer (what a
    /// gradient all-reduce hands back: one flat buffer for a whole network).
    pub fn from_slices(gpu: &Gpu, shapes: &[&[usize]], data: &[f32]) -> Result<Vec<Tensor>> {
        let total: usize = shapes.iter().map(|s| numel(s)).sum();
        if total != data.len() {
            return Err(Error::Invalid(format!(
                "upload: shapes {shapes:?} hold {total} values, {} given",
                data.len()
            )));
        }
        let tensors = shapes
            .iter()
            .map(|s| Tensor::empty(gpu, s))
            .collect::<Result<Vec<_>>>()?;
        if total > 0 {
            use wgpu::util::DeviceExt;
            let staging = gpu
                .inner
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("upload"),
                    contents: bytemuck::cast_slice(data),
                    usage: wgpu::BufferUsages::COPY_SRC,
                });
            let mut rec = gpu.inner.rec.borrow_mut();
            let mut off = 0u64;
            for t in tensors.iter().filter(|t| t.numel() > 0) {
                let size = (t.numel() * 4) as u64;
                rec.push(Cmd::Copy {
                    src: staging.clone(),
                    src_off: off,
                    dst: t.lease.buf.buffer.clone(),
                    dst_off: t.byte_offset(),
                    size,
                });
                off += size;
            }
        }
        Ok(tensors)
    }

    pub fn scalar(gpu: &Gpu, v: f32) -> Result<Tensor> {
        Tensor::from_slice(gpu, &[1], &[v])
    }

    /// Flushes the step, waits for it and reads the values back (blocking; in a browser use
    /// [`Tensor::to_vec_async`]).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        Tensor::read_concat(&self.gpu, &[self])
    }

    /// Flushes the step and reads the values back once the GPU has them, without blocking the
    /// thread (what a web page must do).
    pub async fn to_vec_async(&self) -> Result<Vec<f32>> {
        read_concat_async(&self.gpu, &[self]).await
    }

    /// The values of `tensors`, one after another, in one flush and one read-back (what a
    /// gradient all-reduce sends: one flat buffer for a whole network). Blocking.
    pub fn read_concat(gpu: &Gpu, tensors: &[&Tensor]) -> Result<Vec<f32>> {
        #[cfg(target_arch = "wasm32")]
        {
            let _ = (gpu, tensors);
            Err(Error::Device(
                "a blocking read-back cannot run in a browser: use to_vec_async".into(),
            ))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            pollster::block_on(read_concat_async(gpu, tensors))
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// A view with another shape of the same size.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return Err(Error::Shape {
                op: "reshape",
                msg: format!("cannot view {:?} as {:?}", self.shape, shape),
            });
        }
        Ok(Tensor {
            gpu: self.gpu.clone(),
            lease: self.lease.clone(),
            offset: self.offset,
            shape: shape.to_vec(),
        })
    }

    /// True when both tensors live in the same buffer.
    pub fn same_buffer(&self, other: &Tensor) -> bool {
        self.lease.buf.id == other.lease.buf.id
    }

    /// Where the tensor starts in its buffer, in bytes (0 unless it is a `view`).
    pub(crate) fn byte_offset(&self) -> u64 {
        (self.offset * 4) as u64
    }

    /// A tensor of `shape` over values `offset..` of this one, sharing its buffer: how one flat
    /// buffer holds many tensors (a network's parameters, updated by one dispatch). Kernels
    /// bind it from its start, so `offset` must be a multiple of the adapter's storage-binding
    /// alignment (`view_align`).
    pub(crate) fn view(&self, offset: usize, shape: &[usize]) -> Result<Tensor> {
        let align = view_align(&self.gpu);
        let start = self.offset + offset;
        if offset + numel(shape) > self.numel() || !start.is_multiple_of(align) {
            return Err(Error::Shape {
                op: "view",
                msg: format!(
                    "{shape:?} at {offset} of {:?} (views start at multiples of {align} values)",
                    self.shape
                ),
            });
        }
        Ok(Tensor {
            gpu: self.gpu.clone(),
            lease: self.lease.clone(),
            offset: start,
            shape: shape.to_vec(),
        })
    }

    /// Values `offset..` of this tensor as a tensor of `shape`: a `view` where the offset
    /// allows one, else a copy of them (recorded in the step, not a dispatch).
    pub(crate) fn part(&self, offset: usize, shape: &[usize]) -> Result<Tensor> {
        if (self.offset + offset).is_multiple_of(view_align(&self.gpu)) {
            return self.view(offset, shape);
        }
        if offset + numel(shape) > self.numel() {
            return Err(Error::Shape {
                op: "part",
                msg: format!("{shape:?} at {offset} of {:?}", self.shape),
            });
        }
        let t = Tensor::empty(&self.gpu, shape)?;
        if t.numel() > 0 {
            self.gpu.inner.rec.borrow_mut().push(Cmd::Copy {
                src: self.lease.buf.buffer.clone(),
                src_off: ((self.offset + offset) * 4) as u64,
                dst: t.lease.buf.buffer.clone(),
                dst_off: 0,
                size: (t.numel() * 4) as u64,
            });
        }
        Ok(t)
    }

    /// Records a copy of `src`'s values into this tensor (same number of values, another
    /// buffer), ordered with the dispatches around it.
    pub(crate) fn copy_from(&self, src: &Tensor) -> Result<()> {
        if src.numel() != self.numel() || self.same_buffer(src) {
            return Err(Error::Shape {
                op: "copy",
                msg: format!(
                    "{:?} into {:?} (same size, different buffers)",
                    src.shape, self.shape
                ),
            });
        }
        if self.numel() > 0 {
            self.gpu.inner.rec.borrow_mut().push(Cmd::Copy {
                src: src.lease.buf.buffer.clone(),
                src_off: src.byte_offset(),
                dst: self.lease.buf.buffer.clone(),
                dst_off: self.byte_offset(),
                size: (self.numel() * 4) as u64,
            });
        }
        Ok(())
    }
}

/// The granularity of `Tensor::view` offsets, in f32 values: the adapter's alignment of
/// storage-buffer binding offsets (256 bytes on most).
pub(crate) fn view_align(gpu: &Gpu) -> usize {
    (gpu.limits().min_storage_buffer_offset_alignment as usize / 4).max(1)
}

/// Copies `tensors` into one staging buffer, flushes, and reads it once the GPU has it; natively
/// this waits in a device poll, in a browser the mapping promise resolves on its own.
async fn read_concat_async(gpu: &Gpu, tensors: &[&Tensor]) -> Result<Vec<f32>> {
    let n: usize = tensors.iter().map(|t| t.numel()).sum();
    if n == 0 {
        return Ok(vec![]);
    }
    if let Some(t) = tensors
        .iter()
        .find(|t| !Rc::ptr_eq(&t.gpu.inner, &gpu.inner))
    {
        return Err(Error::Invalid(format!(
            "read-back: {t:?} belongs to another GPU context"
        )));
    }
    let size = (n * 4) as u64;
    let staging = gpu.inner.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("download"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    {
        let mut rec = gpu.inner.rec.borrow_mut();
        let mut off = 0u64;
        for t in tensors.iter().filter(|t| t.numel() > 0) {
            let bytes = (t.numel() * 4) as u64;
            rec.push(Cmd::Copy {
                src: t.lease.buf.buffer.clone(),
                src_off: t.byte_offset(),
                dst: staging.clone(),
                dst_off: off,
                size: bytes,
            });
            off += bytes;
        }
    }
    gpu.flush()?;
    let mapped = Signal::default();
    let done = mapped.clone();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |r| done.finish(r));
    #[cfg(not(target_arch = "wasm32"))]
    gpu.inner
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Device(format!("waiting for a download: {e}")))?;
    let r = mapped.await;
    gpu.check_health()?;
    r.map_err(|e| Error::Device(format!("mapping a download: {e}")))?;
    let view = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| Error::Device(format!("reading a download: {e}")))?;
    let out = bytemuck::cast_slice::<u8, f32>(&view).to_vec();
    drop(view);
    staging.unmap();
    Ok(out)
}
