//! `stylegan devices`: every adapter wgpu can open, in the order `--adapter <index>` uses.

use anyhow::Result;
use stylegan_wgpu::gpu::list_adapters;

pub fn run(backend: Option<String>, json: bool) -> Result<()> {
    let adapters = list_adapters(backend.as_deref())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&adapters)?);
        return Ok(());
    }
    if adapters.is_empty() {
        anyhow::bail!(
            "no GPU adapter found{}; install a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers libvulkan1)",
            backend.map(|b| format!(" for backend {b}")).unwrap_or_default()
        );
    }
    println!(
        "{:<3} {:<40} {:<8} {:<14} {:<10} {:<9} driver",
        "#", "name", "backend", "type", "subgroups", "coop f16"
    );
    for a in &adapters {
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
    println!("\nchoose with STYLEGAN_BACKEND=<backend> STYLEGAN_ADAPTER=<# or name substring>");
    println!("coop f16 = yes: STYLEGAN_F16=1 runs convs on f16 tensor cores when generating");
    Ok(())
}
