//! `stylegan metrics`: the official metrics of a model against its dataset, through the
//! library's metric runner (`stylegan_wgpu::metrics::runner`).

use crate::commands::flags;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::common::{load_model_or_default, model_name, GpuArgs};
use super::feature_net::{load_net, FeatureNetArgs, LpipsArgs};
use super::features::{check_batch, open_images};
use super::fit::FitArgs;
use super::progress::Bars;
use stylegan_wgpu::io::jsonl::append_line;
use stylegan_wgpu::metrics::cache;
use stylegan_wgpu::metrics::features::Reals;
use stylegan_wgpu::metrics::networks::NetChoice;
use stylegan_wgpu::metrics::registry::{
    check_generator_metrics, parse_metrics, MetricKind, MetricSpec,
};
use stylegan_wgpu::metrics::runner::{FeatureNets, MetricRunner};

/// The official metrics of a model against its dataset.
///
/// Fakes are drawn as the official code draws them (random z, ψ = 1, random noise). Real
/// features are cached under the user's cache directory (or --cache-dir), keyed by the
/// dataset's pixels, the feature network's weights and the number of images, so a second run
/// only measures the fakes. Each result is appended as a JSON line, the official
/// `metric-<name>.jsonl` (keys `results`, `metric`, `total_time`, `total_time_str`, `num_gpus`,
/// `snapshot_pkl`, `timestamp`, and `num_gen`, `num_real`, `model`, `data`): beside the model
/// file as stylegan2-ada's calc_metrics.py writes it, or to --json. The embedded model has no
/// folder: its results are only printed unless --json is given.
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
///   stylegan metrics --model cond.safetensors --data /usr/share/datasets/fashion-mnist \
///       --metrics fid10k,fid_per_class10k,acc_per_class10k
///       (class-conditional model: each class's FID, and the share of each class's fakes
///       that the fmnist network assigns to that class)
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct MetricsArgs {
    /// Model (.safetensors or official .pkl); default: the embedded model.
    #[arg(long, visible_alias = "network")]
    pub model: Option<PathBuf>,
    /// The real images: a folder, .zip or IDX file (not needed for path lengths and
    /// separability alone).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub fit: FitArgs,
    /// Comma-separated metric names: fid50k_full, kid50k_full, fid10k, fid1k, … (a bare count
    /// such as fid200 for a quick check on a slow adapter); pr50k3_full, pr10k3 for precision
    /// and recall (neighbourhood 3); ppl_zfull, ppl_wfull, ppl_zend, ppl_wend (100k pairs, or
    /// e.g. ppl_wend2k; LPIPS with --lpips, else the fmnist/--classifier features); ls10k;
    /// for class-conditional models fid_per_class10k and acc_per_class10k (a classifier's
    /// accuracy on each class's fakes)
    #[arg(long, default_value = "fid50k_full")]
    pub metrics: String,
    #[command(flatten)]
    pub net: FeatureNetArgs,
    #[command(flatten)]
    pub lpips: LpipsArgs,
    /// Append one JSON line per metric to this file instead of metric-<name>.jsonl beside
    /// --model.
    #[arg(long, value_parser = flags::out_jsonl)]
    pub json: Option<PathBuf>,
    /// The reals with their x-flips, as stylegan2-ada's --mirror=1 dataset: 2N images, each
    /// image's mirror image after all the originals (metrics reading fewer than 2N reals see
    /// fewer flips, as there).
    #[arg(long)]
    pub mirror: bool,
    /// Images per GPU batch (generator and Inception).
    #[arg(long, visible_alias = "batch-size", value_parser = flags::batch, default_value_t = 16)]
    pub batch: usize,
    /// Seed of the generated images' z and noise.
    #[arg(long, value_parser = flags::seed, default_value_t = 0)]
    pub seed: u64,
    /// Where real features are cached (default: $XDG_CACHE_HOME/stylegan-wgpu/metrics, else
    /// ~/.cache/stylegan-wgpu/metrics); `off` to not cache.
    #[arg(long)]
    pub cache_dir: Option<String>,
    #[command(flatten)]
    pub gpu: GpuArgs,
}

/// `--metrics`: the library's registry, errors naming the flag.
pub fn parse_metrics_flag(list: &str) -> Result<Vec<MetricSpec>> {
    parse_metrics(list).map_err(|e| anyhow::anyhow!("--metrics: {e}"))
}

/// `--cache-dir`: a folder, `off`, or the platform's cache folder.
pub fn cache_dir(flag: Option<&str>) -> Option<PathBuf> {
    match flag {
        Some(v) if v.eq_ignore_ascii_case("off") => None,
        Some(v) => Some(PathBuf::from(v)),
        None => cache::default_dir(),
    }
}

pub fn metrics(a: &MetricsArgs) -> Result<()> {
    check_batch(a.batch)?;
    let specs = parse_metrics_flag(&a.metrics)?;
    // A stop ends the metric in flight (lost) after its batch; finished ones are written.
    super::stop::install_for_library();
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
    // Path lengths and separability need no real images.
    let ds = a
        .data
        .as_ref()
        .map(|p| open_images("--data", p, &a.fit))
        .transpose()?;
    let source = ds.as_ref().map(|d| d.info().source.clone());
    if let Some(d) = ds.as_ref().map(|d| d.info().resolution) {
        if d != cfg.resolution {
            eprintln!(
                "note: the model makes {r}x{r} images and the data holds {d}x{d}; both are \
                 resized to the network's input (--resize {r} fits the data to the model first)",
                r = cfg.resolution
            );
        }
    }
    let gpu = a.gpu.open()?;
    let mut g = model.generator(&gpu)?;
    g.set_batch(a.batch);
    let mirrored = if a.mirror { " and its x-flips" } else { "" };
    match &source {
        Some(src) => eprintln!("{name} against {src}{mirrored} on {}", gpu.describe()),
        None => eprintln!("{name} on {}", gpu.describe()),
    }
    let cache = cache_dir(a.cache_dir.as_deref());
    let net = load_net(&choice, &gpu)?;
    eprintln!("features: {} ({})", net.name, net.source);
    let pr_net = pr_choice.map(|c| load_net(&c, &gpu)).transpose()?;
    if let Some(p) = &pr_net {
        eprintln!("precision/recall features: {} ({})", p.name, p.source);
    }
    let lpips = a.lpips.load(&gpu)?;
    let nets = FeatureNets {
        main: net,
        pr: pr_net,
        lpips,
    };
    let mut bars = Bars::default();
    let runner = match &ds {
        Some(ds) => {
            let reals = Reals {
                ds,
                mirror: a.mirror,
            };
            MetricRunner::with_reals(nets, specs, reals, a.batch, cache.as_deref(), &mut bars)?
        }
        None => MetricRunner::generator_only(nets, specs, a.batch)?,
    };
    // stylegan2-ada's report_metric: the snapshot's name relative to the run folder, the
    // lines in that folder (the model's; none for the embedded model, which has no file).
    let snapshot_pkl = a
        .model
        .as_deref()
        .and_then(Path::file_name)
        .map(|f| f.to_string_lossy().into_owned());
    let beside = match (&a.json, &a.model) {
        (None, Some(m)) => Some(
            m.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
        ),
        _ => None,
    };
    if a.json.is_none() && a.model.is_none() {
        eprintln!(
            "note: the embedded model has no folder for metric-<name>.jsonl; the results are \
             only printed (--json FILE keeps them)"
        );
    }
    runner.run(&g, a.seed, &mut bars, &mut |r| {
        println!("{}", r.line());
        let extra = serde_json::json!({
            "model": name,
            "data": source,
            "snapshot_pkl": snapshot_pkl,
        });
        let line = r.json(extra).to_string();
        let log = match (&a.json, &beside) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => dir.join(format!("metric-{}.jsonl", r.name)),
            (None, None) => return Ok(()),
        };
        match append_line(&log, &line) {
            Ok(()) => eprintln!("appended to {}", log.display()),
            // The default file beside the model is a convenience: a folder that cannot take it
            // (read-only, a name taken) must not cost the metrics still to come.
            Err(e) if a.json.is_none() => eprintln!(
                "warning: {e}; the result is only printed (--json FILE keeps the results)"
            ),
            Err(e) => return Err(e),
        }
        Ok(())
    })?;
    Ok(())
}
