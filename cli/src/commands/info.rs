//! `stylegan info`: config, parameter counts per network, and the layer table.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use stylegan_wgpu::nn::params::{layer_channels, layer_scope, layer_side};

/// Describes a model: config, parameters per network, synthesis layers.
///
/// Example: stylegan info ffhq.safetensors
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct InfoArgs {
    /// Model file (.safetensors or official .pkl); default: the embedded model.
    pub model: Option<PathBuf>,
}

pub fn run(a: &InfoArgs) -> Result<()> {
    let m = super::common::load_model_or_default(a.model.as_deref())?.into_file();
    let c = &m.config;
    println!("model: {}", super::common::model_name(a.model.as_deref()));
    for (k, v) in &m.metadata {
        println!("{k}: {v}");
    }
    if c.is_conditional() {
        println!(
            "classes: {} (class-conditional, label_size {}): {}",
            c.label_size,
            c.label_size,
            c.class_list()
        );
    } else {
        println!("classes: unconditional (label_size 0)");
    }
    println!("config: {}", serde_json::to_string_pretty(c)?);
    println!("\nnetworks:");
    for (net, w) in &m.nets {
        let n: usize = w.values().map(|t| t.data.len()).sum();
        println!("  {net:<3} {n:>12} values in {} variables", w.len());
    }
    println!("\nsynthesis layers (w index, scope, output side, channels):");
    for i in 0..c.num_layers() {
        let up = if i >= 2 && i % 2 == 0 {
            if c.fused_up(layer_side(i)) {
                " (fused up-conv)"
            } else {
                " (nearest up + conv)"
            }
        } else {
            ""
        };
        println!(
            "  {i:>2}  {:<22} {:>5}  {:>4}{up}",
            layer_scope(i),
            layer_side(i),
            layer_channels(c, i)
        );
    }
    Ok(())
}
