//! Every `.wgsl` in `shaders/` (with the shared prelude, as the `kernel!` macro builds it)
//! parses and validates with naga, with the capabilities the kernels may use.
//! Needs no GPU.

use std::path::Path;

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
        let src = format!("{prelude}{body}");
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&src)));
        let caps = naga::valid::Capabilities::SUBGROUP;
        let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps);
        v.subgroup_stages(naga::valid::ShaderStages::COMPUTE);
        v.subgroup_operations(naga::valid::SubgroupOperationSet::all());
        v.validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&src)));
        eprintln!("validated {}", path.file_name().unwrap().to_string_lossy());
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} shaders found in {}",
        dir.display()
    );
}
