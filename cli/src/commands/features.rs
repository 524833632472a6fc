//! `stylegan features` and `stylegan fid`: the features of image sets, and FID and KID between
//! two of them.

use crate::commands::flags;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::common::GpuArgs;
use super::feature_net::{load_net_dims, FeatureNetArgs};
use super::fit::FitArgs;
use super::progress::Bars;
use stylegan_wgpu::data::Dataset;
use stylegan_wgpu::io::npy::write_npy;
use stylegan_wgpu::metrics::features::dataset_features_each;
use stylegan_wgpu::metrics::networks::LoadedNet;
use stylegan_wgpu::metrics::runner::real_features;
use stylegan_wgpu::metrics::{fid_moments, kid, KidOptions, Moments};

/// Inception pool features of an image set, as .npy.
///
/// `[N, 2048]` f32 in file-name order (`[N, 128]` with the Fashion-MNIST network).
///
/// Images are quantized to 8 bits, grayscale repeated to RGB, resized bilinearly to 299x299
/// and scaled to [-1, 1], as pytorch-fid does, so the features can be compared with any other
/// implementation's.
///
/// Examples:
///   stylegan features images/ --inception pt_inception-2015-12-05-6726825d.pth --out f.npy
///   stylegan features data.zip --inception inception.safetensors --out f.npy --max-images 1000
///   stylegan features /usr/share/datasets/fashion-mnist --features fmnist --out f.npy
///   stylegan features digits28/ --transform pad --features fmnist --out f.npy   (28x28 -> 32x32)
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct FeaturesArgs {
    /// Images: a folder, a .zip or an IDX file (one square size, or fitted by --resize /
    /// --transform).
    pub images: PathBuf,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub net: FeatureNetArgs,
    /// Output .npy, [N, 2048] float32 ([N, --dims], [N, 128] with --classifier, [N, 4096] with
    /// --vgg16).
    #[arg(long, value_parser = flags::out_npy)]
    pub out: PathBuf,
    /// Images per GPU batch.
    #[arg(long, visible_alias = "batch-size", value_parser = flags::batch, default_value_t = 16)]
    pub batch: usize,
    /// Use only the first N images (in file-name order).
    #[arg(long, value_parser = flags::positive_count)]
    pub max_images: Option<usize>,
    /// Inception features of pytorch-fid's --dims (see `stylegan fid --help`): 64, 192, 768
    /// or 2048. [default: 2048 with --inception]
    #[arg(long, value_parser = flags::fid_dims)]
    pub dims: Option<usize>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// Fréchet Inception Distance (and KID) between two image sets.
///
/// Like `python -m pytorch_fid A B`; KID too with --kid.
///
/// FID uses the unbiased covariance (÷ N−1) as pytorch-fid and numpy do. KID is the official
/// kid50k estimate (100 subsets of at most 1000 images, cubic kernel, unbiased MMD²), printed
/// ×10³ as the papers report it.
///
/// Either set may be statistics instead of images: an .npz with `mu` and `sigma`, as
/// pytorch-fid's `--save-stats` and this command's --save-stats write them, so precomputed
/// statistics of a dataset serve both programs.
///
/// Examples:
///   stylegan fid real/ fake/ --inception pt_inception-2015-12-05-6726825d.pth
///   stylegan fid real.zip fake/ --inception inception.safetensors --kid --json fid.json
///   stylegan fid train-images-idx3-ubyte.gz t10k-images-idx3-ubyte.gz --kid   (fmnist features)
///   stylegan fid train-images-idx3-ubyte.gz digits28/ --transform pad   (28x28 PNGs padded)
///   stylegan fid real.zip --inception inception.pth --save-stats real.npz      (statistics only)
///   stylegan fid real.npz fake/ --inception inception.pth --batch-size 50 --dims 2048
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct FidArgs {
    /// First set: images (a folder, a .zip or an IDX file) or statistics (.npz with mu and
    /// sigma).
    pub a: PathBuf,
    /// Second set, the same; may be left out with --save-stats.
    #[arg(required_unless_present = "save_stats")]
    pub b: Option<PathBuf>,
    #[command(flatten)]
    pub fit: FitArgs,
    #[command(flatten)]
    pub net: FeatureNetArgs,
    /// Images per GPU batch.
    #[arg(long, visible_alias = "batch-size", value_parser = flags::batch, default_value_t = 16)]
    pub batch: usize,
    /// Also compute KID (images only: statistics do not hold what KID needs).
    #[arg(long)]
    pub kid: bool,
    /// Inception features of pytorch-fid's --dims: 64 (first max pool), 192 (second max
    /// pool), 768 (Mixed_6e, before the auxiliary classifier) or 2048 (final average pool,
    /// the standard), each averaged over its spatial positions. FIDs of different dims are
    /// not comparable. [default: 2048 with --inception]
    #[arg(long, value_parser = flags::fid_dims)]
    pub dims: Option<usize>,
    /// Write the first set's statistics (mu, sigma as float64) to this .npz, as pytorch-fid's
    /// `--save-stats` does; a later `stylegan fid OUT.npz B` or `python -m pytorch_fid
    /// OUT.npz B` reuses them.
    #[arg(long, value_parser = flags::out_stats, value_name = "OUT.npz")]
    pub save_stats: Option<PathBuf>,
    /// Write {"fid": …, "kid": …, "n_a": …, "n_b": …} to this file (kid ×10³, null without
    /// --kid).
    #[arg(long, value_parser = flags::out_json)]
    pub json: Option<PathBuf>,
    /// Use only the first N images of each set.
    #[arg(long, value_parser = flags::positive_count)]
    pub max_images: Option<usize>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// Opens an image set fitted by `fit`; errors name `flag` and the path.
pub fn open_images(flag: &str, path: &Path, fit: &FitArgs) -> Result<Dataset> {
    let hint = if !path.exists() && path.to_string_lossy().to_lowercase().contains("mnist") {
        " (Debian's dataset-fashion-mnist package installs Fashion-MNIST in \
         /usr/share/datasets/fashion-mnist)"
    } else {
        ""
    };
    let ds = Dataset::open(path, &fit.options())
        .with_context(|| format!("{flag} {}{hint}", path.display()))?;
    for w in &ds.info().warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    Ok(ds)
}

/// Features of the first `max` (default all) images of `ds`, with a progress bar.
fn set_features(
    net: &LoadedNet,
    ds: &Dataset,
    max: Option<usize>,
    batch: usize,
) -> Result<Vec<f32>> {
    let n = max.map_or(ds.len(), |m| m.min(ds.len()));
    Ok(real_features(
        net,
        ds,
        n,
        batch,
        None,
        &mut Bars::default(),
    )?)
}

pub fn check_batch(batch: usize) -> Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    Ok(())
}

pub fn features(a: &FeaturesArgs) -> Result<()> {
    check_batch(a.batch)?;
    let ds = open_images("images", &a.images, &a.fit)?;
    let choice = a.net.choose(ds.info().channels, ds.info().resolution)?;
    let gpu = a.gpu.open()?;
    let l = load_net_dims(&choice, &gpu, a.dims)?;
    eprintln!("{} features on {}", l.name, gpu.describe());
    let want = a.max_images.map_or(ds.len(), |m| m.min(ds.len()));
    let d = l.net.dim();
    stylegan_wgpu::limits::check_host_bytes(
        &format!("--out ({want} x {d} features)"),
        (want as u64).saturating_mul(d as u64 * 4),
    )?;
    super::stop::install_for_library();
    let pb = super::progress::progress(want, "features");
    let mut f = Vec::new();
    // On SIGINT/SIGTERM the batch in flight finishes and the features so far are written.
    let n = dataset_features_each(&*l.net, &ds, Some(want), a.batch, &mut |x, b| {
        f.extend_from_slice(x);
        pb.inc(b as u64);
        Ok(())
    })?;
    super::progress::finish(&pb);
    write_npy(&a.out, &[n, d], &f)?;
    println!("wrote {} ([{n}, {d}] float32)", a.out.display());
    if n < want {
        super::stop::exit_if_received(&format!(
            "wrote the features of the first {n} of {want} images"
        ));
    }
    Ok(())
}

/// One side of `fid`: images, or statistics read from an .npz.
enum FidSet {
    Images(Dataset),
    Stats(Moments),
}

fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

fn open_set(flag: &str, path: &Path, fit: &FitArgs) -> Result<FidSet> {
    if is_npz(path) {
        let m = Moments::read_npz(path).with_context(|| format!("{flag} {}", path.display()))?;
        Ok(FidSet::Stats(m))
    } else {
        Ok(FidSet::Images(open_images(flag, path, fit)?))
    }
}

pub fn fid(a: &FidArgs) -> Result<()> {
    check_batch(a.batch)?;
    let mut sets = vec![("A", &a.a, open_set("A", &a.a, &a.fit)?)];
    if let Some(b) = &a.b {
        sets.push(("B", b, open_set("B", b, &a.fit)?));
    }
    let images: Vec<&Dataset> = sets
        .iter()
        .filter_map(|(_, _, s)| match s {
            FidSet::Images(d) => Some(d),
            FidSet::Stats(_) => None,
        })
        .collect();
    if a.kid && images.len() < sets.len() {
        bail!("--kid needs the features of both image sets; an .npz holds only their statistics");
    }
    let net = match images.first() {
        Some(ds) => {
            let choice = a.net.choose(ds.info().channels, ds.info().resolution)?;
            let gpu = a.gpu.open()?;
            let l = load_net_dims(&choice, &gpu, a.dims)?;
            eprintln!("FID on {} features, {}", l.name, gpu.describe());
            Some(l)
        }
        None => None,
    };
    // Per set: its statistics, its features (images only) and its image count.
    let mut moments = Vec::new();
    let mut features = Vec::new();
    let mut counts = Vec::new();
    for (flag, path, set) in &sets {
        let what = format!("{flag} {}", path.display());
        match set {
            FidSet::Stats(m) => {
                if let Some(d) = a.dims.filter(|&d| d != m.dim()) {
                    bail!("{what}: statistics of {} features, --dims {d}", m.dim());
                }
                moments.push(m.clone());
                counts.push(None);
            }
            FidSet::Images(ds) => {
                let l = net.as_ref().expect("a network is loaded for image sets");
                let f = set_features(l, ds, a.max_images, a.batch)?;
                let d = l.net.dim();
                moments.push(Moments::from_features(&what, &f, d)?);
                counts.push(Some(f.len() / d));
                features.push(f);
            }
        }
    }
    if let Some(p) = &a.save_stats {
        moments[0].write_npz(p)?;
        println!(
            "wrote {} (mu [{d}], sigma [{d}, {d}] of A)",
            p.display(),
            d = moments[0].dim()
        );
    }
    if sets.len() < 2 {
        return Ok(());
    }
    if moments[0].dim() != moments[1].dim() {
        bail!(
            "A {} has {} features, B {} has {}: statistics must come from the same network and \
             --dims",
            a.a.display(),
            moments[0].dim(),
            sets[1].1.display(),
            moments[1].dim()
        );
    }
    let fid = fid_moments(&moments[0], &moments[1])?;
    let kid = match (a.kid, features.as_slice(), &net) {
        (true, [fa, fb], Some(l)) => Some(kid(fa, fb, l.net.dim(), &KidOptions::default())?),
        _ => None,
    };
    println!("FID: {fid:.6}");
    if let Some(k) = kid {
        println!("KID×10³: {:.6}", k * 1e3);
    }
    if let Some(p) = &a.json {
        let kid = kid.map(|k| k * 1e3);
        let v = serde_json::json!({"fid": fid, "kid": kid, "n_a": counts[0], "n_b": counts[1]});
        stylegan_wgpu::io::atomic::write_atomic(p, format!("{v}\n").as_bytes())?;
    }
    Ok(())
}
