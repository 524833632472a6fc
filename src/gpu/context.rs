//! The GPU context, built once: the device, what it offers, the pipelines, the buffer pool and
//! the step recorder. Every method of [`Gpu`] is here; ops only record dispatches into it.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::gpu::adapter::{self, AdapterChoice};
use crate::gpu::device::{self, COOP_F16};
use crate::gpu::health::Health;
use crate::gpu::kernel::{Kernel, KernelParams};
use crate::gpu::pipeline::{Pipeline, Pipelines};
use crate::gpu::policy::{AdapterCaps, Policy, Precision};
use crate::gpu::pool::{Lease, Pool};
use crate::gpu::profile::Profile;
use crate::gpu::recorder::{Cmd, Recorder};
use crate::gpu::stats::{Counters, GpuStats};
use crate::gpu::tensor::Tensor;

pub(crate) struct GpuInner {
    /// Kept alive with the device: on WebGPU, dropping the instance loses the device.
    _instance: Option<wgpu::Instance>,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The device's features the context uses.
    features: wgpu::Features,
    policy: Policy,
    caps: AdapterCaps,
    pipelines: Pipelines,
    pub pool: RefCell<Pool>,
    pub rec: RefCell<Recorder>,
    health: Health,
    counters: Counters,
    /// Per-kernel wall time, when `Policy::profile`.
    profile: Option<Profile>,
    /// Measured kernel choices (`gpu::tune`).
    pub(crate) tune: RefCell<crate::gpu::tune::Tuner>,
}

impl Drop for GpuInner {
    fn drop(&mut self) {
        if let Some(c) = &self.pipelines.disk {
            if let Err(e) = c.save() {
                log::info!(
                    "the pipeline cache was not saved ({e}); the next run compiles its shaders \
                     again"
                );
            }
        }
    }
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
        let adapter = adapter::select(choice)?;
        pollster::block_on(Gpu::open(adapter, policy, None))
    }

    /// The browser's WebGPU adapter (high-performance preference) under `policy`, without
    /// blocking: a page cannot wait on the GPU, so every step that resolves a promise is
    /// awaited. Native code may use it too (with any executor).
    pub async fn request(policy: Policy) -> Result<Gpu> {
        let (adapter, instance) = adapter::request().await?;
        Gpu::open(adapter, policy, Some(instance)).await
    }

    /// A context on a device the application opened, under `policy` (the environment is not
    /// read: pass `Policy::from_env()` for the switches `Gpu::new` reads). The device and
    /// queue handles are shared with the application, which may keep using them.
    ///
    /// What the device needs:
    /// - limits: at least [`required_limits`](crate::gpu::required_limits) (else an error
    ///   names each one short). The largest tensor is the device's
    ///   `max_storage_buffer_binding_size` (capped by `Policy::max_binding`), so open it with
    ///   the adapter's own limits, `adapter.limits()`, unless something else needs the memory;
    /// - features: none. Each of these is used where `device.features()` has it:
    ///   `SUBGROUP` (a faster conv on adapters with a fixed subgroup size of 8),
    ///   `TIMESTAMP_QUERY` ([`Gpu::has_timestamps`]), `PIPELINE_CACHE` (compiled pipelines kept
    ///   across runs, `Policy::pipeline_cache`), and `SHADER_F16` with
    ///   `EXPERIMENTAL_COOPERATIVE_MATRIX` (the f16 conv of `Policy::f16`; a device does not list
    ///   its cooperative-matrix configurations, so the kernel's self-check decides whether it
    ///   runs).
    ///
    /// The context installs its own device-lost callback and uncaptured-error handler on the
    /// device, replacing the application's, and reports both as errors of its next `flush` or
    /// `sync`. In a browser, the application keeps its `wgpu::Instance` alive as long as the
    /// context: dropping it loses the device.
    ///
    /// ```
    /// use stylegan_wgpu::gpu::Policy;
    /// use stylegan_wgpu::{ops, Gpu, Tensor, Var};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    /// desc.backends = wgpu::Backends::PRIMARY;
    /// let instance = wgpu::Instance::new(desc);
    /// let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    /// let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
    ///     required_features: adapter.features() & wgpu::Features::SUBGROUP,
    ///     required_limits: adapter.limits(),
    ///     ..Default::default()
    /// }))?;
    /// let gpu = Gpu::from_device(device.clone(), queue.clone(), Policy::default())?;
    /// let x = Var::constant(Tensor::from_slice(&gpu, &[3], &[1.0, 2.0, 3.0])?);
    /// assert_eq!(ops::add(&x, &x)?.to_vec()?, [2.0, 4.0, 6.0]);
    /// // The application's handles still work: the context only shares them.
    /// device.poll(wgpu::PollType::wait_indefinitely())?;
    /// # Ok(()) }
    /// ```
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, policy: Policy) -> Result<Gpu> {
        let info = device.adapter_info();
        if policy.f16 && !device.features().contains(COOP_F16) {
            log::info!(
                "Policy::f16 ignored: the device was opened without SHADER_F16 and \
                 EXPERIMENTAL_COOPERATIVE_MATRIX"
            );
        }
        Gpu::assemble(device, queue, info, policy, None)
    }

    async fn open(
        adapter: wgpu::Adapter,
        policy: Policy,
        instance: Option<wgpu::Instance>,
    ) -> Result<Gpu> {
        let (device, queue) = device::open(&adapter, &policy).await?;
        Gpu::assemble(device, queue, adapter.get_info(), policy, instance)
    }

    /// The context around an open device, whoever opened it.
    fn assemble(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: wgpu::AdapterInfo,
        policy: Policy,
        instance: Option<wgpu::Instance>,
    ) -> Result<Gpu> {
        let policy = device::adjust_policy(&info, policy);
        let limits = device.limits();
        device::check_limits(&info.name, &limits)?;
        let features = device.features() & device::useful_features(&policy);
        let health = Health::watch(&device);
        let pool = Pool::new(device::max_buffer(&limits, &policy));
        Ok(Gpu {
            inner: Rc::new(GpuInner {
                caps: device::caps(&info, features, &limits),
                pipelines: Pipelines::new(&device, &info, features, &policy),
                profile: policy.profile.then(Profile::default),
                tune: RefCell::new(crate::gpu::tune::Tuner::new(&info, &policy)),
                _instance: instance,
                device,
                queue,
                info,
                limits,
                features,
                policy,
                pool: RefCell::new(pool),
                rec: RefCell::new(Recorder::default()),
                health,
                counters: Counters::default(),
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
        let c = self.inner.pipelines.disk.as_ref()?;
        Some((c.path(), c.warm))
    }

    /// Writes the pipeline cache now (it is also written when the last handle to the context
    /// goes away); a no-op when nothing new was compiled.
    pub fn save_pipeline_cache(&self) -> Result<()> {
        match &self.inner.pipelines.disk {
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
        (self.inner.health).self_check(name, &self.inner.info.name, check)
    }

    /// Counts one occurrence of `what` (e.g. which kernel a conv was planned on); see
    /// `tallies`.
    pub fn tally(&self, what: &'static str) {
        self.inner.counters.tally(what)
    }

    /// Every `tally` so far, sorted by name.
    pub fn tallies(&self) -> Vec<(&'static str, u64)> {
        self.inner.counters.tallies()
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
        self.inner.pipelines.get(&self.inner.device, kernel)
    }

    /// A buffer from the pool with room for `n` f32 values. Contents are undefined.
    pub(crate) fn alloc(&self, n: usize, what: &str) -> Result<Rc<Lease>> {
        crate::gpu::pool::lease(&self.inner, n, what)
    }

    /// Records one dispatch of `kernel` over `groups` workgroups (spread over a 2-D grid when it
    /// exceeds the per-dimension limit; shaders rebuild the linear index from `num_workgroups`).
    pub(crate) fn dispatch<P: KernelParams>(
        &self,
        kernel: &Kernel,
        bufs: &[&Tensor],
        params: &P,
        groups: u32,
    ) -> Result<()> {
        let maxd = self.inner.caps.max_workgroups;
        let g = groups.max(1);
        let gx = g.min(maxd);
        let gy = g.div_ceil(gx);
        if gy > maxd {
            return Err(Error::Invalid(format!(
                "{}: {groups} workgroups is too many",
                kernel.key
            )));
        }
        self.dispatch3(kernel, bufs, params, [gx, gy, 1])
    }

    /// Records one dispatch with an explicit 3-D grid.
    pub(crate) fn dispatch3<P: KernelParams>(
        &self,
        kernel: &Kernel,
        bufs: &[&Tensor],
        params: &P,
        groups: [u32; 3],
    ) -> Result<()> {
        if kernel.params.name != P::LAYOUT.name {
            return Err(Error::Invalid(format!(
                "{}: dispatched with parameters {} but the kernel declares {}",
                kernel.key,
                P::LAYOUT.name,
                kernel.params.name
            )));
        }
        let pipe = self.pipeline(kernel)?;
        if pipe.n_buffers != bufs.len() {
            return Err(Error::Invalid(format!(
                "{}: kernel takes {} buffers, {} given",
                kernel.key,
                pipe.n_buffers,
                bufs.len()
            )));
        }
        let mut rec = self.inner.rec.borrow_mut();
        let offset = rec.push_params(bytemuck::bytes_of(params));
        rec.push(Cmd::Dispatch {
            pipe,
            bufs: bufs
                .iter()
                .map(|t| (t.lease.buf.clone(), t.byte_offset()))
                .collect(),
            offset,
            groups,
        });
        self.inner.counters.dispatched();
        drop(rec);
        if let Some(prof) = &self.inner.profile {
            let t = std::time::Instant::now();
            self.sync()?;
            prof.charge(&kernel.key, t.elapsed().as_secs_f64());
        }
        Ok(())
    }

    /// Reports a device loss or an uncaptured error as an `Error`.
    pub(crate) fn check_health(&self) -> Result<()> {
        self.inner.health.check()
    }

    /// Runs `f`; if it fails, whatever `f` recorded and did not submit is dropped, so a failed
    /// call (out of memory halfway through a batch, a shape refused at the last layer) leaves
    /// the step recorder as it found it, and the next call does not run the failed call's
    /// work first. The library's entry points that record a whole forward pass go through
    /// here.
    pub fn discard_on_error<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let mark = self.inner.rec.borrow().mark();
        let r = f();
        if r.is_err() {
            self.inner.rec.borrow_mut().rollback(mark);
        }
        r
    }

    /// Commands recorded and not yet submitted (uploads, copies, dispatches).
    pub fn pending_commands(&self) -> usize {
        self.inner.rec.borrow().pending()
    }

    /// Submits everything recorded so far as one command buffer. Cheap when nothing is pending.
    pub fn flush(&self) -> Result<()> {
        if self.inner.rec.borrow_mut().submit(&self.inner)? {
            self.inner.counters.submitted();
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
        Some(self.inner.profile.as_ref()?.report())
    }

    /// Frees the pool's idle buffers (e.g. after a resolution change).
    pub fn trim_pool(&self) -> Result<()> {
        self.flush()?;
        self.inner.rec.borrow_mut().clear_bind_cache();
        self.inner.pool.borrow_mut().trim();
        Ok(())
    }

    pub fn reset_peak_memory(&self) {
        self.inner.pool.borrow_mut().reset_peak();
    }

    /// Counters since the context was built, for tests and benchmarks.
    pub fn stats(&self) -> GpuStats {
        self.inner.counters.stats(&self.inner.pool.borrow())
    }
}
