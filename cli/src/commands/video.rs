//! Videos: frames piped to `ffmpeg` (raw RGB24 in, H.264 yuv420p MP4 out) when it is on PATH,
//! else the animated GIF the commands wrote before; no video library in the binary.
//!
//! ffmpeg writes a hidden temporary file beside the output, which is then written through
//! `io::atomic::write_atomic` like every other output (no half-written video under the real
//! name) and removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use stylegan_wgpu::io::frames::{even_size, rgb24_even, upscale_nearest};
use stylegan_wgpu::io::images::save_gif;

/// The ffmpeg program: `STYLEGAN_FFMPEG` if set, else `ffmpeg` from PATH.
fn program() -> String {
    std::env::var("STYLEGAN_FFMPEG").unwrap_or_else(|_| "ffmpeg".into())
}

/// Whether ffmpeg runs (`ffmpeg -version` succeeds).
pub fn ffmpeg_available() -> bool {
    Command::new(program())
        .arg("-version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes CHW frames in [-1, 1] as an H.264 MP4 at `fps` frames per second, each pixel
/// repeated `upscale` x `upscale` times, through ffmpeg.
pub fn write_mp4(
    path: &Path,
    frames: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    fps: f64,
    upscale: usize,
) -> Result<()> {
    if frames.is_empty() {
        bail!("{}: a video needs at least one frame", path.display());
    }
    let (uh, uw) = (h * upscale, w * upscale);
    let (eh, ew) = even_size(uh, uw);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video.mp4".into());
    let tmp = dir.join(format!(".{name}.ffmpeg{}.mp4", std::process::id()));
    let mut child = Command::new(program())
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
        ])
        .args(["-s", &format!("{ew}x{eh}"), "-framerate", &format!("{fps}")])
        .args(["-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(["-movflags", "+faststart"])
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("{}: cannot start {}", path.display(), program()))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut fed = Ok(());
    for f in frames {
        let up = upscale_nearest(f, c, h, w, upscale)?;
        // A write error means ffmpeg stopped; its own message says why.
        if let Err(e) = stdin.write_all(&rgb24_even(&up, c, uh, uw)?) {
            fed = Err(e);
            break;
        }
    }
    drop(stdin);
    let out = child.wait_with_output().context("waiting for ffmpeg")?;
    let result = (|| {
        if !out.status.success() || fed.is_err() {
            bail!(
                "{}: ffmpeg failed ({}): {}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let bytes = stylegan_wgpu::io::read_file(&tmp)?;
        stylegan_wgpu::io::atomic::write_atomic(path, &bytes)?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// The frames as an MP4 at `mp4` when ffmpeg is available, else as a GIF beside it (same name,
/// `.gif`), saying so; every pixel repeated `upscale` times each way. Returns the file written.
pub fn write_video(
    mp4: &Path,
    frames: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    fps: f64,
    upscale: usize,
) -> Result<PathBuf> {
    if ffmpeg_available() {
        write_mp4(mp4, frames, c, h, w, fps, upscale)?;
        return Ok(mp4.to_path_buf());
    }
    let gif = mp4.with_extension("gif");
    eprintln!(
        "note: no ffmpeg on PATH (or STYLEGAN_FFMPEG): writing {} instead of {}",
        gif.display(),
        mp4.display()
    );
    save_gif_upscaled(&gif, frames, c, h, w, fps, upscale)?;
    Ok(gif)
}

/// `save_gif` of the frames upscaled `upscale` times, at `fps` (GIF delays are in 10 ms).
pub fn save_gif_upscaled(
    path: &Path,
    frames: &[Vec<f32>],
    c: usize,
    h: usize,
    w: usize,
    fps: f64,
    upscale: usize,
) -> Result<()> {
    let delay_ms = (1000.0 / fps).round().clamp(10.0, u32::MAX as f64) as u32;
    if upscale == 1 {
        save_gif(path, frames, c, h, w, delay_ms)?;
        return Ok(());
    }
    stylegan_wgpu::limits::check_host_bytes(
        &format!(
            "{} ({} frames upscaled {upscale}x)",
            path.display(),
            frames.len()
        ),
        (frames.len() as u64).saturating_mul((c * h * w * upscale * upscale * 4) as u64),
    )?;
    let up = frames
        .iter()
        .map(|f| upscale_nearest(f, c, h, w, upscale))
        .collect::<stylegan_wgpu::Result<Vec<_>>>()?;
    save_gif(path, &up, c, h * upscale, w * upscale, delay_ms)?;
    Ok(())
}
