//! `stylegan convert`: an official pickle (or any model file) to our safetensors.

use std::path::PathBuf;

use anyhow::{Context, Result};

use clap::Args;
use stylegan_wgpu::io::atomic::{resolve_target, same_file};

/// Convert an official StyleGAN .pkl to .safetensors (G, D and Gs; nothing in the pickle runs).
///
/// The output must be another file than the input (also through a symlink or a hard link):
/// converting in place would replace the original. It is written atomically.
///
/// Example: stylegan convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.safetensors
#[derive(Args, Debug)]
pub struct ConvertArgs {
    /// The official pickle (or a .safetensors to rewrite).
    pub input: PathBuf,
    /// Output .safetensors, written atomically; it must be another file than the input
    /// (also through a symlink or hard link), since converting in place would replace it.
    pub output: PathBuf,
    /// Keep only these networks, e.g. `--only Gs` for a small file that can generate
    /// but not train.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

pub fn run(a: &ConvertArgs) -> Result<()> {
    if same_file(&a.input, &a.output) {
        anyhow::bail!(
            "{} and {} are the same file; converting in place would replace the input, so \
             give another output path",
            a.input.display(),
            a.output.display()
        );
    }
    resolve_target(&a.output).context("output")?;
    let mut m = super::common::load_model(&a.input)?;
    if !a.only.is_empty() {
        for n in &a.only {
            if !m.nets.contains_key(n) {
                anyhow::bail!(
                    "--only {n}: {} has no network '{n}' (it has {:?})",
                    a.input.display(),
                    m.nets.keys().collect::<Vec<_>>()
                );
            }
        }
        m.nets.retain(|k, _| a.only.contains(k));
        m.metadata
            .retain(|k, _| k != "train_config" && k != "train_state");
    }
    stylegan_wgpu::io::safetensors::save(&a.output, &m)?;
    for (net, w) in &m.nets {
        let n: usize = w.values().map(|t| t.data.len()).sum();
        println!("  {net:<3} {:>4} variables, {n:>10} values", w.len());
    }
    println!(
        "wrote {} (resolution {})",
        a.output.display(),
        m.config.resolution
    );
    Ok(())
}
