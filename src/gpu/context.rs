//! The GPU context: adapter choice, device with the adapter's real limits, the pipeline cache,
//! the buffer pool and the command recorder. Built once; ops only record dispatches into it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::kernel::{Access, Kernel};
use crate::gpu::pipeline_cache::DiskCache;
use crate::gpu::policy::{AdapterCaps, Policy, Precision};
use crate::gpu::pool::Pool;
use crate::gpu::recorder::Recorder;

/// How to pick an adapter. Empty fields mean "best available".
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    /// `vulkan`, `metal`, `dx12` or `gl`.
    pub backend: Option<String>,
    /// An index into the adapter list of `stylegan devices`, or a substring of the adapter name.
    pub adapter: Option<String>,
}

impl AdapterChoice {
    /// Reads `STYLEGAN_BACKEND` and `STYLEGAN_ADAPTER`.
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|s| !s.trim().is_empty());
        AdapterChoice {
            backend: get("STYLEGAN_BACKEND"),
            adapter: get("STYLEGAN_ADAPTER"),
        }
    }

    /// Overrides the environment with explicit (CLI flag) values where given.
    pub fn or(self, backend: Option<String>, adapter: Option<String>) -> Self {
        AdapterChoice {
            backend: backend.or(self.backend),
            adapter: adapter.or(self.adapter),
        }
    }
}

/// One adapter as `stylegan devices` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub index: usize,
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub subgroups: bool,
    pub subgroup_size: (u32, u32),
    /// Cooperative-matrix configurations as `MxNxK ab->cr` (empty: none), and whether one is the
    /// 16x16x16 f16 -> f32 kind `STYLEGAN_F16=1` uses.
    pub coop_matrix: Vec<String>,
    pub coop_f16: bool,
}

fn parse_backends(name: Option<&str>) -> Result<wgpu::Backends> {
    Ok(match name.map(|s| s.to_ascii_lowercase()) {
        None => wgpu::Backends::PRIMARY,
        Some(s) => match s.as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "metal" | "mtl" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown backend '{other}' (STYLEGAN_BACKEND / --backend): use vulkan, metal, dx12 or gl"
                )))
            }
        },
    })
}

/// Whether `a` offers what the f16 cooperative-matrix conv needs (`ops::conv::coop`).
fn has_coop_f16(a: &wgpu::Adapter) -> bool {
    let coop = wgpu::Features::SHADER_F16 | wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
    a.features().contains(coop)
        && a.cooperative_matrix_properties().iter().any(|p| {
            (p.m_size, p.n_size, p.k_size) == (16, 16, 16)
                && p.ab_type == wgpu::CooperativeScalarType::F16
                && p.cr_type == wgpu::CooperativeScalarType::F32
        })
}

fn summarize(index: usize, a: &wgpu::Adapter) -> AdapterSummary {
    let info = a.get_info();
    let coop_matrix = if a
        .features()
        .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
    {
        a.cooperative_matrix_properties()
            .iter()
            .map(|p| {
                format!(
                    "{}x{}x{} {:?}->{:?}",
                    p.m_size, p.n_size, p.k_size, p.ab_type, p.cr_type
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    AdapterSummary {
        index,
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
        subgroups: a.features().contains(wgpu::Features::SUBGROUP),
        subgroup_size: (info.subgroup_min_size, info.subgroup_max_size),
        coop_matrix,
        coop_f16: has_coop_f16(a),
    }
}

/// The error an error scope caught, if any. Natively it waits for the scope; in a browser a
/// scope resolves only after control returns to the page, so it is not waited for there and
/// errors arrive through the uncaptured-error handler instead ([`Gpu::flush`] reports them).
pub(crate) fn pop_error_scope(scope: wgpu::ErrorScopeGuard) -> Option<wgpu::Error> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(scope.pop())
    }
    #[cfg(target_arch = "wasm32")]
    {
        drop(scope.pop());
        None
    }
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Lists every adapter for the chosen backend(s), in the order `STYLEGAN_ADAPTER=<index>` uses.
pub fn list_adapters(backend: Option<&str>) -> Result<Vec<AdapterSummary>> {
    let backends = parse_backends(backend)?;
    let adapters = pollster::block_on(instance(backends).enumerate_adapters(backends));
    Ok(adapters
        .iter()
        .enumerate()
        .map(|(i, a)| summarize(i, a))
        .collect())
}

/// Writes `kernel`'s WGSL as compiled to `dir/<key>.wgsl` (`Policy::dump_wgsl`), the key made
/// a file name (`adain.wgsl:main` -> `adain.main.wgsl`, `conv_subgroup:3x3:n4:...` ->
/// `conv_subgroup_3x3_n4_....wgsl`), so every kernel, rendered ones included, gets its own file.
fn dump_wgsl(dir: &std::path::Path, kernel: &Kernel) -> Result<()> {
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

fn rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

pub(crate) struct GpuInner {
    /// Kept alive with the device: on WebGPU, dropping the instance loses the device.
    _instance: Option<wgpu::Instance>,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pipelines: RefCell<HashMap<String, Rc<Pipeline>>>,
    pub pool: RefCell<Pool>,
    pub rec: RefCell<Recorder>,
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<Mutex<Option<String>>>,
    pub dispatches: Cell<u64>,
    pub submits: Cell<u64>,
    pub policy: Policy,
    pub caps: AdapterCaps,
    /// Outcomes of one-time self-checks of kernels, by name (see `Gpu::self_check`).
    checks: RefCell<HashMap<&'static str, bool>>,
    /// How often each kind of work ran, by name (see `Gpu::tally`).
    tallies: RefCell<HashMap<&'static str, u64>>,
    /// Per-kernel (dispatches, seconds) when profiling (`Policy::profile`).
    pub profile: Option<RefCell<HashMap<String, (u64, f64)>>>,
    /// Compiled pipelines kept across runs, where the adapter allows (`Policy::pipeline_cache`).
    disk_cache: Option<DiskCache>,
}

impl Drop for GpuInner {
    fn drop(&mut self) {
        if let Some(c) = &self.disk_cache {
            if let Err(e) = c.save() {
                eprintln!("note: the pipeline cache was not saved ({e}); the next run compiles its shaders again");
            }
        }
    }
}

pub(crate) struct Pipeline {
    pub id: u64,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub n_buffers: usize,
}

/// Counters of the context (see `Gpu::stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    /// Kernel dispatches recorded.
    pub dispatches: u64,
    /// Command buffers submitted.
    pub submits: u64,
    /// Bytes held by live tensors now, and at most since the last `reset_peak_memory`.
    pub live_bytes: u64,
    pub peak_bytes: u64,
    /// Bytes of GPU buffers the pool owns (live + idle).
    pub allocated_bytes: u64,
}

/// A handle to the GPU context, built once; clones share it. Ops record their dispatches into
/// it and it submits a whole step as one command buffer.
///
/// ```
/// use stylegan_wgpu::gpu::{AdapterChoice, Policy, Precision};
/// use stylegan_wgpu::Gpu;
/// # fn main() -> stylegan_wgpu::Result<()> {
/// let gpu = Gpu::new()?; // the adapter and policy from the environment
/// println!("{}", gpu.describe());
/// // Or an explicit policy, here with the f16 opt-in (used only where the adapter has it):
/// let f16 = Policy { f16: true, ..Policy::default() };
/// let gpu = Gpu::with_policy(&AdapterChoice::from_env(), f16)?;
/// assert_eq!(gpu.inference_precision(), Precision::F16);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Gpu {
    pub(crate) inner: Rc<GpuInner>,
}

impl Gpu {
    /// Opens the adapter chosen by `STYLEGAN_BACKEND` / `STYLEGAN_ADAPTER`, else the best one,
    /// under the policy of the environment (`Policy::from_env`).
    pub fn new() -> Result<Gpu> {
        Gpu::with_choice(&AdapterChoice::from_env())
    }

    /// Opens the adapter `choice` names, under the policy of the environment.
    pub fn with_choice(choice: &AdapterChoice) -> Result<Gpu> {
        Gpu::with_policy(choice, Policy::from_env())
    }

    /// Opens the adapter `choice` names under `policy` (the environment is not read).
    pub fn with_policy(choice: &AdapterChoice, policy: Policy) -> Result<Gpu> {
        let mut backends = parse_backends(choice.backend.as_deref())?;
        let mut adapters = pollster::block_on(instance(backends).enumerate_adapters(backends));
        if adapters.is_empty() && choice.backend.is_none() {
            // No Vulkan/Metal/DX12 adapter: fall back to OpenGL rather than fail outright.
            backends = wgpu::Backends::GL;
            adapters = pollster::block_on(instance(backends).enumerate_adapters(backends));
        }
        let hint =
            "; install a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers libvulkan1), \
                    or check STYLEGAN_BACKEND / STYLEGAN_ADAPTER";
        if adapters.is_empty() {
            return Err(Error::NoAdapter(format!(
                " for backends {backends:?}{hint}"
            )));
        }
        let adapter = match choice.adapter.as_deref() {
            Some(sel) => {
                let pick = if let Ok(i) = sel.parse::<usize>() {
                    adapters.into_iter().nth(i)
                } else {
                    let s = sel.to_ascii_lowercase();
                    adapters
                        .into_iter()
                        .find(|a| a.get_info().name.to_ascii_lowercase().contains(&s))
                };
                pick.ok_or_else(|| {
                    Error::NoAdapter(format!(
                        " matching STYLEGAN_ADAPTER / --adapter '{sel}' (run `stylegan devices`)"
                    ))
                })?
            }
            None => adapters
                .into_iter()
                .min_by_key(|a| rank(a.get_info().device_type))
                .expect("non-empty"),
        };
        Gpu::from_adapter(adapter, policy)
    }

    fn from_adapter(adapter: wgpu::Adapter, policy: Policy) -> Result<Gpu> {
        pollster::block_on(Gpu::from_adapter_async(adapter, policy, None))
    }

    /// The browser's WebGPU adapter (high-performance preference) under `policy`, without
    /// blocking: a page cannot wait on the GPU, so every step that resolves a promise is
    /// awaited. Native code may use it too (with any executor).
    pub async fn request(policy: Policy) -> Result<Gpu> {
        let backends = if cfg!(target_arch = "wasm32") {
            wgpu::Backends::BROWSER_WEBGPU
        } else {
            wgpu::Backends::all()
        };
        let inst = instance(backends);
        let adapter = inst
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(format!(": {e} (is WebGPU enabled in this browser?)")))?;
        Gpu::from_adapter_async(adapter, policy, Some(inst)).await
    }

    async fn from_adapter_async(
        adapter: wgpu::Adapter,
        policy: Policy,
        instance: Option<wgpu::Instance>,
    ) -> Result<Gpu> {
        let info = adapter.get_info();
        let mut policy = policy;
        if info.backend == wgpu::Backend::BrowserWebGpu && info.device_type == wgpu::DeviceType::Cpu
        {
            // Chrome's SwiftShader never finished a 64-channel conv on the tiled kernel before
            // its GPU-process watchdog (2 min) killed the device; the direct kernel takes
            // 0.17 s for the same conv. Measured in web/test (Chromium 156).
            policy.tiled_conv = false;
        }
        let limits = adapter.limits();
        let mut wanted = wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY;
        // The f16 tensor-core conv (opt-in, `Policy::f16`) needs f16 in shaders and wgpu's
        // experimental cooperative matrices with a 16x16x16 f16 x f16 + f32 configuration;
        // nothing experimental is requested unless it is asked for.
        let coop = wgpu::Features::SHADER_F16 | wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        let coop_f16 = policy.f16 && has_coop_f16(&adapter);
        if policy.pipeline_cache.is_some() {
            wanted |= wgpu::Features::PIPELINE_CACHE;
        }
        if coop_f16 {
            wanted |= coop;
        } else if policy.f16 {
            eprintln!(
                "note: STYLEGAN_F16=1 ignored: {} offers no 16x16x16 f16 cooperative matrices",
                info.name
            );
        }
        let features = adapter.features() & wanted;
        let desc = wgpu::DeviceDescriptor {
            label: Some("stylegan"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: if coop_f16 {
                // SAFETY: wgpu asks for acknowledgement that experimental features may have
                // bugs; the kernel using them checks itself before use (ops::conv::coop).
                unsafe { wgpu::ExperimentalFeatures::enabled() }
            } else {
                wgpu::ExperimentalFeatures::disabled()
            },
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| Error::Device(format!("{} ({:?}): {e}", info.name, info.backend)))?;
        let lost = Arc::new(Mutex::new(None));
        let l2 = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *l2.lock().unwrap() = Some(format!("device lost ({reason:?}): {msg}"));
        });
        let uncaptured = Arc::new(Mutex::new(None));
        let u2 = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = u2.lock().unwrap();
            if slot.is_none() {
                *slot = Some(e.to_string());
            }
        }));
        let max_buffer = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size)
            .min(policy.max_binding.unwrap_or(u64::MAX))
            // Size classes are multiples of 256 bytes.
            & !255;
        let fixed_subgroup =
            (info.subgroup_min_size == info.subgroup_max_size).then_some(info.subgroup_min_size);
        let caps = AdapterCaps {
            subgroup8: features.contains(wgpu::Features::SUBGROUP) && fixed_subgroup == Some(8),
            coop_f16_subgroup: match fixed_subgroup {
                Some(sg @ (32 | 64)) if features.contains(coop) => sg,
                _ => 0,
            },
            cpu: info.device_type == wgpu::DeviceType::Cpu,
            max_workgroups: limits.max_compute_workgroups_per_dimension.max(1),
        };
        let profile = policy.profile.then(|| RefCell::new(HashMap::new()));
        let disk_cache = match &policy.pipeline_cache {
            Some(dir) if features.contains(wgpu::Features::PIPELINE_CACHE) => {
                DiskCache::open(&device, &info, dir)
            }
            _ => None,
        };
        Ok(Gpu {
            inner: Rc::new(GpuInner {
                _instance: instance,
                device,
                queue,
                info,
                limits,
                features,
                pipelines: RefCell::new(HashMap::new()),
                pool: RefCell::new(Pool::new(max_buffer)),
                rec: RefCell::new(Recorder::default()),
                lost,
                uncaptured,
                dispatches: Cell::new(0),
                submits: Cell::new(0),
                policy,
                caps,
                checks: RefCell::new(HashMap::new()),
                tallies: RefCell::new(HashMap::new()),
                profile,
                disk_cache,
            }),
        })
    }

    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The switches this context runs under, read once when it was built.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The precision inference entry points (image generation) ask their convs for: `F16`
    /// when the policy opts in (`STYLEGAN_F16=1`), else `F32`. Training never asks for f16.
    pub fn inference_precision(&self) -> Precision {
        if self.inner.policy.f16 {
            Precision::F16
        } else {
            Precision::F32
        }
    }

    /// The file compiled pipelines are kept in across runs, and whether it held usable data
    /// when this context started; `None` where the adapter keeps no pipeline cache (only
    /// Vulkan does) or the policy turned it off.
    pub fn pipeline_cache(&self) -> Option<(&std::path::Path, bool)> {
        self.inner.disk_cache.as_ref().map(|c| (c.path(), c.warm))
    }

    /// Writes the pipeline cache now (it is also written when the last handle to the context
    /// goes away); a no-op when nothing new was compiled.
    pub fn save_pipeline_cache(&self) -> Result<()> {
        match &self.inner.disk_cache {
            Some(c) => c.save(),
            None => Ok(()),
        }
    }

    /// The largest tensor the context can hold, in bytes: the adapter's largest storage
    /// binding (capped by `Policy::max_binding`). Batch runners split their work to stay under
    /// it (`nn::memory`).
    pub fn max_tensor_bytes(&self) -> u64 {
        self.inner.pool.borrow().max_buffer
    }

    /// What the device offers that kernel choice depends on.
    pub fn caps(&self) -> AdapterCaps {
        self.inner.caps
    }

    /// Whether the adapter runs on the CPU (lavapipe, WARP, SwiftShader).
    pub fn is_cpu(&self) -> bool {
        self.inner.caps.cpu
    }

    /// Whether the device was opened with f16 cooperative matrices (`Policy::f16` on an adapter
    /// that has them).
    pub fn has_coop_f16(&self) -> bool {
        self.inner.caps.coop_f16()
    }

    /// Subgroup operations with the subgroup size fixed at 8 (lavapipe, many Intel parts).
    pub fn has_subgroup8(&self) -> bool {
        self.inner.caps.subgroup8
    }

    /// Runs `check` the first time `name` is asked for and remembers its outcome for this
    /// context (an error counts as a failed check and is printed as a warning). Kernels that
    /// must prove themselves on a device before use (the f16 conv) call this.
    pub fn self_check(&self, name: &'static str, check: impl FnOnce() -> Result<bool>) -> bool {
        if let Some(&ok) = self.inner.checks.borrow().get(name) {
            return ok;
        }
        let ok = check().unwrap_or_else(|e| {
            eprintln!(
                "warning: self-check {name} failed on {}: {e}",
                self.inner.info.name
            );
            false
        });
        self.inner.checks.borrow_mut().insert(name, ok);
        ok
    }

    /// Counts one occurrence of `what` (e.g. which kernel a conv was planned on); see
    /// `tallies`.
    pub fn tally(&self, what: &'static str) {
        *self.inner.tallies.borrow_mut().entry(what).or_insert(0) += 1;
    }

    /// Every `tally` so far, sorted by name.
    pub fn tallies(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self
            .inner
            .tallies
            .borrow()
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect();
        v.sort();
        v
    }

    pub fn has_timestamps(&self) -> bool {
        self.inner
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// One line describing the adapter, printed by benchmarks and `stylegan devices`.
    pub fn describe(&self) -> String {
        let i = &self.inner.info;
        format!(
            "{} ({:?}, {:?}, driver {} {})",
            i.name, i.backend, i.device_type, i.driver, i.driver_info
        )
    }

    /// Returns the cached pipeline for `kernel`, compiling it on first use.
    pub(crate) fn pipeline(&self, kernel: &Kernel) -> Result<Rc<Pipeline>> {
        if let Some(p) = self.inner.pipelines.borrow().get(kernel.key.as_ref()) {
            return Ok(p.clone());
        }
        if let Some(dir) = &self.inner.policy.dump_wgsl {
            dump_wgsl(dir, kernel)?;
        }
        let dev = &self.inner.device;
        let mut entries = vec![wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: None,
            },
            count: None,
        }];
        for (i, a) in kernel.bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage {
                        read_only: matches!(a, Access::Read),
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            });
        }
        let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
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
            cache: self.inner.disk_cache.as_ref().map(|c| &c.cache),
        });
        if let Some(c) = &self.inner.disk_cache {
            c.compiled.set(c.compiled.get() + 1);
        }
        if let Some(e) = pop_error_scope(scope) {
            return Err(Error::Device(format!(
                "compiling kernel {}: {e}",
                kernel.key
            )));
        }
        let id = self.inner.pipelines.borrow().len() as u64 + 1;
        let p = Rc::new(Pipeline {
            id,
            pipeline,
            layout,
            n_buffers: kernel.bindings.len(),
        });
        self.inner
            .pipelines
            .borrow_mut()
            .insert(kernel.key.to_string(), p.clone());
        Ok(p)
    }

    /// Reports a device loss or an uncaptured error as an `Error`.
    pub(crate) fn check_health(&self) -> Result<()> {
        if let Some(msg) = self.inner.lost.lock().unwrap().clone() {
            return Err(Error::Device(msg));
        }
        if let Some(msg) = self.inner.uncaptured.lock().unwrap().take() {
            if msg.to_ascii_lowercase().contains("out of memory") {
                return Err(Error::OutOfMemory {
                    bytes: 0,
                    what: msg,
                });
            }
            return Err(Error::Device(msg));
        }
        Ok(())
    }

    /// Submits everything recorded so far as one command buffer. Cheap when nothing is pending.
    pub fn flush(&self) -> Result<()> {
        if self.inner.rec.borrow_mut().submit(&self.inner)? {
            self.inner.submits.set(self.inner.submits.get() + 1);
        }
        self.check_health()
    }

    /// [`Gpu::sync`] without blocking the thread: in a browser it awaits the queue's
    /// submitted-work-done callback; natively it is `sync`.
    pub async fn sync_async(&self) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.sync()
        }
        #[cfg(target_arch = "wasm32")]
        {
            self.flush()?;
            let done = crate::gpu::signal::Signal::default();
            let d2 = done.clone();
            self.inner
                .queue
                .on_submitted_work_done(move || d2.finish(()));
            done.await;
            self.check_health()
        }
    }

    /// Flushes and waits for the GPU to finish everything submitted.
    pub fn sync(&self) -> Result<()> {
        self.flush()?;
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device(format!("waiting for the GPU: {e}")))?;
        self.check_health()
    }

    /// With `STYLEGAN_PROFILE=1` (every dispatch then runs alone, synchronously): a table of
    /// the kernels by total wall time. `None` when profiling is off.
    pub fn profile_report(&self) -> Option<String> {
        let prof = self.inner.profile.as_ref()?.borrow();
        let mut rows: Vec<_> = prof.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let total: f64 = rows.iter().map(|r| r.1 .1).sum();
        let mut out = format!(
            "{:<44} {:>8} {:>10} {:>6}\n",
            "kernel", "calls", "seconds", "%"
        );
        for (k, (n, s)) in rows {
            out += &format!(
                "{k:<44} {n:>8} {s:>10.3} {:>5.1}%\n",
                100.0 * s / total.max(1e-12)
            );
        }
        Some(out)
    }

    /// Frees the pool's idle buffers (e.g. after a resolution change).
    pub fn trim_pool(&self) -> Result<()> {
        self.flush()?;
        self.inner.rec.borrow_mut().clear_bind_cache();
        self.inner.pool.borrow_mut().trim();
        Ok(())
    }

    pub fn reset_peak_memory(&self) {
        let mut p = self.inner.pool.borrow_mut();
        p.peak_bytes = p.live_bytes;
    }

    /// Counters since the context was built, for tests and benchmarks.
    pub fn stats(&self) -> GpuStats {
        let p = self.inner.pool.borrow();
        GpuStats {
            dispatches: self.inner.dispatches.get(),
            submits: self.inner.submits.get(),
            live_bytes: p.live_bytes,
            peak_bytes: p.peak_bytes,
            allocated_bytes: p.allocated_bytes,
        }
    }
}
