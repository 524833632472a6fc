//! Records a whole step (dispatches, uploads, copies) and submits it as one command buffer with
//! one compute pass per run of dispatches. Parameters of every dispatch live in one uniform
//! arena written once per submit and bound with dynamic offsets, so bind groups depend only on
//! the buffers and are cached across steps.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::Result;
use crate::gpu::context::GpuInner;
use crate::gpu::pipeline::Pipeline;
use crate::gpu::pool::Buf;

/// Bytes reserved per dispatch in the parameter arena (the dynamic-offset alignment).
pub const PARAM_SLOT: u64 = 256;

pub(crate) enum Cmd {
    Dispatch {
        pipe: Rc<Pipeline>,
        /// Each binding's buffer and the byte offset it is bound at (views of a flat buffer).
        bufs: Vec<(Buf, u64)>,
        offset: u32,
        groups: [u32; 3],
    },
    Copy {
        src: wgpu::Buffer,
        src_off: u64,
        dst: wgpu::Buffer,
        dst_off: u64,
        size: u64,
    },
    Clear {
        dst: wgpu::Buffer,
        off: u64,
        size: u64,
    },
}

/// A bind group's identity: pipeline, parameter arena, and each binding's buffer and offset.
type BindKey = (u64, u64, Vec<(u64, u64)>);

#[derive(Default)]
pub struct Recorder {
    cmds: Vec<Cmd>,
    params: Vec<u8>,
    arena: Option<(u64, wgpu::Buffer, u64)>,
    arena_gen: u64,
    bind_cache: HashMap<BindKey, wgpu::BindGroup>,
    /// Submissions so far: tells a [`Mark`] whether what it saw is still pending.
    submits: u64,
}

/// Where the recording stood when a call began (`Recorder::mark`), to drop what the call
/// recorded if it fails (`Recorder::rollback`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    submits: u64,
    cmds: usize,
    params: usize,
}

impl Recorder {
    pub(crate) fn push_params(&mut self, bytes: &[u8]) -> u32 {
        let off = self.params.len();
        assert!(
            bytes.len() <= PARAM_SLOT as usize,
            "kernel parameter block too large"
        );
        self.params.extend_from_slice(bytes);
        self.params.resize(off + PARAM_SLOT as usize, 0);
        off as u32
    }

    pub(crate) fn push(&mut self, c: Cmd) {
        self.cmds.push(c);
    }

    pub(crate) fn clear_bind_cache(&mut self) {
        self.bind_cache.clear();
    }

    pub fn pending(&self) -> usize {
        self.cmds.len()
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark {
            submits: self.submits,
            cmds: self.cmds.len(),
            params: self.params.len(),
        }
    }

    /// Drops what was recorded since `m`. Work recorded before `m` stays; if a submission
    /// happened since, everything pending now was recorded after `m`.
    pub(crate) fn rollback(&mut self, m: Mark) {
        let (cmds, params) = if m.submits == self.submits {
            (m.cmds, m.params)
        } else {
            (0, 0)
        };
        self.cmds.truncate(cmds);
        self.params.truncate(params);
    }

    /// Submits the recorded step; false when there was nothing to submit.
    pub(crate) fn submit(&mut self, g: &GpuInner) -> Result<bool> {
        if self.cmds.is_empty() {
            return Ok(false);
        }
        let need = (self.params.len() as u64).max(PARAM_SLOT);
        if self.arena.as_ref().is_none_or(|a| a.2 < need) {
            let cap = need.next_power_of_two();
            self.arena_gen += 1;
            let buf = g.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("param arena"),
                size: cap,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            self.arena = Some((self.arena_gen, buf, cap));
            self.bind_cache.clear();
        }
        let (arena_id, arena, _) = self.arena.clone().expect("arena");
        if !self.params.is_empty() {
            g.queue.write_buffer(&arena, 0, &self.params);
        }
        if self.bind_cache.len() > 8192 {
            self.bind_cache.clear();
        }
        let mut enc = g
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("step"),
            });
        let cmds = std::mem::take(&mut self.cmds);
        let mut i = 0;
        while i < cmds.len() {
            match &cmds[i] {
                Cmd::Dispatch { .. } => {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    while let Some(Cmd::Dispatch {
                        pipe,
                        bufs,
                        offset,
                        groups,
                    }) = cmds.get(i)
                    {
                        let key = (
                            pipe.id,
                            arena_id,
                            bufs.iter().map(|(b, off)| (b.id, *off)).collect::<Vec<_>>(),
                        );
                        let bg = self.bind_cache.entry(key).or_insert_with(|| {
                            let mut entries = vec![wgpu::BindGroupEntry {
                                binding: 0,
                                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                    buffer: &arena,
                                    offset: 0,
                                    size: wgpu::BufferSize::new(PARAM_SLOT),
                                }),
                            }];
                            for (j, (b, off)) in bufs.iter().enumerate() {
                                entries.push(wgpu::BindGroupEntry {
                                    binding: j as u32 + 1,
                                    // A view is bound from its start to the buffer's end.
                                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                        buffer: &b.buffer,
                                        offset: *off,
                                        size: None,
                                    }),
                                });
                            }
                            g.device.create_bind_group(&wgpu::BindGroupDescriptor {
                                label: None,
                                layout: &pipe.layout,
                                entries: &entries,
                            })
                        });
                        pass.set_pipeline(&pipe.pipeline);
                        pass.set_bind_group(0, &*bg, &[*offset]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        i += 1;
                    }
                }
                Cmd::Copy {
                    src,
                    src_off,
                    dst,
                    dst_off,
                    size,
                } => {
                    enc.copy_buffer_to_buffer(src, *src_off, dst, *dst_off, *size);
                    i += 1;
                }
                Cmd::Clear { dst, off, size } => {
                    enc.clear_buffer(dst, *off, Some(*size));
                    i += 1;
                }
            }
        }
        g.queue.submit([enc.finish()]);
        self.params.clear();
        self.submits += 1;
        Ok(true)
    }
}
