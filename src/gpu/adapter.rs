//! Which adapter a context opens: the one `STYLEGAN_BACKEND` / `STYLEGAN_ADAPTER` (or the
//! CLI's flags) name, else the best kind present; and the list `stylegan devices` prints, in
//! the order an adapter index refers to.

use crate::error::{Error, Result};

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
pub(crate) fn has_coop_f16(a: &wgpu::Adapter) -> bool {
    a.features().contains(crate::gpu::device::COOP_F16)
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

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    pollster::block_on(instance(backends).enumerate_adapters(backends))
}

/// Lists every adapter for the chosen backend(s), in the order `STYLEGAN_ADAPTER=<index>` uses.
pub fn list_adapters(backend: Option<&str>) -> Result<Vec<AdapterSummary>> {
    let adapters = enumerate(parse_backends(backend)?);
    Ok(adapters
        .iter()
        .enumerate()
        .map(|(i, a)| summarize(i, a))
        .collect())
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

/// The adapter `choice` names (an index into `list_adapters`, or part of a name), else the
/// first of the best kind: discrete, integrated, virtual, other, CPU.
pub(crate) fn select(choice: &AdapterChoice) -> Result<wgpu::Adapter> {
    let mut backends = parse_backends(choice.backend.as_deref())?;
    let mut adapters = enumerate(backends);
    if adapters.is_empty() && choice.backend.is_none() {
        // No Vulkan/Metal/DX12 adapter: fall back to OpenGL rather than fail outright.
        backends = wgpu::Backends::GL;
        adapters = enumerate(backends);
    }
    if adapters.is_empty() {
        return Err(Error::NoAdapter(format!(
            " for backends {backends:?}; install a Vulkan driver (Debian: apt-get install \
             mesa-vulkan-drivers libvulkan1), or check STYLEGAN_BACKEND / STYLEGAN_ADAPTER"
        )));
    }
    let Some(sel) = choice.adapter.as_deref() else {
        let best = adapters
            .into_iter()
            .min_by_key(|a| rank(a.get_info().device_type));
        return Ok(best.expect("non-empty"));
    };
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
    })
}

/// The browser's WebGPU adapter (natively: any backend's), high-performance preference, with
/// the instance it came from: on WebGPU, dropping the instance loses the device.
pub(crate) async fn request() -> Result<(wgpu::Adapter, wgpu::Instance)> {
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
    Ok((adapter, inst))
}
