//! What a training run writes in its output folder, and how the names go.
//!
//! Snapshot names: `network-snapshot-<kimg:06>.safetensors` at a whole kimg (the official
//! form), else `network-snapshot-<kimg:06>_<images past it:03>.safetensors` (12.5 kimg:
//! `network-snapshot-000012_500`), so snapshots less than 1 kimg apart never overwrite each
//! other and sorting the names sorts them in training order. `fakes-*.png` follow the same
//! rule. `log.jsonl` holds one line per logging tick, `metric-<name>.jsonl` one per
//! measurement.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::gpu::Tensor;
use crate::io::atomic::write_atomic;
use crate::io::images::save_grid_png;
use crate::io::safetensors::save;
use crate::nn::config::Config;
use crate::nn::generator::NoiseMode;
use crate::tape::{no_grad, Var};
use crate::train::Trainer;

/// Images in the fake grids written with each snapshot.
pub const GRID_IMAGES: usize = 64;

/// Creates the output folder and removes the temporary files of snapshot writes that a
/// killed run left behind (`.name.tmpPID`); the snapshots themselves are only ever renamed
/// into place complete.
pub fn prepare(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".network-snapshot-") && name.contains(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

/// The training position in snapshot and fake-grid names (see the module docs): `000012`
/// at 12 kimg, `000012_500` at 12.5 kimg.
pub fn position_tag(nimg: u64) -> String {
    let (kimg, rest) = (nimg / 1000, nimg % 1000);
    if rest == 0 {
        format!("{kimg:06}")
    } else {
        format!("{kimg:06}_{rest:03}")
    }
}

/// `path` itself when it is a file; for a run directory, its latest snapshot: the
/// `network-snapshot-<kimg>.safetensors` with the most images (the names sort in training
/// order, see `position_tag`). What `--resume` accepts.
pub fn latest_snapshot(path: &Path) -> Result<PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    let io = |e| Error::Io {
        path: path.display().to_string(),
        source: e,
    };
    let mut best: Option<(u64, PathBuf)> = None;
    for ent in std::fs::read_dir(path).map_err(io)? {
        let p = ent.map_err(io)?.path();
        let Some(tag) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("network-snapshot-"))
            .and_then(|n| n.strip_suffix(".safetensors"))
        else {
            continue;
        };
        let (kimg, rest) = tag.split_once('_').unwrap_or((tag, "0"));
        let (Ok(k), Ok(r)) = (kimg.parse::<u64>(), rest.parse::<u64>()) else {
            continue;
        };
        let nimg = k * 1000 + r;
        if best.as_ref().is_none_or(|(b, _)| nimg > *b) {
            best = Some((nimg, p));
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        crate::Error::Invalid(format!(
            "{}: a folder without network-snapshot-*.safetensors; give a snapshot file or the \
             run directory that holds them",
            path.display()
        ))
    })
}

/// Fixed latents for the progress grids: the official latents of seeds `0..n`.
pub fn grid_latents(cfg: &Config, n: usize) -> Vec<f32> {
    (0..n as u32)
        .flat_map(|s| crate::rng::seed_latent(s, cfg.latent_size))
        .collect()
}

/// Gs's images of latents `z` (constant noise, the current level of detail) as a square grid;
/// on a class-conditional model image `i` is of class `i mod label_size`
/// (`labels::class_of_seed` of the grid's seeds).
pub fn write_fakes(t: &Trainer, z: &[f32], path: &Path) -> Result<()> {
    let c = &t.cfg;
    let k = c.latent_size;
    let n = z.len() / k;
    let per = c.num_channels * c.resolution * c.resolution;
    let mut images = Vec::with_capacity(n);
    for start in (0..n).step_by(16) {
        let b = 16.min(n - start);
        let x = no_grad(|| -> Result<Vec<f32>> {
            let zb = Var::constant(Tensor::from_slice(
                &t.gpu,
                &[b, k],
                &z[start * k..(start + b) * k],
            )?);
            let classes: Vec<u32> = (start..start + b)
                .map(|i| crate::nn::labels::class_of_seed(c, i as u32))
                .collect();
            let labels = crate::nn::labels::class_labels(
                &t.gpu,
                c,
                c.is_conditional().then_some(&classes[..]),
            )?;
            t.gs.generate_lod(&zb, labels.as_ref(), 1.0, 0, NoiseMode::Const, t.lod())?
                .to_vec()
        })?;
        images.extend(x.chunks(per).map(|v| v.to_vec()));
    }
    save_grid_png(
        path,
        &images,
        c.num_channels,
        c.resolution,
        c.resolution,
        (n as f64).sqrt().ceil() as usize,
    )
}

/// Writes the snapshot of `t` and its fake grid in `dir`; returns the snapshot's path.
pub fn write_snapshot(t: &Trainer, grid_z: &[f32], dir: &Path) -> Result<PathBuf> {
    let tag = position_tag(t.state.cur_nimg);
    let path = dir.join(format!("network-snapshot-{tag}.safetensors"));
    save(&path, &t.snapshot()?)?;
    write_fakes(t, grid_z, &dir.join(format!("fakes-{tag}.png")))?;
    Ok(path)
}

/// Drops the lines of `log` (log.jsonl) after `step`, before a run resumed at `step` writes
/// them again; also a torn last line (no newline) that a killed run left. Lines that are not
/// ours (no JSON `step`) are kept. Returns how many lines were dropped.
pub fn drop_log_after(log: &Path, step: u64) -> Result<usize> {
    let text = match std::fs::read_to_string(log) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(Error::Io {
                path: log.display().to_string(),
                source,
            })
        }
    };
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.split_inclusive('\n') {
        let later = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
            .is_some_and(|s| s > step);
        if later || !line.ends_with('\n') {
            dropped += 1;
        } else {
            kept.push_str(line);
        }
    }
    if dropped > 0 {
        write_atomic(log, kept.as_bytes())?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::position_tag;

    #[test]
    fn position_tags_sort_in_training_order() {
        assert_eq!(position_tag(12_000), "000012");
        assert_eq!(position_tag(12_500), "000012_500");
        assert_eq!(position_tag(8), "000000_008");
        let mut tags: Vec<String> = [8, 1000, 16, 12_500, 12_000]
            .iter()
            .map(|&n| position_tag(n))
            .collect();
        tags.sort();
        assert_eq!(
            tags,
            ["000000_008", "000000_016", "000001", "000012", "000012_500"]
        );
    }
}
