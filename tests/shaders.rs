//! Every `.wgsl` in `shaders/` (with the shared prelude, as the `kernel!` macro builds it) and
//! every kernel generated in Rust parses and validates with naga, with the capabilities the
//! kernels may use, and translates to SPIR-V, MSL and HLSL as wgpu's Vulkan, Metal and DX12
//! backends do.
//! Needs no GPU.

use std::path::Path;

/// Which of wgpu's shader translations a kernel must survive.
#[derive(Clone, Copy)]
struct Targets {
    msl: bool,
    hlsl: bool,
}

const ALL: Targets = Targets {
    msl: true,
    hlsl: true,
};

fn validate(name: &str, src: &str) {
    validate_for(name, src, naga::valid::Capabilities::SUBGROUP, ALL)
}

fn validate_for(name: &str, src: &str, caps: naga::valid::Capabilities, t: Targets) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps);
    v.subgroup_stages(naga::valid::ShaderStages::COMPUTE);
    v.subgroup_operations(naga::valid::SubgroupOperationSet::all());
    let info = v
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    // What wgpu's Vulkan, Metal and DX12 backends do with it: translate to SPIR-V, MSL and
    // HLSL (subgroup operations need MSL 2.1+ and shader model 6.0+, which wgpu asks for when
    // it enables them).
    let spv = naga::back::spv::Options {
        lang_version: (1, 3),
        ..Default::default()
    };
    naga::back::spv::write_vec(&module, &info, &spv, None)
        .unwrap_or_else(|e| panic!("{name}: SPIR-V translation: {e:?}"));
    if t.msl {
        let msl = naga::back::msl::Options {
            lang_version: (2, 4),
            ..Default::default()
        };
        naga::back::msl::write_string(&module, &info, &msl, &Default::default())
            .unwrap_or_else(|e| panic!("{name}: MSL translation: {e:?}"));
    }
    if t.hlsl {
        let hlsl = naga::back::hlsl::Options {
            shader_model: naga::back::hlsl::ShaderModel::V6_0,
            ..Default::default()
        };
        let pipeline = naga::back::hlsl::PipelineOptions::default();
        let mut out = String::new();
        naga::back::hlsl::Writer::new(&mut out, &hlsl, &pipeline)
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{name}: HLSL translation: {e:?}"));
    }
    eprintln!(
        "validated {name}, translated to SPIR-V{}{}",
        if t.msl { ", MSL" } else { "" },
        if t.hlsl { ", HLSL" } else { "" }
    );
}

/// The f16 cooperative-matrix conv (`ops::conv_coop`): wgpu offers cooperative matrices on
/// Vulkan and Metal only, so no HLSL.
#[test]
fn cooperative_matrix_kernel_validates_with_naga() {
    use naga::valid::Capabilities as C;
    let caps = C::SUBGROUP | C::SHADER_FLOAT16 | C::COOPERATIVE_MATRIX;
    for sg in [32, 64] {
        validate_for(
            &format!("conv_coop f16 subgroup {sg}"),
            &stylegan_wgpu::ops::conv_coop::conv_coop_wgsl(sg),
            caps,
            Targets {
                msl: true,
                hlsl: false,
            },
        );
    }
}

/// The kernels generated in Rust (per tile configuration, per shape) validate too: on Metal and
/// DX12 naga translates them, so an error here is an error on those backends.
#[test]
fn generated_shaders_validate_with_naga() {
    use stylegan_wgpu::ops::conv::ConvKind;
    use stylegan_wgpu::ops::conv_fast::conv_fast_wgsl;
    use stylegan_wgpu::ops::conv_tiled::{conv_tiled_wgsl, TILE_LARGE, TILE_SMALL};
    for t in [TILE_SMALL, TILE_LARGE] {
        validate(&format!("conv_tiled {t:?}"), &conv_tiled_wgsl(t));
    }
    for kind in [ConvKind::Same, ConvKind::Down2, ConvKind::Up2] {
        for (n, c, k, h, w) in [(1, 512, 512, 8, 8), (4, 32, 16, 32, 40)] {
            let src = conv_fast_wgsl(kind, n, c, k, h, w)
                .unwrap_or_else(|| panic!("conv_fast {kind:?} must take n{n} c{c} k{k} {h}x{w}"));
            validate(&format!("conv_fast {kind:?} n{n} c{c} k{k} {h}x{w}"), &src);
        }
    }
}

#[test]
fn every_shader_validates_with_naga() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let prelude = std::fs::read_to_string(dir.join("common.wgsl")).expect("shaders/common.wgsl");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl")
            || path.ends_with("common.wgsl")
        {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        validate(&path.display().to_string(), &format!("{prelude}{body}"));
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} shaders found in {}",
        dir.display()
    );
}
