//! Runs named metrics ([`registry`](super::registry)) of generators against one dataset, as
//! stylegan2-ada's `metric_main.calc_metric`: the feature networks and the real features are
//! prepared once ([`MetricRunner::new`], real features from the cache when it has them), then
//! any number of generators are measured ([`MetricRunner::run`]: `stylegan metrics` measures
//! one, training one per snapshot). Each result is one [`MetricResult`], reported as the
//! official `metric-<name>.jsonl` line.
//!
//! ```
//! use stylegan_wgpu::data::{DataOptions, Dataset};
//! use stylegan_wgpu::metrics::networks::NetChoice;
//! use stylegan_wgpu::metrics::registry::parse_metrics;
//! use stylegan_wgpu::metrics::runner::{FeatureNets, MetricRunner};
//! use stylegan_wgpu::progress::Silent;
//! use stylegan_wgpu::{Gpu, Model};
//! # fn main() -> stylegan_wgpu::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("stylegan-doc-runner-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # for i in 0..8u8 {
//! #     let img = vec![i * 30; 32 * 32];
//! #     image::save_buffer(dir.join(format!("{i}.png")), &img, 32, 32, image::ColorType::L8).unwrap();
//! # }
//! let gpu = Gpu::new()?;
//! let g = Model::embedded()?.generator(&gpu)?;
//! let data = Dataset::open(&dir, &DataOptions::default())?; // 1-channel 32x32 images
//! let nets = FeatureNets::new(NetChoice::Fmnist.load(&gpu)?);
//! let runner = MetricRunner::new(nets, parse_metrics("fid8,kid8")?, &data, 8, None, &mut Silent)?;
//! runner.run(&g, 0, &mut Silent, &mut |r| {
//!     println!("{}", r.line()); // fid8: 123.4567  (8 fakes, 8 reals, 0.1 s)
//!     assert!(r.values[0].1.is_finite());
//!     Ok(())
//! })?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```

use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use crate::data::Dataset;
use crate::dist::{Collective, Solo};
use crate::error::{Error, Result};
use crate::eval::lpips::Lpips;
use crate::metrics::cache::{self, Cached};
use crate::metrics::features::{
    generator_features_sharded, reals_features, unit_feature_distance, Reals,
};
use crate::metrics::networks::LoadedNet;
use crate::metrics::ppl::{lpips_distance, ppl, PplOptions, PplSampling, PplSpace};
use crate::metrics::registry::{MetricKind, MetricSpec};
use crate::metrics::separability::{labelled_latents, linear_separability, SvmOptions};
use crate::metrics::{fid_from_features, kid, precision_recall, KidOptions};
use crate::nn::generator::Generator;
use crate::progress::{task, Progress};

/// The networks the metrics measure with.
pub struct FeatureNets {
    /// FID, KID, and precision/recall unless `pr` is given; path lengths and separability when
    /// it classifies.
    pub main: LoadedNet,
    /// Precision and recall's own network (stylegan2-ada: FID on Inception, PR on VGG16 fc7).
    pub pr: Option<LoadedNet>,
    /// The distance of path lengths (the official one); else the classifier's features.
    pub lpips: Option<Lpips>,
}

impl FeatureNets {
    /// `main` alone.
    pub fn new(main: LoadedNet) -> FeatureNets {
        FeatureNets {
            main,
            pr: None,
            lpips: None,
        }
    }
}

/// One metric's result.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricResult {
    pub name: String,
    /// Named values: FID, KID ×10³, `<name>_precision` and `<name>_recall`, `<name>_z` and
    /// `<name>_w`.
    pub values: Vec<(String, f64)>,
    pub num_gen: usize,
    pub num_real: usize,
    pub secs: f64,
    /// The processes the generated images were split over (the official `num_gpus`).
    pub num_gpus: usize,
}

/// A duration as dnnlib's `format_time` writes it: `7s`, `3m 05s`, `2h 03m 05s`, `1d 02h 03m`
/// (whole seconds rounded half to even, as `np.rint`).
pub fn format_time(secs: f64) -> String {
    let s = secs.max(0.0).round_ties_even() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m {:02}s", s / 3600, (s / 60) % 60, s % 60),
        _ => format!(
            "{}d {:02}h {:02}m",
            s / 86400,
            (s / 3600) % 24,
            (s / 60) % 60
        ),
    }
}

/// The index of a row's largest value (the first of equals).
fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b })
}

/// Seconds since the Unix epoch.
fn unix_time() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() / 1e3
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
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

    /// The official JSON line (`metric-fid50k_full.jsonl`: `results`, `metric`, `total_time`,
    /// `total_time_str`, `num_gpus`, `timestamp`, and our `num_gen` and `num_real`), with the
    /// fields of `extra` (an object, e.g. `snapshot_pkl`) merged in.
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
            "total_time_str": format_time(self.secs),
            "num_gpus": self.num_gpus,
            "num_gen": self.num_gen,
            "num_real": self.num_real,
            "timestamp": unix_time(),
        });
        if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }
}

/// Features of the first `n` images of `ds` under `net`, from the cache in `dir` when it has
/// them (and stored there when it did not).
pub fn real_features(
    net: &LoadedNet,
    ds: &Dataset,
    n: usize,
    batch: usize,
    dir: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<Vec<f32>> {
    reals_features_cached(net, Reals::plain(ds), n, batch, dir, progress)
}

/// [`real_features`] of the reals (a dataset, mirrored or not).
pub fn reals_features_cached(
    net: &LoadedNet,
    reals: Reals,
    n: usize,
    batch: usize,
    dir: Option<&Path>,
    progress: &mut dyn Progress,
) -> Result<Vec<f32>> {
    let d = net.net.dim();
    let ds = reals.ds;
    let measure = |progress: &mut dyn Progress| {
        let label = format!("features of {}", reals.source());
        task(progress, &label, n, |p| {
            reals_features(&*net.net, reals, Some(n), batch, p)
        })
    };
    let Some(dir) = dir else {
        return measure(progress);
    };
    let path = cache::path(dir, net, reals, n)?;
    match cache::read(&path, n, d) {
        Cached::Features(f) => {
            progress.note(&format!(
                "real features of {}: from the cache {}",
                ds.info().source,
                path.display()
            ));
            return Ok(f);
        }
        Cached::Unusable => progress.warn(&format!(
            "ignoring the unusable cache file {}",
            path.display()
        )),
        Cached::Missing => {}
    }
    let f = measure(progress)?;
    if let Err(e) = cache::write(&path, &f, n, d) {
        progress.warn(&format!(
            "could not cache the real features in {}: {e}",
            path.display()
        ));
    }
    Ok(f)
}

/// The feature networks and the real features, built once, to measure any number of
/// generators.
pub struct MetricRunner {
    nets: FeatureNets,
    specs: Vec<MetricSpec>,
    /// Features of the first `real.len() / dim` images of the dataset under `nets.main`: as
    /// many as the most demanding metric needs; the others use a prefix.
    real: Vec<f32>,
    /// The same under `nets.pr`.
    real_pr: Vec<f32>,
    /// The class of each real image, where the dataset has labels (per-class metrics).
    real_labels: Option<Vec<u32>>,
    batch: usize,
    /// The ranks the generated images are split over (`Solo` unless `sharded`).
    comm: Rc<dyn Collective>,
}

impl MetricRunner {
    /// Computes (or reads from the cache folder `cache`) the real features the metrics
    /// `specs` need, `batch` images per GPU batch.
    pub fn new(
        nets: FeatureNets,
        specs: Vec<MetricSpec>,
        ds: &Dataset,
        batch: usize,
        cache: Option<&Path>,
        progress: &mut dyn Progress,
    ) -> Result<MetricRunner> {
        Self::with_reals(nets, specs, Reals::plain(ds), batch, cache, progress)
    }

    /// A runner for metrics of the generator alone (path lengths, separability), which need
    /// no real images; an error naming the others.
    pub fn generator_only(
        nets: FeatureNets,
        specs: Vec<MetricSpec>,
        batch: usize,
    ) -> Result<MetricRunner> {
        let need: Vec<&str> = specs
            .iter()
            .filter(|s| !s.kind.of_generator_alone())
            .map(|s| s.name.as_str())
            .collect();
        if !need.is_empty() {
            let verb = if need.len() == 1 {
                "compares"
            } else {
                "compare"
            };
            return Err(Error::Invalid(format!(
                "{} {verb} generated images with real ones: give the dataset (--data)",
                need.join(", ")
            )));
        }
        if batch == 0 {
            return Err(Error::Invalid(
                "metrics: the batch must be at least 1".into(),
            ));
        }
        Ok(MetricRunner {
            nets,
            specs,
            real: Vec::new(),
            real_pr: Vec::new(),
            real_labels: None,
            batch,
            comm: Rc::new(Solo),
        })
    }

    /// [`MetricRunner::new`] with the reals given as [`Reals`]: a dataset, mirrored or not.
    pub fn with_reals(
        nets: FeatureNets,
        specs: Vec<MetricSpec>,
        reals: Reals,
        batch: usize,
        cache: Option<&Path>,
        progress: &mut dyn Progress,
    ) -> Result<MetricRunner> {
        if batch == 0 {
            return Err(Error::Invalid(
                "metrics: the batch must be at least 1".into(),
            ));
        }
        // Real images each network needs: as many as its most demanding metric (none for
        // path lengths and separability alone).
        let has_pr_net = nets.pr.is_some();
        let needed = |on_pr_net: bool| {
            specs
                .iter()
                .filter(|s| !s.kind.of_generator_alone())
                .filter(|s| (has_pr_net && matches!(s.kind, MetricKind::Pr(_))) == on_pr_net)
                .map(|s| s.max_real.map_or(reals.len(), |m| m.min(reals.len())))
                .max()
                .unwrap_or(0)
        };
        let mut features = |l: &LoadedNet, n: usize| -> Result<Vec<f32>> {
            if n == 0 {
                Ok(Vec::new())
            } else {
                reals_features_cached(l, reals, n, batch, cache, progress)
            }
        };
        let (n_main, n_pr) = (needed(false), needed(true));
        let real = features(&nets.main, n_main)?;
        let real_pr = match &nets.pr {
            Some(l) => features(l, n_pr)?,
            None => Vec::new(),
        };
        // Mirrored reals are the images, then their flips: the same classes twice.
        let real_labels = reals.ds.labels().map(|l| {
            let mut all = l.to_vec();
            if reals.mirror {
                all.extend_from_slice(l);
            }
            all
        });
        Ok(MetricRunner {
            nets,
            specs,
            real,
            real_pr,
            real_labels,
            batch,
            comm: Rc::new(Solo),
        })
    }

    /// Splits the generated images of FID, KID and precision/recall over the ranks of `comm`
    /// (every rank must then call `run`); path length and separability run on rank 0, and only
    /// rank 0 gets results.
    pub fn sharded(mut self, comm: Rc<dyn Collective>) -> MetricRunner {
        self.comm = comm;
        self
    }

    /// The metrics it runs.
    pub fn specs(&self) -> &[MetricSpec] {
        &self.specs
    }

    /// The network of `spec` and its real features.
    fn net_for(&self, spec: &MetricSpec) -> (&LoadedNet, &[f32]) {
        match (&self.nets.pr, spec.kind) {
            (Some(l), MetricKind::Pr(_)) => (l, &self.real_pr),
            _ => (&self.nets.main, &self.real),
        }
    }

    /// Perceptual path length of `g`: LPIPS when it was given, else the distance of the
    /// classifier's unit-normalized features (said in a note).
    fn ppl(
        &self,
        g: &Generator,
        spec: &MetricSpec,
        space: PplSpace,
        sampling: PplSampling,
        seed: u64,
        progress: &mut dyn Progress,
    ) -> Result<f64> {
        let main = &self.nets.main;
        let net = &*main.net;
        let (c, r, d) = (g.cfg.num_channels, g.cfg.resolution, net.dim());
        let opts = PplOptions {
            space,
            sampling,
            num: spec.num_gen,
            batch: self.batch,
            epsilon: 1e-4,
            seed,
        };
        let mut distance = |a: &[f32], b: &[f32], n: usize| -> Result<Vec<f64>> {
            if let Some(l) = &self.nets.lpips {
                return lpips_distance(l, a, b, n, c, r);
            }
            let none = || {
                Error::Invalid(format!(
                    "{}: {} features cannot measure path lengths; give --lpips",
                    spec.name, main.name
                ))
            };
            let fa = net.features_f32(a, n, c, r, r)?.ok_or_else(none)?;
            let fb = net.features_f32(b, n, c, r, r)?.ok_or_else(none)?;
            Ok(unit_feature_distance(&fa, &fb, d))
        };
        let label = format!("{}: pairs", spec.name);
        let v = task(progress, &label, spec.num_gen, |p| {
            ppl(g, &opts, &mut distance, p)
        })?;
        if self.nets.lpips.is_none() {
            progress.note(&format!(
                "{}: distance = squared difference of the unit-normalized {} features, not LPIPS",
                spec.name, main.name
            ));
        }
        Ok(v)
    }

    /// `spec.num_gen` class-balanced fakes from `seed` with their latents, classified by the
    /// main network (`labelled_latents`).
    fn classified(
        &self,
        g: &Generator,
        spec: &MetricSpec,
        seed: u64,
        progress: &mut dyn Progress,
    ) -> Result<crate::metrics::separability::LabelledLatents> {
        let label = format!("{}: classified images", spec.name);
        task(progress, &label, spec.num_gen, |p| {
            labelled_latents(g, &*self.nets.main.net, spec.num_gen, self.batch, seed, p)
        })
    }

    /// Linear separability of Z and W: `<name>_z`, `<name>_w`; the per-class entropies and
    /// the class histogram as notes.
    fn ls(
        &self,
        g: &Generator,
        spec: &MetricSpec,
        seed: u64,
        progress: &mut dyn Progress,
    ) -> Result<Vec<(String, f64)>> {
        let main = &self.nets.main;
        let data = self.classified(g, spec, seed, progress)?;
        let mut hist = vec![0usize; data.classes];
        for row in data.probs.chunks(data.classes) {
            hist[argmax(row)] += 1;
        }
        progress.note(&format!(
            "{}: images per class (argmax of the {} network): {hist:?}",
            spec.name, main.name
        ));
        let opts = SvmOptions::default();
        let mut out = Vec::new();
        for (space, latents, dim) in [
            ("z", &data.z, g.cfg.latent_size),
            ("w", &data.w, g.cfg.dlatent_size),
        ] {
            let t0 = Instant::now();
            let s = linear_separability(latents, dim, &data.probs, data.classes, &opts)?;
            let h: Vec<String> = s.entropies.iter().map(|h| format!("{h:.3}")).collect();
            progress.note(&format!(
                "{}: {space}: H(Y|X) per class [{}] (nats), SVMs in {:.1} s",
                spec.name,
                h.join(", "),
                t0.elapsed().as_secs_f64()
            ));
            out.push((format!("{}_{space}", spec.name), s.score));
        }
        Ok(out)
    }

    /// Class accuracy of a class-conditional `g`: of its class-balanced fakes of class `c`
    /// (fake `i` is of class `i mod label_size`), the share the classifier assigns to class `c`
    /// (its argmax), as `<name>_<class name>`, and their mean as `<name>_mean`; the histogram
    /// of the classifier's classes over all fakes as a note. Class `c` of the model is class
    /// `c` of the classifier, as when both learnt from the same labels.
    fn acc_per_class(
        &self,
        g: &Generator,
        spec: &MetricSpec,
        seed: u64,
        progress: &mut dyn Progress,
    ) -> Result<Vec<(String, f64)>> {
        let k = g.cfg.label_size;
        if k == 0 {
            return Err(Error::Invalid(format!(
                "{}: the model is unconditional; class accuracy needs a class-conditional model",
                spec.name
            )));
        }
        let main = &self.nets.main;
        let data = self.classified(g, spec, seed, progress)?;
        if data.classes < k {
            return Err(Error::Invalid(format!(
                "{}: the {} network knows {} classes, the model {k}",
                spec.name, main.name, data.classes
            )));
        }
        let (mut hits, mut count) = (vec![0usize; k], vec![0usize; k]);
        let mut hist = vec![0usize; data.classes];
        for (i, row) in data.probs.chunks(data.classes).enumerate() {
            let best = argmax(row);
            hist[best] += 1;
            count[i % k] += 1;
            hits[i % k] += usize::from(best == i % k);
        }
        progress.note(&format!(
            "{}: fakes per class (argmax of the {} network): {hist:?}",
            spec.name, main.name
        ));
        let mut out: Vec<(String, f64)> = (0..k)
            .map(|c| {
                (
                    format!("{}_{}", spec.name, g.cfg.class_key(c as u32)),
                    hits[c] as f64 / count[c].max(1) as f64,
                )
            })
            .collect();
        let mean = out.iter().map(|(_, v)| v).sum::<f64>() / k as f64;
        out.push((format!("{}_mean", spec.name), mean));
        Ok(out)
    }

    /// FID of each class of a class-conditional `g`: its fakes of class `c` (fake `i` is of
    /// class `i mod label_size`, `labels::balanced_classes`) against the reals of class `c`,
    /// as `<name>_<class name>`, and their mean as `<name>_mean`.
    fn fid_per_class(
        &self,
        g: &Generator,
        spec: &MetricSpec,
        fake: &[f32],
        real: &[f32],
        d: usize,
    ) -> Result<Vec<(String, f64)>> {
        let k = g.cfg.label_size;
        if k == 0 {
            return Err(Error::Invalid(format!(
                "{}: the model is unconditional; per-class FID needs a class-conditional model",
                spec.name
            )));
        }
        let labels = self.real_labels.as_deref().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the dataset has no class labels (an IDX label file, dataset.json or one \
                 subfolder per class)",
                spec.name
            ))
        })?;
        let rows = |f: &[f32], keep: &dyn Fn(usize) -> bool| -> Vec<f32> {
            f.chunks(d)
                .enumerate()
                .filter(|(i, _)| keep(*i))
                .flat_map(|(_, r)| r.iter().copied())
                .collect()
        };
        let mut out = Vec::with_capacity(k + 1);
        for c in 0..k {
            let f = rows(fake, &|i| i % k == c);
            let r = rows(real, &|i| labels.get(i) == Some(&(c as u32)));
            let (nf, nr) = (f.len() / d, r.len() / d);
            if nf < 2 || nr < 2 {
                return Err(Error::Invalid(format!(
                    "{}: class {} has {nf} generated and {nr} real images; each needs at least 2 \
                     (more images: a larger count or _full)",
                    spec.name,
                    g.cfg.class_name(c as u32)
                )));
            }
            out.push((
                format!("{}_{}", spec.name, g.cfg.class_key(c as u32)),
                fid_from_features(&f, &r, d)?,
            ));
        }
        let mean = out.iter().map(|(_, v)| v).sum::<f64>() / k as f64;
        out.push((format!("{}_mean", spec.name), mean));
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
        progress: &mut dyn Progress,
        on_result: &mut dyn FnMut(&MetricResult) -> Result<()>,
    ) -> Result<()> {
        let mut fakes: Option<(&str, usize, Vec<f32>)> = None;
        let root = self.comm.rank() == 0;
        for spec in &self.specs {
            let (l, all_real) = self.net_for(spec);
            let d = l.net.dim();
            let n_real = spec
                .max_real
                .map_or(all_real.len() / d, |m| m.min(all_real.len() / d));
            let real = &all_real[..n_real * d];
            let t0 = Instant::now();
            // Metrics of the generator alone: no real features, no shared fakes.
            let alone = match spec.kind {
                _ if !root && spec.kind.of_generator_alone() => continue,
                MetricKind::Ppl(space, sampling) => Some(vec![(
                    spec.name.clone(),
                    self.ppl(g, spec, space, sampling, seed, progress)?,
                )]),
                MetricKind::Ls => Some(self.ls(g, spec, seed, progress)?),
                MetricKind::AccPerClass => Some(self.acc_per_class(g, spec, seed, progress)?),
                _ => None,
            };
            if let Some(values) = alone {
                on_result(&MetricResult {
                    name: spec.name.clone(),
                    values,
                    num_gen: spec.num_gen,
                    num_real: 0,
                    secs: t0.elapsed().as_secs_f64(),
                    num_gpus: self.comm.size(),
                })?;
                continue;
            }
            if fakes.as_ref().map(|f| (f.0, f.1)) != Some((l.name, spec.num_gen)) {
                let label = format!("{}: generated images ({} features)", spec.name, l.name);
                let f = task(progress, &label, spec.num_gen, |p| {
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
                MetricKind::FidPerClass => self.fid_per_class(g, spec, fake, real, d)?,
                MetricKind::Kid => vec![(
                    spec.name.clone(),
                    kid(fake, real, d, &KidOptions::default())? * 1e3,
                )],
                MetricKind::Ppl(..) | MetricKind::Ls | MetricKind::AccPerClass => {
                    unreachable!("measured above")
                }
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
                num_gpus: self.comm.size(),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_time_is_dnnlibs() {
        use super::format_time;
        assert_eq!(format_time(0.4), "0s");
        assert_eq!(format_time(2.5), "2s");
        assert_eq!(format_time(3.5), "4s");
        assert_eq!(format_time(185.0), "3m 05s");
        assert_eq!(format_time(7385.0), "2h 03m 05s");
        assert_eq!(format_time(93785.0), "1d 02h 03m");
    }
}
