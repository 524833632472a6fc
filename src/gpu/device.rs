//! The device a context runs on: the optional features it asks an adapter for, and what the
//! device offers that kernel choice depends on ([`AdapterCaps`]).

use crate::error::{Error, Result};
use crate::gpu::adapter::has_coop_f16;
use crate::gpu::policy::{AdapterCaps, Policy};

/// f16 in shaders and wgpu's experimental cooperative matrices: what the f16 tensor-core conv
/// (`ops::conv::coop`, opt-in through [`Policy::f16`]) runs on.
pub(crate) const COOP_F16: wgpu::Features =
    wgpu::Features::SHADER_F16.union(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX);

/// The features the context uses where the device has them; none is required.
pub(crate) fn useful_features(policy: &Policy) -> wgpu::Features {
    let mut f = wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY;
    if policy.pipeline_cache.is_some() {
        f |= wgpu::Features::PIPELINE_CACHE;
    }
    // Nothing experimental unless it is asked for.
    if policy.f16 {
        f |= COOP_F16;
    }
    f
}

/// Opens a device on `adapter` with all of its limits (the largest tensor is its largest
/// storage binding) and the useful features it has.
pub(crate) async fn open(
    adapter: &wgpu::Adapter,
    policy: &Policy,
) -> Result<(wgpu::Device, wgpu::Queue)> {
    let info = adapter.get_info();
    let mut wanted = useful_features(policy);
    // The f16 conv needs a 16x16x16 f16 x f16 + f32 configuration, which only the adapter
    // lists, besides the features.
    if policy.f16 && !has_coop_f16(adapter) {
        wanted.remove(COOP_F16);
        eprintln!(
            "note: STYLEGAN_F16=1 ignored: {} offers no 16x16x16 f16 cooperative matrices",
            info.name
        );
    }
    let features = adapter.features() & wanted;
    let desc = wgpu::DeviceDescriptor {
        label: Some("stylegan"),
        required_features: features,
        required_limits: adapter.limits(),
        experimental_features: if features.contains(COOP_F16) {
            // SAFETY: wgpu asks for acknowledgement that experimental features may have
            // bugs; the kernel using them checks itself before use (ops::conv::coop).
            unsafe { wgpu::ExperimentalFeatures::enabled() }
        } else {
            wgpu::ExperimentalFeatures::disabled()
        },
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    };
    adapter
        .request_device(&desc)
        .await
        .map_err(|e| Error::Device(format!("{} ({:?}): {e}", info.name, info.backend)))
}

/// What the device offers that kernel choice depends on, from its adapter's info and the
/// features and limits it was opened with.
pub(crate) fn caps(
    info: &wgpu::AdapterInfo,
    features: wgpu::Features,
    limits: &wgpu::Limits,
) -> AdapterCaps {
    let fixed_subgroup =
        (info.subgroup_min_size == info.subgroup_max_size).then_some(info.subgroup_min_size);
    AdapterCaps {
        subgroup8: features.contains(wgpu::Features::SUBGROUP) && fixed_subgroup == Some(8),
        coop_f16_subgroup: match fixed_subgroup {
            Some(sg @ (32 | 64)) if features.contains(COOP_F16) => sg,
            _ => 0,
        },
        cpu: info.device_type == wgpu::DeviceType::Cpu,
        max_workgroups: limits.max_compute_workgroups_per_dimension.max(1),
    }
}

/// The largest buffer the pool hands out: the device's largest storage binding, capped by
/// [`Policy::max_binding`], in whole size classes (multiples of 256 bytes).
pub(crate) fn max_buffer(limits: &wgpu::Limits, policy: &Policy) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(policy.max_binding.unwrap_or(u64::MAX))
        & !255
}

/// `policy` as it applies on the adapter `info` describes.
pub(crate) fn adjust_policy(info: &wgpu::AdapterInfo, mut policy: Policy) -> Policy {
    if info.backend == wgpu::Backend::BrowserWebGpu && info.device_type == wgpu::DeviceType::Cpu {
        // Chrome's SwiftShader never finished a 64-channel conv on the tiled kernel before
        // its GPU-process watchdog (2 min) killed the device; the direct kernel takes
        // 0.17 s for the same conv. Measured in web/test (Chromium 156).
        policy.tiled_conv = false;
    }
    policy
}
