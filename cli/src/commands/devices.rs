//! `stylegan devices`: every adapter wgpu can open, in the order `--adapter <index>` uses.
//! Without `--backend` the primary backends (Vulkan, Metal, DX12) are listed, then the GL
//! adapters, which are chosen with `--backend gl` (numbered among themselves).

use anyhow::Result;
use stylegan_wgpu::gpu::{list_adapters, AdapterSummary};

pub fn run(backend: Option<String>, json: bool) -> Result<()> {
    let adapters = list_adapters(backend.as_deref())?;
    // GL adapters run too (the GL backend passes the generator's reference tests) but are
    // not among the primary backends a plain `--adapter N` picks from.
    let gl = match backend {
        None => list_adapters(Some("gl")).unwrap_or_default(),
        Some(_) => Vec::new(),
    };
    if json {
        let all: Vec<&AdapterSummary> = adapters.iter().chain(&gl).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if adapters.is_empty() && gl.is_empty() {
        anyhow::bail!(
            "no GPU adapter found{}; install a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers libvulkan1)",
            backend.map(|b| format!(" for backend {b}")).unwrap_or_default()
        );
    }
    table(&adapters);
    if !gl.is_empty() {
        println!("\nwith --backend gl (STYLEGAN_BACKEND=gl):");
        table(&gl);
    }
    println!("\nchoose with STYLEGAN_BACKEND=<backend> STYLEGAN_ADAPTER=<# or name substring>");
    println!("coop f16 = yes: STYLEGAN_F16=1 runs convs on f16 tensor cores when generating");
    Ok(())
}

fn table(adapters: &[AdapterSummary]) {
    println!(
        "{:<3} {:<40} {:<8} {:<14} {:<10} {:<9} driver",
        "#", "name", "backend", "type", "subgroups", "coop f16"
    );
    for a in adapters {
        let sg = if a.subgroups {
            format!("{}-{}", a.subgroup_size.0, a.subgroup_size.1)
        } else {
            "no".into()
        };
        let coop = if a.coop_f16 { "yes" } else { "no" };
        println!(
            "{:<3} {:<40} {:<8} {:<14} {:<10} {:<9} {} {}",
            a.index, a.name, a.backend, a.device_type, sg, coop, a.driver, a.driver_info
        );
        if !a.coop_matrix.is_empty() {
            println!("    cooperative matrices: {}", a.coop_matrix.join(", "));
        }
    }
}
