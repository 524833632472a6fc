//! Compute pipelines, compiled once per kernel key and kept for the context's life; through
//! the on-disk cache ([`DiskCache`]) where the device has one, so a later run skips the
//! driver's compilation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::gpu::health::pop_error_scope;
use crate::gpu::kernel::{Access, Kernel};
use crate::gpu::pipeline_cache::DiskCache;
use crate::gpu::policy::Policy;

pub(crate) struct Pipeline {
    /// Unique within the context: the recorder's bind-group cache keys on it.
    pub id: u64,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub n_buffers: usize,
}

pub(crate) struct Pipelines {
    compiled: RefCell<HashMap<String, Rc<Pipeline>>>,
    /// `Policy::dump_wgsl`.
    dump_wgsl: Option<PathBuf>,
    pub disk: Option<DiskCache>,
}

impl Pipelines {
    /// An empty set, with the on-disk cache `policy` asks for where the device (opened with
    /// `features`) keeps one.
    pub fn new(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        features: wgpu::Features,
        policy: &Policy,
    ) -> Pipelines {
        let disk = match &policy.pipeline_cache {
            Some(dir) if features.contains(wgpu::Features::PIPELINE_CACHE) => {
                DiskCache::open(device, info, dir)
            }
            _ => None,
        };
        Pipelines {
            compiled: RefCell::new(HashMap::new()),
            dump_wgsl: policy.dump_wgsl.clone(),
            disk,
        }
    }

    /// The pipeline for `kernel`, compiled on first use; a compilation error names the kernel.
    pub fn get(&self, device: &wgpu::Device, kernel: &Kernel) -> Result<Rc<Pipeline>> {
        if let Some(p) = self.compiled.borrow().get(kernel.key.as_ref()) {
            return Ok(p.clone());
        }
        if let Some(dir) = &self.dump_wgsl {
            dump_wgsl(dir, kernel)?;
        }
        let cache = self.disk.as_ref();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let (pipeline, layout) = compile(device, kernel, cache.map(|c| &c.cache));
        if let Some(c) = cache {
            c.compiled.set(c.compiled.get() + 1);
        }
        if let Some(e) = pop_error_scope(scope) {
            return Err(Error::Device(format!(
                "compiling kernel {}: {e}",
                kernel.key
            )));
        }
        let id = self.compiled.borrow().len() as u64 + 1;
        let p = Rc::new(Pipeline {
            id,
            pipeline,
            layout,
            n_buffers: kernel.bindings.len(),
        });
        self.compiled
            .borrow_mut()
            .insert(kernel.key.to_string(), p.clone());
        Ok(p)
    }
}

/// `kernel`'s pipeline and bind-group layout: binding 0 the parameter block at a dynamic
/// offset into the step's arena, then the storage buffers in order.
fn compile(
    dev: &wgpu::Device,
    kernel: &Kernel,
    cache: Option<&wgpu::PipelineCache>,
) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
    let buffer = |binding: u32, ty, has_dynamic_offset| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset,
            min_binding_size: None,
        },
        count: None,
    };
    let mut entries = vec![buffer(0, wgpu::BufferBindingType::Uniform, true)];
    for (i, a) in kernel.bindings.iter().enumerate() {
        let read_only = matches!(a, Access::Read);
        let ty = wgpu::BufferBindingType::Storage { read_only };
        entries.push(buffer(i as u32 + 1, ty, false));
    }
    let layout = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(&kernel.key),
        entries: &entries,
    });
    let pl = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(&kernel.key),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(&kernel.key),
        source: wgpu::ShaderSource::Wgsl(kernel.source.clone()),
    });
    let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(&kernel.key),
        layout: Some(&pl),
        module: &module,
        entry_point: Some(kernel.entry),
        compilation_options: Default::default(),
        cache,
    });
    (pipeline, layout)
}

/// Writes `kernel`'s WGSL as compiled to `dir/<key>.wgsl` (`Policy::dump_wgsl`), the key made
/// a file name (`adain.wgsl:main` -> `adain.main.wgsl`, `conv_subgroup:3x3:n4:...` ->
/// `conv_subgroup_3x3_n4_....wgsl`), so every kernel, rendered ones included, gets its own file.
fn dump_wgsl(dir: &Path, kernel: &Kernel) -> Result<()> {
    let name: String = kernel
        .key
        .replace(".wgsl:", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{name}.wgsl"));
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    std::fs::write(&path, kernel.source.as_bytes()).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}
