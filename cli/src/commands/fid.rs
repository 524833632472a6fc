//! `stylegan features`, `stylegan fid` and `stylegan metrics`: Inception features, FID and KID
//! of image sets and of a model.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::ProgressBar;

use super::common::{load_model_or_default, model_name, GpuArgs};
use super::feature_net::{fnv1a, FeatureNetArgs, LoadedNet, LpipsArgs, NetChoice};
use super::gen_common::progress;
use stylegan_wgpu::data::{DataOptions, Dataset};
use stylegan_wgpu::dist::{Collective, Solo};
use stylegan_wgpu::eval::lpips::Lpips;
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::metrics::features::{dataset_features, generator_features_sharded};
use stylegan_wgpu::metrics::features::{unit_feature_distance, FeatureNet};
use stylegan_wgpu::metrics::ppl::{lpips_distance, ppl, PplOptions, PplSampling, PplSpace};
use stylegan_wgpu::metrics::separability::{labelled_latents, linear_separability, SvmOptions};
use stylegan_wgpu::metrics::{fid_from_features, kid, precision_recall, KidOptions};
use stylegan_wgpu::nn::generator::Generator;

/// Inception pool features of an image set, `[N, 2048]` f32 in file-name order (`[N, 128]`
/// with the Fashion-MNIST network).
///
/// Images are quantized to 8 bits, grayscale repeated to RGB, resized bilinearly to 299x299
/// and scaled to [-1, 1], as pytorch-fid does, so the features can be compared with any other
/// implementation's.
///
/// Examples:
///   stylegan features images/ --inception pt_inception-2015-12-05-6726825d.pth --out f.npy
///   stylegan features data.zip --inception inception.safetensors --out f.npy --max-images 1000
///   stylegan features /usr/share/datasets/fashion-mnist --features fmnist --out f.npy
#[derive(Args, Debug)]
pub struct FeaturesArgs {
    /// Images: a folder, a .zip or an IDX file (all images one square size).
    pub images: PathBuf,
    #[command(flatten)]
    pub net: FeatureNetArgs,
    /// Output .npy, [N, 2048] float32 ([N, 128] with --classifier, [N, 4096] with --vgg16).
    #[arg(long)]
    pub out: PathBuf,
    /// Images per GPU batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Use only the first N images (in file-name order).
    #[arg(long)]
    pub max_images: Option<usize>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// Fréchet Inception Distance between two image sets (and KID with --kid), like
/// `python -m pytorch_fid A B`.
///
/// FID uses the unbiased covariance (÷ N−1) as pytorch-fid and numpy do. KID is the official
/// kid50k estimate (100 subsets of at most 1000 images, cubic kernel, unbiased MMD²), printed
/// ×10³ as the papers report it.
///
/// Examples:
///   stylegan fid real/ fake/ --inception pt_inception-2015-12-05-6726825d.pth
///   stylegan fid real.zip fake/ --inception inception.safetensors --kid --json fid.json
///   stylegan fid train-images-idx3-ubyte.gz t10k-images-idx3-ubyte.gz --kid   (fmnist features)
#[derive(Args, Debug)]
pub struct FidArgs {
    /// First image set: a folder, a .zip or an IDX file.
    pub a: PathBuf,
    /// Second image set.
    pub b: PathBuf,
    #[command(flatten)]
    pub net: FeatureNetArgs,
    /// Images per GPU batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Also compute KID.
    #[arg(long)]
    pub kid: bool,
    /// Write {"fid": …, "kid": …, "n_a": …, "n_b": …} to this file (kid ×10³, null without
    /// --kid).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Use only the first N images of each set.
    #[arg(long)]
    pub max_images: Option<usize>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

pub fn open_images(flag: &str, path: &Path) -> Result<Dataset> {
    let hint = if !path.exists() && path.to_string_lossy().to_lowercase().contains("mnist") {
        " (Debian's dataset-fashion-mnist package installs Fashion-MNIST in \
         /usr/share/datasets/fashion-mnist)"
    } else {
        ""
    };
    let ds = Dataset::open(path, &DataOptions::default())
        .with_context(|| format!("{flag} {}{hint}", path.display()))?;
    for w in &ds.info().warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    Ok(ds)
}

/// Features of one image set with a progress bar in images/s.
fn set_features(
    net: &dyn FeatureNet,
    ds: &Dataset,
    max: Option<usize>,
    batch: usize,
) -> Result<Vec<f32>> {
    let n = max.map_or(ds.len(), |m| m.min(ds.len()));
    with_progress(n, &format!("features of {}", ds.info().source), |p| {
        dataset_features(net, ds, max, batch, p)
    })
}

/// Runs `work` under a progress bar of `n` images labelled `label` (`work` reports how many
/// each batch held), then prints the rate.
fn with_progress<T>(
    n: usize,
    label: &str,
    work: impl FnOnce(&mut dyn FnMut(usize)) -> stylegan_wgpu::Result<T>,
) -> Result<T> {
    let pb = progress(n, label);
    let out = work(&mut |k| pb.inc(k as u64))?;
    finish(&pb);
    Ok(out)
}

fn finish(pb: &ProgressBar) {
    pb.finish_and_clear();
    let secs = pb.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} images in {secs:.1} s ({:.2} images/s)",
        pb.message(),
        pb.position(),
        pb.position() as f64 / secs.max(1e-9)
    );
}

fn check_batch(batch: usize) -> Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    Ok(())
}

pub fn features(a: &FeaturesArgs) -> Result<()> {
    check_batch(a.batch)?;
    let ds = open_images("images", &a.images)?;
    let choice = a.net.choose(ds.info().channels, ds.info().resolution)?;
    let gpu = a.gpu.open()?;
    let l = choice.load(&gpu)?;
    eprintln!("{} features on {}", l.name, gpu.describe());
    let f = set_features(&*l.net, &ds, a.max_images, a.batch)?;
    let d = l.net.dim();
    let n = f.len() / d;
    write_npy(&a.out, &[n, d], &f)?;
    println!("wrote {} ([{n}, {d}] float32)", a.out.display());
    Ok(())
}

pub fn fid(a: &FidArgs) -> Result<()> {
    check_batch(a.batch)?;
    let (da, db) = (open_images("A", &a.a)?, open_images("B", &a.b)?);
    let choice = a.net.choose(da.info().channels, da.info().resolution)?;
    let gpu = a.gpu.open()?;
    let l = choice.load(&gpu)?;
    eprintln!("FID on {} features, {}", l.name, gpu.describe());
    let d = l.net.dim();
    let fa = set_features(&*l.net, &da, a.max_images, a.batch)?;
    let fb = set_features(&*l.net, &db, a.max_images, a.batch)?;
    let (n_a, n_b) = (fa.len() / d, fb.len() / d);
    let fid = fid_from_features(&fa, &fb, d)?;
    let kid = if a.kid {
        Some(kid(&fa, &fb, d, &KidOptions::default())?)
    } else {
        None
    };
    println!("FID: {fid:.6}");
    if let Some(k) = kid {
        println!("KID×10³: {:.6}", k * 1e3);
    }
    if let Some(p) = &a.json {
        let kid = kid.map(|k| k * 1e3);
        let v = serde_json::json!({"fid": fid, "kid": kid, "n_a": n_a, "n_b": n_b});
        stylegan_wgpu::io::atomic::write_atomic(p, format!("{v}\n").as_bytes())?;
    }
    Ok(())
}

/// One official metric: `fid50k_full` = FID of 50,000 generated images against every real one,
/// `fid10k` = 10,000 generated against at most 10,000 real ones; `kid…` likewise for KID.
/// A bare count (`fid200`) is not an official name: it is for checks on slow adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: String,
    pub kind: MetricKind,
    pub num_gen: usize,
    pub max_real: Option<usize>,
}

/// What a metric computes from the two feature sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Fid,
    /// Reported ×10³.
    Kid,
    /// Precision and recall with this neighbourhood size (`pr50k3`: 3).
    Pr(usize),
    /// Perceptual path length (`ppl_zfull`, `ppl_wfull`, `ppl_zend`, `ppl_wend`); `num_gen`
    /// counts pairs.
    Ppl(PplSpace, PplSampling),
    /// Linear separability in Z and W (`ls`: 200,000 images as the official metric).
    Ls,
}

/// `2k` = 2000, `500` = 500; `default` when empty; `None` below `min` or above a million.
fn parse_count(count: &str, default: usize, min: usize) -> Option<usize> {
    if count.is_empty() {
        return Some(default);
    }
    match count.strip_suffix('k') {
        Some(k) => k.parse::<usize>().ok().map(|k| k * 1000),
        None => count.parse::<usize>().ok(),
    }
    .filter(|&n| (min..=1_000_000).contains(&n))
}

impl MetricSpec {
    pub fn parse(name: &str) -> Result<MetricSpec> {
        let bad = || {
            anyhow::anyhow!(
                "--metrics: unknown metric '{name}'; the names are fid or kid, a count in \
                 thousands (or a bare count of at least 2) and an optional _full, e.g. fid50k_full, \
                 kid50k_full, fid10k, fid200; or pr, a count in thousands, the neighbourhood \
                 size and an optional _full, e.g. pr50k3_full, pr1k3; or ppl_zfull, ppl_wfull, \
                 ppl_zend, ppl_wend with an optional pair count, e.g. ppl_wend2k; or ls with an \
                 optional image count, e.g. ls10k"
            )
        };
        if let Some(r) = name.strip_prefix("ppl_") {
            // `ppl_wend` (100,000 pairs, the official count) or `ppl_wend2k` / `ppl_wend500`.
            let (space, r) = match r.as_bytes().first() {
                Some(b'z') => (PplSpace::Z, &r[1..]),
                Some(b'w') => (PplSpace::W, &r[1..]),
                _ => return Err(bad()),
            };
            let (sampling, count) = if let Some(c) = r.strip_prefix("full") {
                (PplSampling::Full, c)
            } else if let Some(c) = r.strip_prefix("end") {
                (PplSampling::End, c)
            } else {
                return Err(bad());
            };
            let num_gen = parse_count(count, 100_000, 1).ok_or_else(bad)?;
            return Ok(MetricSpec {
                name: name.to_string(),
                kind: MetricKind::Ppl(space, sampling),
                num_gen,
                max_real: Some(0),
            });
        }
        if let Some(count) = name.strip_prefix("ls") {
            // `ls` (200,000 images, the official count) or `ls10k`; at least 4, so each half
            // the metric keeps holds two.
            return Ok(MetricSpec {
                name: name.to_string(),
                kind: MetricKind::Ls,
                num_gen: parse_count(count, 200_000, 4).ok_or_else(bad)?,
                max_real: Some(0),
            });
        }
        let (rest, full) = match name.strip_suffix("_full") {
            Some(r) => (r, true),
            None => (name, false),
        };
        let (kind, count) = if let Some(r) = rest.strip_prefix("fid") {
            (MetricKind::Fid, r)
        } else if let Some(r) = rest.strip_prefix("kid") {
            (MetricKind::Kid, r)
        } else if let Some(r) = rest.strip_prefix("pr") {
            let (thousands, k) = r.rsplit_once('k').ok_or_else(bad)?;
            let k = k
                .parse::<usize>()
                .ok()
                .filter(|&k| k >= 1)
                .ok_or_else(bad)?;
            (MetricKind::Pr(k), &r[..thousands.len() + 1])
        } else {
            return Err(bad());
        };
        // `fid10k` as the official names; a bare count (`fid200`) for quick checks on slow
        // adapters, where thousands of Inception passes take hours.
        if count.is_empty() {
            return Err(bad());
        }
        let num_gen = parse_count(count, 0, 2).ok_or_else(bad)?;
        if let MetricKind::Pr(k) = kind {
            if num_gen <= k {
                return Err(bad());
            }
        }
        Ok(MetricSpec {
            name: name.to_string(),
            kind,
            num_gen,
            max_real: if full { None } else { Some(num_gen) },
        })
    }
}

/// The official metrics of a model against its dataset.
///
/// Fakes are drawn as the official code draws them (random z, ψ = 1, random noise). Real
/// features are cached under the user's cache directory (or --cache-dir), keyed by the
/// dataset's pixels, the feature network's weights and the number of images, so a second run
/// only measures the fakes. Each result is appended as a JSON line to --json, like the
/// official `metric-fid50k_full.jsonl`.
///
/// The feature network is Inception (--inception), a classifier (--classifier), or the
/// embedded Fashion-MNIST network (--features fmnist), which is the default for 1-channel
/// 32x32 models such as the embedded one. Precision/recall use VGG16's fc7 features with
/// --vgg16 (as stylegan2-ada's pr50k3), else the same network. Path lengths use LPIPS with
/// --lpips and --lpips-lin, else the classifier's features (said in the output).
///
/// Examples:
///   stylegan metrics --model ffhq.safetensors --data ffhq.zip --metrics fid50k_full \
///       --inception pt_inception-2015-12-05-6726825d.pth
///   stylegan metrics --data /usr/share/datasets/fashion-mnist --metrics fid10k,kid10k,ppl_wend
///       (embedded model, fmnist features)
///   stylegan metrics --model m.safetensors --data faces/ --metrics ppl_wend \
///       --inception inception.pth --lpips vgg16-397923af.pth --lpips-lin vgg.pth
///   stylegan metrics --model m.safetensors --data faces/ --metrics fid50k_full,pr50k3_full \
///       --inception inception.pth --vgg16 vgg16-397923af.pth
#[derive(Args, Debug)]
pub struct MetricsArgs {
    /// Model (.safetensors or official .pkl); default: the embedded model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The real images: a folder, .zip or IDX file.
    #[arg(long)]
    pub data: PathBuf,
    /// Comma-separated metric names: fid50k_full, kid50k_full, fid10k, fid1k, … (a bare count
    /// such as fid200 for a quick check on a slow adapter); pr50k3_full, pr10k3 for precision
    /// and recall (neighbourhood 3); ppl_zfull, ppl_wfull, ppl_zend, ppl_wend (100k pairs, or
    /// e.g. ppl_wend2k; LPIPS with --lpips, else the fmnist/--classifier features)
    #[arg(long, default_value = "fid50k_full")]
    pub metrics: String,
    #[command(flatten)]
    pub net: FeatureNetArgs,
    #[command(flatten)]
    pub lpips: LpipsArgs,
    /// Append one JSON line per metric to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Images per GPU batch (generator and Inception).
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Seed of the generated images' z and noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where real features are cached (default: $XDG_CACHE_HOME/stylegan-wgpu/metrics, else
    /// ~/.cache/stylegan-wgpu/metrics); `off` to not cache.
    #[arg(long)]
    pub cache_dir: Option<String>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

pub fn cache_dir(flag: Option<&str>) -> Option<PathBuf> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match flag {
        Some(v) if v.eq_ignore_ascii_case("off") => None,
        Some(v) => Some(PathBuf::from(v)),
        None => env("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("stylegan-wgpu").join("metrics")),
    }
}

/// Real features of the first `n` images, from the cache when the key matches.
fn real_features(
    l: &LoadedNet,
    ds: &Dataset,
    n: usize,
    batch: usize,
    cache: Option<&Path>,
) -> Result<Vec<f32>> {
    let (net, d) = (&*l.net, l.net.dim());
    let Some(dir) = cache else {
        return set_features(net, ds, Some(n), batch);
    };
    // The key: every pixel of the images used, the weights, the count and the layout.
    let mut h = l.weights_hash;
    let info = ds.info();
    h = fnv1a(
        h,
        format!("v1 {n} {} {}", info.channels, info.resolution).as_bytes(),
    );
    for i in 0..n {
        h = fnv1a(h, &ds.image(i)?);
    }
    let path = dir.join(format!("{}-features-{h:016x}.npy", l.name));
    if let Ok(arr) = read_npy(&path) {
        if arr.shape == [n, d] && arr.data.iter().all(|v| v.is_finite()) {
            eprintln!(
                "real features of {}: from the cache {}",
                info.source,
                path.display()
            );
            return Ok(arr.data);
        }
        eprintln!(
            "warning: ignoring the unusable cache file {}",
            path.display()
        );
    }
    let f = set_features(net, ds, Some(n), batch)?;
    if let Err(e) = std::fs::create_dir_all(dir)
        .map_err(anyhow::Error::from)
        .and_then(|_| Ok(write_npy(&path, &[n, d], &f)?))
    {
        eprintln!(
            "warning: could not cache the real features in {}: {e:#}",
            path.display()
        );
    }
    Ok(f)
}

/// Path lengths need a distance (LPIPS, `--lpips`, the official one, or a classifier's
/// features) and linear separability a classifier: refused before any weights are read.
pub fn check_generator_metrics(specs: &[MetricSpec], lpips: bool, classifier: bool) -> Result<()> {
    for s in specs {
        match s.kind {
            MetricKind::Ppl(..) if !(lpips || classifier) => bail!(
                "{}: perceptual path length needs a distance: --lpips VGG16.pth --lpips-lin \
                 LIN.pth (LPIPS, the official one), or a classifier's features (--features \
                 fmnist, --classifier W); Inception's are not used for it",
                s.name
            ),
            MetricKind::Ls if !classifier => bail!(
                "{}: linear separability labels images with a classifier: --features fmnist or \
                 --classifier W, not Inception",
                s.name
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a comma-separated `--metrics` list.
pub fn parse_metrics(list: &str) -> Result<Vec<MetricSpec>> {
    let specs: Vec<MetricSpec> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| MetricSpec::parse(s.trim()))
        .collect::<Result<_>>()?;
    if specs.is_empty() {
        bail!("--metrics: give at least one metric, e.g. fid50k_full or fid10k,kid10k");
    }
    Ok(specs)
}

/// One metric's result.
pub struct MetricResult {
    pub name: String,
    /// Named values: FID, KID ×10³, or `<name>_precision` and `<name>_recall`.
    pub values: Vec<(String, f64)>,
    pub num_gen: usize,
    pub num_real: usize,
    pub secs: f64,
}

impl MetricResult {
    /// `fid10k: 12.3456  (10000 fakes, 10000 reals, 812.3 s)`; precision and recall named.
    pub fn line(&self) -> String {
        let vals = match self.values.as_slice() {
            [(_, v)] if self.name.starts_with("kid") => format!("{v:.4} (×10³)"),
            [(_, v)] => format!("{v:.4}"),
            many => many
                .iter()
                .map(|(n, v)| {
                    let short = n.strip_prefix(&format!("{}_", self.name)).unwrap_or(n);
                    format!("{short} {v:.4}")
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let counts = if self.name.starts_with("ppl") {
            format!("{} pairs", self.num_gen)
        } else if self.name.starts_with("ls") {
            format!("{} images", self.num_gen)
        } else {
            format!("{} fakes, {} reals", self.num_gen, self.num_real)
        };
        format!("{}: {vals}  ({counts}, {:.1} s)", self.name, self.secs)
    }

    /// The official JSON line (`metric-fid50k_full.jsonl`), with `extra` fields merged in.
    pub fn json(&self, extra: serde_json::Value) -> serde_json::Value {
        let results: serde_json::Map<String, serde_json::Value> = self
            .values
            .iter()
            .map(|(n, v)| (n.clone(), serde_json::json!(v)))
            .collect();
        let mut v = serde_json::json!({
            "results": results,
            "metric": self.name,
            "total_time": self.secs,
            "num_gen": self.num_gen,
            "num_real": self.num_real,
            "timestamp": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        });
        if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }
}

/// The feature network and the real features, built once, to measure any number of
/// generators (`stylegan metrics` measures one, `stylegan train --metrics` one per snapshot).
pub struct MetricRunner {
    net: LoadedNet,
    /// With `--vgg16`, precision and recall's own network (as stylegan2-ada: FID on Inception,
    /// PR on VGG16 fc7) and its real features.
    pr: Option<(LoadedNet, Vec<f32>)>,
    /// The distance of path lengths when given; else the classifier's features.
    lpips: Option<Lpips>,
    specs: Vec<MetricSpec>,
    /// Features of the first `real.len() / dim` images of the dataset: as many as the most
    /// demanding metric needs; the others use a prefix.
    real: Vec<f32>,
    batch: usize,
    /// The ranks the generated images are split over (`Solo` unless `sharded`).
    comm: Rc<dyn Collective>,
}

impl MetricRunner {
    /// Splits the generated images of FID, KID and precision/recall over the ranks of `comm`
    /// (every rank must then call `run`); path length and separability run on rank 0, and only
    /// rank 0 gets results.
    pub fn sharded(mut self, comm: Rc<dyn Collective>) -> MetricRunner {
        self.comm = comm;
        self
    }

    /// Computes (or reads from `cache`) the real features with `net` (and `pr_net`, whose
    /// features precision and recall then use).
    pub fn new(
        net: LoadedNet,
        pr_net: Option<LoadedNet>,
        lpips: Option<Lpips>,
        specs: Vec<MetricSpec>,
        ds: &Dataset,
        batch: usize,
        cache: Option<&Path>,
    ) -> Result<MetricRunner> {
        check_batch(batch)?;
        // Real images each network needs: as many as its most demanding metric (none for
        // path lengths and separability alone).
        let has_pr_net = pr_net.is_some();
        let needed = |on_pr_net: bool| {
            specs
                .iter()
                .filter(|s| !matches!(s.kind, MetricKind::Ppl(..) | MetricKind::Ls))
                .filter(|s| (has_pr_net && matches!(s.kind, MetricKind::Pr(_))) == on_pr_net)
                .map(|s| s.max_real.map_or(ds.len(), |m| m.min(ds.len())))
                .max()
                .unwrap_or(0)
        };
        let features = |l: &LoadedNet, n: usize| -> Result<Vec<f32>> {
            if n == 0 {
                Ok(Vec::new())
            } else {
                real_features(l, ds, n, batch, cache)
            }
        };
        let (n_main, n_pr) = (needed(false), needed(true));
        let real = features(&net, n_main)?;
        let pr = match pr_net {
            Some(l) => {
                let r = features(&l, n_pr)?;
                Some((l, r))
            }
            None => None,
        };
        Ok(MetricRunner {
            net,
            pr,
            lpips,
            specs,
            real,
            batch,
            comm: Rc::new(Solo),
        })
    }

    /// The network of `spec` and its real features.
    fn net_for(&self, spec: &MetricSpec) -> (&LoadedNet, &[f32]) {
        match (&self.pr, spec.kind) {
            (Some((l, real)), MetricKind::Pr(_)) => (l, real),
            _ => (&self.net, &self.real),
        }
    }

    /// Perceptual path length of `g`: LPIPS when it was given, else the distance of the
    /// classifier's unit-normalized features (said on stderr).
    fn ppl(
        &self,
        g: &Generator,
        spec: &MetricSpec,
        space: PplSpace,
        sampling: PplSampling,
        seed: u64,
    ) -> Result<f64> {
        let net = &*self.net.net;
        let (c, r, d) = (g.cfg.num_channels, g.cfg.resolution, net.dim());
        let opts = PplOptions {
            space,
            sampling,
            num: spec.num_gen,
            batch: self.batch,
            epsilon: 1e-4,
            seed,
        };
        let mut distance = |a: &[f32], b: &[f32], n: usize| -> stylegan_wgpu::Result<Vec<f64>> {
            if let Some(l) = &self.lpips {
                return lpips_distance(l, a, b, n, c, r);
            }
            let none = || {
                stylegan_wgpu::Error::Invalid(format!(
                    "{}: {} features cannot measure path lengths; give --lpips",
                    spec.name, self.net.name
                ))
            };
            let fa = net.features_f32(a, n, c, r, r)?.ok_or_else(none)?;
            let fb = net.features_f32(b, n, c, r, r)?.ok_or_else(none)?;
            Ok(unit_feature_distance(&fa, &fb, d))
        };
        let label = format!("{}: pairs", spec.name);
        let v = with_progress(spec.num_gen, &label, |p| ppl(g, &opts, &mut distance, p))?;
        if self.lpips.is_none() {
            eprintln!(
                "{}: distance = squared difference of the unit-normalized {} features, not LPIPS",
                spec.name, self.net.name
            );
        }
        Ok(v)
    }

    /// Linear separability of Z and W: `<name>_z`, `<name>_w`; the per-class entropies and
    /// the class histogram on stderr.
    fn ls(&self, g: &Generator, spec: &MetricSpec, seed: u64) -> Result<Vec<(String, f64)>> {
        let net = &*self.net.net;
        let label = format!("{}: labelled images", spec.name);
        let data = with_progress(spec.num_gen, &label, |p| {
            labelled_latents(g, net, spec.num_gen, self.batch, seed, p)
        })?;
        let mut hist = vec![0usize; data.classes];
        for row in data.probs.chunks(data.classes) {
            let best = (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            hist[best] += 1;
        }
        eprintln!(
            "{}: images per class (argmax of the {} network): {hist:?}",
            spec.name, self.net.name
        );
        let opts = SvmOptions::default();
        let mut out = Vec::new();
        for (space, latents, dim) in [
            ("z", &data.z, g.cfg.latent_size),
            ("w", &data.w, g.cfg.dlatent_size),
        ] {
            let t0 = std::time::Instant::now();
            let s = linear_separability(latents, dim, &data.probs, data.classes, &opts)?;
            let h: Vec<String> = s.entropies.iter().map(|h| format!("{h:.3}")).collect();
            eprintln!(
                "{}: {space}: H(Y|X) per class [{}] (nats), SVMs in {:.1} s",
                spec.name,
                h.join(", "),
                t0.elapsed().as_secs_f64()
            );
            out.push((format!("{}_{space}", spec.name), s.score));
        }
        Ok(out)
    }

    /// Every metric of generator `g`, fakes from `seed` (random z, ψ = 1, random noise), each
    /// handed to `on_result` as soon as it is measured (a long list interrupted keeps what it
    /// finished). Metrics of the same count share their fakes: the same seed draws the same
    /// images, so `fid10k,kid10k` generates 10k images once.
    pub fn run(
        &self,
        g: &Generator,
        seed: u64,
        on_result: &mut dyn FnMut(&MetricResult) -> Result<()>,
    ) -> Result<()> {
        let mut fakes: Option<(&str, usize, Vec<f32>)> = None;
        for spec in &self.specs {
            let (l, all_real) = self.net_for(spec);
            let d = l.net.dim();
            let n_real = spec
                .max_real
                .map_or(all_real.len() / d, |m| m.min(all_real.len() / d));
            let real = &all_real[..n_real * d];
            let t0 = std::time::Instant::now();
            // Metrics of the generator alone: no real features, no shared fakes.
            let alone = match spec.kind {
                _ if self.comm.rank() != 0
                    && matches!(spec.kind, MetricKind::Ppl(..) | MetricKind::Ls) =>
                {
                    continue
                }
                MetricKind::Ppl(space, sampling) => Some(vec![(
                    spec.name.clone(),
                    self.ppl(g, spec, space, sampling, seed)?,
                )]),
                MetricKind::Ls => Some(self.ls(g, spec, seed)?),
                _ => None,
            };
            let root = self.comm.rank() == 0;
            if let Some(values) = alone {
                on_result(&MetricResult {
                    name: spec.name.clone(),
                    values,
                    num_gen: spec.num_gen,
                    num_real: 0,
                    secs: t0.elapsed().as_secs_f64(),
                })?;
                continue;
            }
            if fakes.as_ref().map(|f| (f.0, f.1)) != Some((l.name, spec.num_gen)) {
                let label = format!("{}: generated images ({} features)", spec.name, l.name);
                let f = with_progress(spec.num_gen, &label, |p| {
                    generator_features_sharded(
                        &*l.net,
                        g,
                        spec.num_gen,
                        self.batch,
                        seed,
                        &*self.comm,
                        p,
                    )
                })?;
                fakes = Some((l.name, spec.num_gen, f));
            }
            if !root {
                continue;
            }
            let fake = &fakes.as_ref().expect("just set").2;
            let values = match spec.kind {
                MetricKind::Fid => vec![(spec.name.clone(), fid_from_features(fake, real, d)?)],
                MetricKind::Kid => vec![(
                    spec.name.clone(),
                    kid(fake, real, d, &KidOptions::default())? * 1e3,
                )],
                MetricKind::Ppl(..) | MetricKind::Ls => unreachable!("measured above"),
                MetricKind::Pr(k) => {
                    let pr = precision_recall(real, fake, d, k)?;
                    vec![
                        (format!("{}_precision", spec.name), pr.precision),
                        (format!("{}_recall", spec.name), pr.recall),
                    ]
                }
            };
            on_result(&MetricResult {
                name: spec.name.clone(),
                values,
                num_gen: spec.num_gen,
                num_real: n_real,
                secs: t0.elapsed().as_secs_f64(),
            })?;
        }
        Ok(())
    }
}

pub fn metrics(a: &MetricsArgs) -> Result<()> {
    let specs = parse_metrics(&a.metrics)?;
    let model = load_model_or_default(a.model.as_deref())?;
    let name = model_name(a.model.as_deref());
    let cfg = model.config();
    // With --vgg16, precision/recall measure on VGG16 fc7 and the rest on the main network
    // (which is VGG16 itself when only pr* metrics are asked for).
    let on_main = |s: &MetricSpec| !(a.net.vgg16.is_some() && matches!(s.kind, MetricKind::Pr(_)));
    let (choice, pr_choice) = match &a.net.vgg16 {
        Some(v) if specs.iter().any(on_main) => (
            a.net.choose_main(cfg.num_channels, cfg.resolution)?,
            specs
                .iter()
                .any(|s| !on_main(s))
                .then(|| NetChoice::Vgg16(v.clone())),
        ),
        _ => (a.net.choose(cfg.num_channels, cfg.resolution)?, None),
    };
    check_generator_metrics(&specs, a.lpips.lpips.is_some(), choice.is_classifier())?;
    let ds = open_images("--data", &a.data)?;
    let info = ds.info();
    if info.resolution != cfg.resolution {
        eprintln!(
            "note: the model makes {r}x{r} images and the data holds {d}x{d}; both are resized \
             to the network's input",
            r = cfg.resolution,
            d = info.resolution
        );
    }
    let gpu = a.gpu.open()?;
    let mut g = model.generator(&gpu)?;
    g.set_batch(a.batch);
    eprintln!("{name} against {} on {}", info.source, gpu.describe());
    let cache = cache_dir(a.cache_dir.as_deref());
    let net = choice.load(&gpu)?;
    eprintln!("features: {} ({})", net.name, net.source);
    let pr_net = pr_choice.map(|c| c.load(&gpu)).transpose()?;
    if let Some(p) = &pr_net {
        eprintln!("precision/recall features: {} ({})", p.name, p.source);
    }
    let lpips = a.lpips.load(&gpu)?;
    let runner = MetricRunner::new(net, pr_net, lpips, specs, &ds, a.batch, cache.as_deref())?;
    runner.run(&g, a.seed, &mut |r| {
        println!("{}", r.line());
        if let Some(p) = &a.json {
            let extra = serde_json::json!({"model": name, "data": info.source});
            append_line(p, &r.json(extra).to_string())?;
        }
        Ok(())
    })
}

/// Appends one line to a JSON-lines file (a log, not a replaceable output: appended in place).
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("{}", path.display()))?;
    writeln!(f, "{line}")
        .and_then(|_| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{parse_metrics, MetricKind, MetricSpec, PplSampling, PplSpace};

    #[test]
    fn metric_names() {
        let spec = |name: &str, kind, num_gen, max_real| MetricSpec {
            name: name.to_string(),
            kind,
            num_gen,
            max_real,
        };
        assert_eq!(
            parse_metrics("fid50k_full, kid10k,fid200,pr50k3_full,pr1k5,ls,ls2k,ppl_wend500")
                .unwrap(),
            vec![
                spec("fid50k_full", MetricKind::Fid, 50_000, None),
                spec("kid10k", MetricKind::Kid, 10_000, Some(10_000)),
                spec("fid200", MetricKind::Fid, 200, Some(200)),
                spec("pr50k3_full", MetricKind::Pr(3), 50_000, None),
                spec("pr1k5", MetricKind::Pr(5), 1000, Some(1000)),
                spec("ls", MetricKind::Ls, 200_000, Some(0)),
                spec("ls2k", MetricKind::Ls, 2000, Some(0)),
                spec(
                    "ppl_wend500",
                    MetricKind::Ppl(PplSpace::W, PplSampling::End),
                    500,
                    Some(0)
                ),
            ]
        );
        for bad in [
            "fid",
            "fid0k",
            "fid1",
            "is50k",
            "fid10k_ful",
            "kidk",
            "",
            "pr50k",
            "pr3",
            "prk3",
            "pr50k0",
            "ls3",
            "lsx",
            "ppl_wend0",
        ] {
            let e = parse_metrics(bad).err().map(|e| e.to_string());
            assert!(e.is_some(), "{bad} accepted");
            assert!(e.unwrap().contains("--metrics"), "{bad}");
        }
    }
}
