//! `stylegan devices`: every adapter wgpu can open, in the order `--adapter <index>` uses.

use crate::gpu::list_adapters;
use anyhow::Result;

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
        "{:<3} {:<40} {:<8} {:<14} {:<10} driver",
        "#", "name", "backend", "type", "subgroups"
    );
    for a in &adapters {
        let sg = if a.subgroups {
            format!("{}-{}", a.subgroup_size.0, a.subgroup_size.1)
        } else {
            "no".into()
        };
        println!(
            "{:<3} {:<40} {:<8} {:<14} {:<10} {} {}",
            a.index, a.name, a.backend, a.device_type, sg, a.driver, a.driver_info
        );
    }
    println!("\nchoose with STYLEGAN_BACKEND=<backend> STYLEGAN_ADAPTER=<# or name substring>");
    Ok(())
}
