//! Every kernel (`ops::kernels` and `train::optim::kernels`: the `.wgsl` files with the shared
//! prelude, and the templates rendered for representative configurations) parses and validates
//! with naga, with the capabilities the kernels may use, and translates to SPIR-V, MSL and HLSL
//! as wgpu's Vulkan, Metal and DX12 backends do; each kernel's Rust parameter block matches its
//! WGSL struct; every shader file belongs to a kernel; no WGSL lives in Rust sources.
//! Needs no GPU.

use std::path::Path;

use stylegan_wgpu::gpu::kernel::Scalar;

mod common;
use common::all_kernels;

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

/// Every kernel of the crate (`all_kernels`: the `.wgsl` files with the shared prelude as
/// `kernel!` builds them, and the templates rendered for representative configurations)
/// validates with naga and translates for every backend. The f16 cooperative-matrix kernel
/// needs f16 and cooperative matrices, which wgpu offers on Vulkan and Metal only: no HLSL.
#[test]
fn every_kernel_validates_and_translates() {
    use naga::valid::Capabilities as C;
    let kernels = all_kernels();
    for k in &kernels {
        if k.file.contains("coop") {
            let caps = C::SUBGROUP | C::SHADER_FLOAT16 | C::COOPERATIVE_MATRIX;
            let t = Targets {
                msl: true,
                hlsl: false,
            };
            validate_for(&k.key, &k.source, caps, t);
        } else {
            validate(&k.key, &k.source);
        }
    }
    assert!(kernels.len() >= 30, "only {} kernels", kernels.len());
}

fn scalar_of(module: &naga::Module, ty: naga::Handle<naga::Type>) -> Option<Scalar> {
    use naga::ScalarKind as K;
    match module.types[ty].inner {
        naga::TypeInner::Scalar(naga::Scalar { kind, width: 4 }) => match kind {
            K::Uint => Some(Scalar::U32),
            K::Sint => Some(Scalar::I32),
            K::Float => Some(Scalar::F32),
            _ => None,
        },
        _ => None,
    }
}

/// Each kernel's Rust parameter block (`kernel_params!`) has the layout of the WGSL struct
/// bound at group 0, binding 0: the same fields in the same order, names, types and byte
/// offsets, and the same size.
#[test]
fn every_params_struct_matches_its_wgsl() {
    let kernels = all_kernels();
    for k in &kernels {
        let module = naga::front::wgsl::parse_str(&k.source)
            .unwrap_or_else(|e| panic!("{}: {}", k.key, e.emit_to_string(&k.source)));
        let (_, var) = module
            .global_variables
            .iter()
            .find(|(_, v)| {
                v.binding
                    .as_ref()
                    .is_some_and(|b| b.group == 0 && b.binding == 0)
            })
            .unwrap_or_else(|| panic!("{}: no binding 0", k.key));
        assert_eq!(
            var.space,
            naga::AddressSpace::Uniform,
            "{}: binding 0",
            k.key
        );
        let naga::TypeInner::Struct { members, span } = &module.types[var.ty].inner else {
            panic!("{}: binding 0 is not a struct", k.key);
        };
        let rust = k.params;
        let wgsl: Vec<(String, usize, Option<Scalar>)> = members
            .iter()
            .map(|m| {
                (
                    m.name.clone().unwrap_or_default(),
                    m.offset as usize,
                    scalar_of(&module, m.ty),
                )
            })
            .collect();
        let ours: Vec<(String, usize, Option<Scalar>)> = rust
            .fields
            .iter()
            .map(|f| (f.name.to_string(), f.offset, Some(f.scalar)))
            .collect();
        assert_eq!(
            wgsl, ours,
            "{}: WGSL struct Params vs Rust {} (name, offset, type)",
            k.key, rust.name
        );
        assert_eq!(
            *span as usize, rust.size,
            "{}: size of {}",
            k.key, rust.name
        );
        eprintln!(
            "{:<40} {} fields, {} bytes: matches {}",
            k.key,
            ours.len(),
            rust.size,
            rust.name
        );
    }
}

/// Every file under `shaders/` is the source of a kernel that an op module (or the optimizer)
/// declares, or a template part one of them includes: no shader is left unvalidated.
#[test]
fn every_shader_file_belongs_to_a_kernel() {
    fn walk(dir: &Path, root: &Path, files: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, files);
            } else if p.extension().and_then(|e| e.to_str()) == Some("wgsl") {
                files.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let kernels = all_kernels();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    // Template parts are named in the `//# include` lines of the kernels' own files.
    let sources: Vec<String> = kernels
        .iter()
        .map(|k| std::fs::read_to_string(root.join(k.file)).unwrap())
        .collect();
    for f in &files {
        let used = f == "common.wgsl"
            || kernels.iter().any(|k| k.file == f)
            || sources
                .iter()
                .any(|t| t.contains(&format!("//# include \"{f}\"")));
        assert!(
            used,
            "shaders/{f} is not the source of any kernel an op module declares"
        );
    }
    eprintln!("{} shader files, each used", files.len());
}

/// Compute entry points live in `shaders/` only: Rust sources hold no WGSL.
#[test]
fn no_entry_point_in_rust_sources() {
    fn walk(dir: &Path, hits: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, hits);
            } else if p.extension().and_then(|e| e.to_str()) == Some("rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                if text.contains(concat!("@", "compute")) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    let mut hits = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "WGSL entry points in Rust sources: {hits:?}"
    );
}
