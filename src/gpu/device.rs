//! The device a context runs on: the optional features it asks an adapter for, the limits every
//! kernel needs (checked whether the context opened the device or an application handed it
//! over), and what the device offers that kernel choice depends on ([`AdapterCaps`]).

use crate::error::{Error, Result};
use crate::gpu::adapter::has_coop_f16;
use crate::gpu::policy::{AdapterCaps, Policy};
use crate::gpu::recorder::PARAM_SLOT;

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
        log::info!(
            "STYLEGAN_F16=1 ignored: {} offers no 16x16x16 f16 cooperative matrices",
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

/// Limits a device needs for this crate: `wgpu::Limits::downlevel_defaults()` (what wgpu
/// offers everywhere but WebGL2) with the limits the kernels depend on set to what they need,
/// so a device opened with these, or anything better, runs every op. Every context checks
/// those limits on its device, whether `Gpu::new` opened it or `Gpu::from_device` was handed
/// it (`tests/from_device.rs` checks every kernel against them). The largest tensor is the
/// device's largest storage binding (128 MiB here); batch runners split their work to fit.
pub fn required_limits() -> wgpu::Limits {
    wgpu::Limits {
        max_bind_groups: 1,
        // Binding 0 is the parameter block, bindings 1.. the storage buffers.
        max_bindings_per_bind_group: 1 + MAX_STORAGE_BUFFERS,
        max_dynamic_uniform_buffers_per_pipeline_layout: 1,
        max_uniform_buffers_per_shader_stage: 1,
        max_uniform_buffer_binding_size: PARAM_SLOT,
        // Every dispatch's parameters sit at a multiple of PARAM_SLOT in one arena.
        min_uniform_buffer_offset_alignment: PARAM_SLOT as u32,
        max_storage_buffers_per_shader_stage: MAX_STORAGE_BUFFERS,
        max_compute_invocations_per_workgroup: 256,
        max_compute_workgroup_size_x: 256,
        max_compute_workgroup_size_y: 1,
        max_compute_workgroup_size_z: 1,
        max_compute_workgroup_storage_size: 11 << 10,
        // Large grids are spread over two dimensions of this many workgroups.
        max_compute_workgroups_per_dimension: 65535,
        ..wgpu::Limits::downlevel_defaults()
    }
}

/// The most storage buffers one kernel binds.
const MAX_STORAGE_BUFFERS: u32 = 5;

/// The limits a kernel depends on: name, value in `l`, and whether more is better (an
/// alignment is better smaller).
fn kernel_limits(l: &wgpu::Limits) -> [(&'static str, u64, bool); 13] {
    [
        ("max_bind_groups", l.max_bind_groups.into(), true),
        (
            "max_bindings_per_bind_group",
            l.max_bindings_per_bind_group.into(),
            true,
        ),
        (
            "max_dynamic_uniform_buffers_per_pipeline_layout",
            l.max_dynamic_uniform_buffers_per_pipeline_layout.into(),
            true,
        ),
        (
            "max_uniform_buffers_per_shader_stage",
            l.max_uniform_buffers_per_shader_stage.into(),
            true,
        ),
        (
            "max_uniform_buffer_binding_size",
            l.max_uniform_buffer_binding_size,
            true,
        ),
        (
            "min_uniform_buffer_offset_alignment",
            l.min_uniform_buffer_offset_alignment.into(),
            false,
        ),
        (
            "max_storage_buffers_per_shader_stage",
            l.max_storage_buffers_per_shader_stage.into(),
            true,
        ),
        (
            "max_compute_invocations_per_workgroup",
            l.max_compute_invocations_per_workgroup.into(),
            true,
        ),
        (
            "max_compute_workgroup_size_x",
            l.max_compute_workgroup_size_x.into(),
            true,
        ),
        (
            "max_compute_workgroup_size_y",
            l.max_compute_workgroup_size_y.into(),
            true,
        ),
        (
            "max_compute_workgroup_size_z",
            l.max_compute_workgroup_size_z.into(),
            true,
        ),
        (
            "max_compute_workgroup_storage_size",
            l.max_compute_workgroup_storage_size.into(),
            true,
        ),
        (
            "max_compute_workgroups_per_dimension",
            l.max_compute_workgroups_per_dimension.into(),
            true,
        ),
    ]
}

/// An error naming every limit of `limits` below [`required_limits`]: a device without them
/// would fail some op's first dispatch with a validation error far from the cause.
pub(crate) fn check_limits(name: &str, limits: &wgpu::Limits) -> Result<()> {
    let short: Vec<String> = kernel_limits(&required_limits())
        .into_iter()
        .zip(kernel_limits(limits))
        .filter(|((_, need, more), (_, have, _))| if *more { have < need } else { have > need })
        .map(|((field, need, more), (_, have, _))| {
            let bound = if more { "at least" } else { "at most" };
            format!("{field} is {have}, the kernels need {bound} {need}")
        })
        .collect();
    if short.is_empty() {
        return Ok(());
    }
    Err(Error::Device(format!(
        "{name}: the device's limits are too small ({}); open it with \
         stylegan_wgpu::gpu::required_limits() or better (the adapter's own limits)",
        short.join("; ")
    )))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_in_the_direction_that_is_better() {
        assert!(check_limits("any", &required_limits()).is_ok());
        assert!(check_limits("any", &wgpu::Limits::default()).is_ok());
        let coarse = wgpu::Limits {
            min_uniform_buffer_offset_alignment: 512,
            max_storage_buffers_per_shader_stage: 4,
            ..required_limits()
        };
        let err = check_limits("dev", &coarse).unwrap_err().to_string();
        assert!(
            err.contains(
                "min_uniform_buffer_offset_alignment is 512, the kernels need at most 256"
            ),
            "{err}"
        );
        assert!(
            err.contains("max_storage_buffers_per_shader_stage is 4, the kernels need at least 5"),
            "{err}"
        );
    }
}
