//! `stylegan convert`: an official pickle (or any model file) to our safetensors.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

/// Convert an official StyleGAN .pkl to .safetensors (G, D and Gs; nothing in the pickle runs).
///
/// Example: stylegan convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.safetensors
#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The official pickle (or a .safetensors to rewrite).
    pub input: PathBuf,
    /// Output .safetensors.
    pub output: PathBuf,
}

pub fn run(a: &ConvertArgs) -> Result<()> {
    let m = super::common::load_model(&a.input)?;
    crate::io::safetensors::save(&a.output, &m)?;
    for (net, w) in &m.nets {
        let n: usize = w.values().map(|t| t.data.len()).sum();
        println!("  {net:<3} {:>4} variables, {n:>10} values", w.len());
    }
    println!("wrote {} (resolution {})", a.output.display(), m.config.resolution);
    Ok(())
}
