//! Resuming from a snapshot: the flags that contradict it are refused, by name, before
//! anything slow happens.

use std::path::Path;

use anyhow::{bail, Result};

use super::super::common::ArchArgs;
use stylegan_wgpu::io::safetensors::Checkpoint;
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::train::TrainConfig;

/// Refuses architecture flags that disagree with the snapshot `m` at `snap`, and
/// `--progressive` on a run that trains at a fixed resolution.
pub fn check(arch: &ArchArgs, progressive: bool, snap: &Path, m: &Checkpoint) -> Result<()> {
    let conflicts = arch_conflicts(arch, &m.config)?;
    if !conflicts.is_empty() {
        bail!(
            "--resume {}: the snapshot's network differs from {}; a resumed run keeps \
             the snapshot's architecture: drop these flags or make them match",
            snap.display(),
            conflicts.join(", ")
        );
    }
    if progressive {
        let tc = TrainConfig::of_snapshot(m)?;
        if !tc.progressive {
            bail!("--progressive: the resumed run trains at a fixed resolution; drop the flag");
        }
    }
    Ok(())
}

/// The architecture flags that disagree with the network of the snapshot being resumed, each
/// as `--flag value (snapshot: value)`.
fn arch_conflicts(arch: &ArchArgs, snap: &Config) -> Result<Vec<String>> {
    let mut out = Vec::new();
    // (flag, value given, snapshot's value, config fields the flag sets)
    let flags: [(&str, Option<usize>, usize, &[&str]); 4] = [
        ("fmap-base", arch.fmap_base, snap.fmap_base, &["fmap_base"]),
        ("fmap-max", arch.fmap_max, snap.fmap_max, &["fmap_max"]),
        (
            "latent-size",
            arch.latent_size,
            snap.latent_size,
            &["latent_size", "dlatent_size", "mapping_fmaps"],
        ),
        (
            "mapping-layers",
            arch.mapping_layers,
            snap.mapping_layers,
            &["mapping_layers"],
        ),
    ];
    for (flag, given, has, _) in &flags {
        if let Some(v) = given.filter(|v| v != has) {
            out.push(format!("--{flag} {v} (snapshot: {has})"));
        }
    }
    if let Some(preset) = &arch.preset {
        // The preset at the snapshot's size with the other flags applied: a field that still
        // differs, and that no flag set, is one the preset fixes and the snapshot does not have.
        let mut want = arch.config(Some(snap.resolution), Some(snap.num_channels))?;
        want.progressive = snap.progressive;
        // The classes come from the data (and --class-names), not the preset; the caller checks
        // the class flags.
        want.label_size = snap.label_size;
        want.class_names = snap.class_names.clone();
        let (want, has) = (serde_json::to_value(&want)?, serde_json::to_value(snap)?);
        let set_by_flags: Vec<&str> = flags
            .iter()
            .filter(|f| f.1.is_some())
            .flat_map(|f| f.3.iter().copied())
            .collect();
        let diffs: Vec<String> = want
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !set_by_flags.contains(&k.as_str()) && has.get(k) != Some(v))
            .map(|(k, v)| {
                let h = has.get(k).map_or("none".to_string(), |h| h.to_string());
                format!("{k} {v}, snapshot: {h}")
            })
            .collect();
        if !diffs.is_empty() {
            out.push(format!("--preset {preset} ({})", diffs.join("; ")));
        }
    }
    Ok(out)
}
