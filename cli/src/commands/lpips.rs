//! `stylegan lpips`: the LPIPS distance of two images, comparable with the lpips package.

use crate::commands::flags;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::GpuArgs;
use stylegan_wgpu::eval::image_input::repeat_to_rgb;
use stylegan_wgpu::io::images::load_image_chw;
use stylegan_wgpu::io::tensors::load_lpips;

/// LPIPS distance (VGG16) between two images.
///
/// v0.1 with the VGG16 backbone, as the lpips package's `lpips.LPIPS(net='vgg')(a, b)`
/// computes it.
///
/// Both images must have the same size (at least 16x16); pixels are scaled to [-1, 1]
/// (`lpips.im2tensor`) and a grayscale image is repeated to RGB. The weights: torchvision's
/// VGG16 (vgg16-397923af.pth, from https://download.pytorch.org/models/vgg16-397923af.pth)
/// and the package's linear layers, lpips/weights/v0.1/vgg.pth (in `pip download lpips`).
///
/// Examples:
///   stylegan lpips a.png b.png --vgg vgg16-397923af.pth --lin lpips/weights/v0.1/vgg.pth
///   stylegan lpips a.png b.png --vgg vgg16.safetensors --lin vgg.pth --json d.json
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct LpipsCmdArgs {
    /// The first image (PNG or JPEG; gray is repeated to RGB); both must have one size, at
    /// least 16x16 (VGG16's pooling).
    pub a: PathBuf,
    /// The second image.
    pub b: PathBuf,
    /// torchvision's VGG16 weights (.pth, or a safetensors conversion by `stylegan convert`).
    #[arg(long)]
    pub vgg: PathBuf,
    /// The lpips package's linear layers (lpips/weights/v0.1/vgg.pth).
    #[arg(long)]
    pub lin: PathBuf,
    /// Also write {"lpips": …} to this file.
    #[arg(long, value_parser = flags::out_json)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

pub fn run(a: &LpipsCmdArgs) -> Result<()> {
    let (xa, ca, ha, wa) = load_image_chw(&a.a).with_context(|| format!("{}", a.a.display()))?;
    let (xb, cb, hb, wb) = load_image_chw(&a.b).with_context(|| format!("{}", a.b.display()))?;
    if (ha, wa) != (hb, wb) {
        bail!(
            "{} is {wa}x{ha} and {} is {wb}x{hb}: LPIPS compares images of one size",
            a.a.display(),
            a.b.display()
        );
    }
    let min = stylegan_wgpu::eval::vgg16::MIN_SIDE;
    if ha < min || wa < min {
        bail!(
            "{} is {wa}x{ha}: LPIPS-VGG16 needs at least {min}x{min}",
            a.a.display()
        );
    }
    let gpu = a.gpu.open_short()?;
    let lpips = load_lpips(&gpu, &a.vgg, &a.lin)
        .with_context(|| format!("--vgg {} --lin {}", a.vgg.display(), a.lin.display()))?;
    let plane = ha * wa;
    let (ra, rb) = (repeat_to_rgb(&xa, ca, plane), repeat_to_rgb(&xb, cb, plane));
    let d = lpips.distance_images(&ra, &rb, 1, 3, ha, wa)?[0];
    println!("{d:.8}");
    if let Some(p) = &a.json {
        let v = serde_json::json!({ "lpips": d });
        stylegan_wgpu::io::atomic::write_atomic(p, format!("{v}\n").as_bytes())?;
    }
    Ok(())
}
