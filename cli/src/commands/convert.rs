//! `stylegan convert`: an official pickle (or any model file) to our safetensors, or a PyTorch
//! checkpoint (`.pth`, e.g. pytorch-fid's Inception weights) to plain f32 safetensors.

use std::path::PathBuf;

use anyhow::{Context, Result};

use clap::Args;
use stylegan_wgpu::io::atomic::{resolve_target, same_file};
use stylegan_wgpu::io::torch_checkpoint;

/// Convert an official .pkl or a PyTorch checkpoint to .safetensors.
///
/// An official StyleGAN .pkl gives G, D and Gs (nothing in the pickle runs); a PyTorch
/// checkpoint (.pth/.pt state dict) gives the same tensor names.
///
/// A PyTorch checkpoint is recognized by its content (zip or legacy torch.save format), whatever
/// its extension; its tensors are written as f32 (double, half and integer tensors converted).
/// The output must be another file than the input (also through a symlink or a hard link):
/// converting in place would replace the original. It is written atomically.
///
/// Example: stylegan convert karras2019stylegan-ffhq-1024x1024.pkl ffhq.safetensors
///
/// Example: stylegan convert pt_inception-2015-12-05-6726825d.pth inception.safetensors
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct ConvertArgs {
    /// The official pickle, a PyTorch checkpoint (.pth), or a .safetensors to rewrite.
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
    if is_torch_checkpoint(&a.input) {
        return convert_torch(a);
    }
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

/// Whether `path` starts like a PyTorch checkpoint (a zip archive or the legacy magic). A file
/// that cannot be opened is not, and the model loader reports the error.
fn is_torch_checkpoint(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    let n = std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .and_then(|_| std::fs::File::open(path).ok())
        .and_then(|mut f| f.read(&mut head).ok())
        .unwrap_or(0);
    torch_checkpoint::sniff_format(&head[..n]).is_some()
}

fn convert_torch(a: &ConvertArgs) -> Result<()> {
    if !a.only.is_empty() {
        anyhow::bail!(
            "--only selects networks of a StyleGAN model; {} is a PyTorch checkpoint, whose \
             tensors are all converted",
            a.input.display()
        );
    }
    let sd = torch_checkpoint::read_torch_checkpoint(&a.input)?;
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("source".to_string(), "pytorch-checkpoint".to_string());
    stylegan_wgpu::io::safetensors::save_tensors(&a.output, &sd.tensors, &meta)?;
    let n: usize = sd.tensors.iter().map(|(_, t)| t.data.len()).sum();
    println!(
        "wrote {} ({} tensors, {n} values, f32)",
        a.output.display(),
        sd.len()
    );
    Ok(())
}
