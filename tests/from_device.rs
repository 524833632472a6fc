//! `Gpu::from_device`: a context on a device the application opened runs ops and a generator
//! exactly as `Gpu::new` does on the same adapter, shares the device with the application, and
//! refuses a device whose limits the kernels exceed. And `gpu::required_limits` holds every
//! kernel (no GPU needed for that one).

mod common;

use stylegan_wgpu::gpu::{required_limits, Policy};
use stylegan_wgpu::{ops, Error, Gpu, Model, NoiseMode, Tensor, Truncation, Var};

/// The adapter `reference` runs on, from an instance of the test's own.
fn same_adapter(reference: &Gpu) -> wgpu::Adapter {
    let info = reference.info();
    let backends = wgpu::Backends::from(info.backend);
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(backends))
        .into_iter()
        .find(|a| a.get_info() == *info)
        .unwrap_or_else(|| panic!("{} not found again", reference.describe()))
}

/// A device on `adapter` with `features` and `limits`, opened as an application would.
fn open(
    adapter: &wgpu::Adapter,
    features: wgpu::Features,
    limits: wgpu::Limits,
) -> (wgpu::Device, wgpu::Queue) {
    let experimental = features.intersects(wgpu::Features::all_experimental_mask());
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("application"),
        required_features: features,
        required_limits: limits,
        experimental_features: if experimental {
            // SAFETY: mirrors the features the crate's own device has.
            unsafe { wgpu::ExperimentalFeatures::enabled() }
        } else {
            wgpu::ExperimentalFeatures::disabled()
        },
        ..Default::default()
    }))
    .expect("request_device")
}

fn sum_of_squares(gpu: &Gpu) -> Vec<f32> {
    let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin()).collect();
    let x = Var::constant(Tensor::from_slice(gpu, &[10, 100], &x).unwrap());
    let y = ops::add(&ops::square(&x).unwrap(), &x).unwrap();
    y.to_vec().unwrap()
}

fn images(gpu: &Gpu) -> Vec<Vec<f32>> {
    let g = Model::embedded().unwrap().generator(gpu).unwrap();
    let images = g
        .generate_seeds(&[0, 7], &Truncation::psi(0.7), NoiseMode::Const)
        .unwrap();
    images.into_iter().map(|im| im.data).collect()
}

#[test]
fn a_device_of_the_application_runs_like_gpu_new() {
    let reference = common::gpu();
    let adapter = same_adapter(&reference);
    let (device, queue) = open(&adapter, reference.device().features(), adapter.limits());
    let gpu = Gpu::from_device(device.clone(), queue.clone(), reference.policy().clone())
        .expect("from_device");
    assert_eq!(gpu.info(), reference.info());
    assert_eq!(gpu.limits(), reference.limits());
    assert_eq!(gpu.caps(), reference.caps());
    assert_eq!(gpu.max_tensor_bytes(), reference.max_tensor_bytes());
    assert_eq!(gpu.has_timestamps(), reference.has_timestamps());
    assert_eq!(sum_of_squares(&gpu), sum_of_squares(&reference));
    assert_eq!(images(&gpu), images(&reference), "generator images differ");
    assert!(gpu.stats().dispatches > 0 && gpu.stats().submits > 0);

    // The application's handles still work beside the context.
    let buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("application's"),
        size: 16,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&buf, 0, &[1; 16]);
    queue.submit([]);
    gpu.sync().expect("sync after the application's work");

    // A device the application destroys is an error of the context's next sync.
    device.destroy();
    let err = sum_of_squares_err(&gpu);
    assert!(matches!(err, Error::Device(_)), "{err}");
}

fn sum_of_squares_err(gpu: &Gpu) -> Error {
    let t = Tensor::zeros(gpu, &[4]);
    match t.and_then(|t| ops::square(&Var::constant(t))?.to_vec()) {
        Ok(v) => panic!("work on a destroyed device returned {v:?}"),
        Err(e) => e,
    }
}

/// A device opened with just `required_limits` (and no optional feature) runs a generator,
/// with the same images.
#[test]
fn required_limits_are_enough() {
    let reference = common::gpu_with(Policy::default());
    let adapter = same_adapter(&reference);
    let features = reference.device().features() & wgpu::Features::SUBGROUP;
    let (device, queue) = open(&adapter, features, required_limits());
    let gpu = Gpu::from_device(device, queue, Policy::default()).expect("from_device");
    assert_eq!(gpu.caps().subgroup8, reference.caps().subgroup8);
    assert!(gpu.pipeline_cache().is_none() && !gpu.has_timestamps());
    assert_eq!(images(&gpu), images(&reference), "generator images differ");
}

/// A device opened with WebGL2's limits (no compute) is refused with every limit it lacks.
#[test]
fn a_device_with_too_small_limits_is_refused() {
    let reference = common::gpu_with(Policy::default());
    let adapter = same_adapter(&reference);
    let limits = wgpu::Limits::downlevel_webgl2_defaults();
    let (device, queue) = open(&adapter, wgpu::Features::empty(), limits);
    let err = match Gpu::from_device(device, queue, Policy::default()) {
        Ok(_) => panic!("a device without compute limits was accepted"),
        Err(e) => e.to_string(),
    };
    eprintln!("{err}");
    for limit in [
        "max_storage_buffers_per_shader_stage is 0",
        "max_compute_invocations_per_workgroup is 0, the kernels need at least 256",
        "max_compute_workgroup_storage_size is 0",
        "required_limits()",
    ] {
        assert!(err.contains(limit), "{limit} not in: {err}");
    }
}

/// Every kernel fits `required_limits`: its storage buffers, workgroup size and the workgroup
/// memory its entry point uses. Needs no GPU.
#[test]
fn every_kernel_fits_the_required_limits() {
    let need = required_limits();
    let (mut most_buffers, mut most_invocations, mut most_memory) = (0, 0, 0);
    for k in common::all_kernels() {
        let module = naga::front::wgsl::parse_str(&k.source)
            .unwrap_or_else(|e| panic!("{}: {}", k.key, e.emit_to_string(&k.source)));
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        let info = v
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", k.key));
        let (i, ep) = (module.entry_points.iter().enumerate())
            .find(|(_, e)| e.name == k.entry)
            .unwrap_or_else(|| panic!("{}: no entry point {}", k.key, k.entry));
        let used = info.get_entry_point(i);
        let memory: u32 = (module.global_variables.iter())
            .filter(|(h, g)| g.space == naga::AddressSpace::WorkGroup && !used[*h].is_empty())
            .map(|(_, g)| module.types[g.ty].inner.size(module.to_ctx()))
            .sum();
        let [x, y, z] = ep.workgroup_size;
        let buffers = k.bindings.len() as u32;
        let key = &k.key;
        assert!(
            buffers <= need.max_storage_buffers_per_shader_stage,
            "{key}: {buffers} buffers"
        );
        assert!(
            x * y * z <= need.max_compute_invocations_per_workgroup,
            "{key}: {x}x{y}x{z}"
        );
        assert!(x <= need.max_compute_workgroup_size_x, "{key}: {x}x{y}x{z}");
        assert!(y <= need.max_compute_workgroup_size_y, "{key}: {x}x{y}x{z}");
        assert!(z <= need.max_compute_workgroup_size_z, "{key}: {x}x{y}x{z}");
        assert!(
            memory <= need.max_compute_workgroup_storage_size,
            "{key}: {memory} bytes"
        );
        most_buffers = most_buffers.max(buffers);
        most_invocations = most_invocations.max(x * y * z);
        most_memory = most_memory.max(memory);
    }
    eprintln!(
        "most of any kernel: {most_buffers} storage buffers, {most_invocations} invocations, \
         {most_memory} bytes of workgroup memory"
    );
}
