//! The metrics by name, as stylegan2-ada's `metric_main.py` registers them: `fid50k_full`,
//! `kid10k`, `pr50k3_full`, `ppl_wend`, `ls`... A name says what is computed, from how many
//! generated images, against how many real ones.
//!
//! ```
//! use stylegan_wgpu::metrics::registry::{parse_metrics, MetricKind};
//! let specs = parse_metrics("fid50k_full,kid10k,pr1k3")?;
//! assert_eq!((specs[0].kind, specs[0].num_gen, specs[0].max_real), (MetricKind::Fid, 50_000, None));
//! assert_eq!((specs[1].num_gen, specs[1].max_real), (10_000, Some(10_000)));
//! assert_eq!(specs[2].kind, MetricKind::Pr(3));
//! assert!(parse_metrics("is50k").is_err());
//! # Ok::<(), stylegan_wgpu::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::metrics::ppl::{PplSampling, PplSpace};

/// One metric: `fid50k_full` = FID of 50,000 generated images against every real one,
/// `fid10k` = 10,000 generated against at most 10,000 real ones; `kid…` likewise for KID.
/// A bare count (`fid200`) is not an official name: it is for checks on slow adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: String,
    pub kind: MetricKind,
    /// Generated images (pairs for path length).
    pub num_gen: usize,
    /// Real images used: `None` for all of them (`_full`), `Some(0)` for metrics of the
    /// generator alone.
    pub max_real: Option<usize>,
}

/// What a metric computes.
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
    /// FID of each class of a class-conditional model against the reals of that class
    /// (`fid_per_class10k`: 10,000 class-balanced fakes, the reals among at most 10,000).
    FidPerClass,
    /// The share of a class-conditional model's fakes of each class that the classifier
    /// assigns to that class (`acc_per_class10k`: 10,000 class-balanced fakes): does
    /// `--class 7` make sneakers?
    AccPerClass,
}

impl MetricKind {
    /// Metrics of the generator alone (no real images, no shared fakes).
    pub fn of_generator_alone(self) -> bool {
        matches!(
            self,
            MetricKind::Ppl(..) | MetricKind::Ls | MetricKind::AccPerClass
        )
    }
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
    /// The metric of `name` (see the module docs); an error lists the names.
    pub fn parse(name: &str) -> Result<MetricSpec> {
        let bad = || {
            Error::Invalid(format!(
                "unknown metric '{name}'; the names are fid or kid, a count in \
                 thousands (or a bare count of at least 2) and an optional _full, e.g. fid50k_full, \
                 kid50k_full, fid10k, fid200; fid_per_class with a count likewise \
                 (class-conditional models), e.g. fid_per_class10k, and acc_per_class likewise, \
                 e.g. acc_per_class10k; or pr, a count in thousands, the neighbourhood \
                 size and an optional _full, e.g. pr50k3_full, pr1k3; or ppl_zfull, ppl_wfull, \
                 ppl_zend, ppl_wend with an optional pair count, e.g. ppl_wend2k; or ls with an \
                 optional image count, e.g. ls10k"
            ))
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
        if let Some(count) = name.strip_prefix("acc_per_class") {
            // A count is required, as for FID (`acc_per_class10k`, `acc_per_class200`).
            if count.is_empty() {
                return Err(bad());
            }
            return Ok(MetricSpec {
                name: name.to_string(),
                kind: MetricKind::AccPerClass,
                num_gen: parse_count(count, 0, 2).ok_or_else(bad)?,
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
        let (kind, count) = if let Some(r) = rest.strip_prefix("fid_per_class") {
            (MetricKind::FidPerClass, r)
        } else if let Some(r) = rest.strip_prefix("fid") {
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

/// A comma-separated list of metric names.
pub fn parse_metrics(list: &str) -> Result<Vec<MetricSpec>> {
    let specs: Vec<MetricSpec> = list
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| MetricSpec::parse(s.trim()))
        .collect::<Result<_>>()?;
    if specs.is_empty() {
        return Err(Error::Invalid(
            "give at least one metric, e.g. fid50k_full or fid10k,kid10k".into(),
        ));
    }
    Ok(specs)
}

/// Path lengths need a distance (LPIPS, the official one, or a classifier's features) and
/// linear separability a classifier: refused before any weights are read. `lpips`: LPIPS is
/// given; `classifier`: the feature network classifies.
pub fn check_generator_metrics(specs: &[MetricSpec], lpips: bool, classifier: bool) -> Result<()> {
    for s in specs {
        match s.kind {
            MetricKind::Ppl(..) if !(lpips || classifier) => {
                return Err(Error::Invalid(format!(
                    "{}: perceptual path length needs a distance: --lpips VGG16.pth --lpips-lin \
                     LIN.pth (LPIPS, the official one), or a classifier's features (--features \
                     fmnist, --classifier W); Inception's are not used for it",
                    s.name
                )))
            }
            MetricKind::AccPerClass if !classifier => {
                return Err(Error::Invalid(format!(
                    "{}: class accuracy labels images with a classifier: --features fmnist or \
                     --classifier W, not Inception",
                    s.name
                )))
            }
            MetricKind::Ls if !classifier => {
                return Err(Error::Invalid(format!(
                    "{}: linear separability labels images with a classifier: --features fmnist \
                     or --classifier W, not Inception",
                    s.name
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        let spec = |name: &str, kind, num_gen, max_real| MetricSpec {
            name: name.to_string(),
            kind,
            num_gen,
            max_real,
        };
        assert_eq!(
            parse_metrics(
                "fid50k_full, kid10k,fid200,pr50k3_full,pr1k5,ls,ls2k,ppl_wend500,acc_per_class10k"
            )
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
                spec("acc_per_class10k", MetricKind::AccPerClass, 10_000, Some(0)),
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
            "acc_per_class",
            "acc_per_class1",
            "acc_per_class10k_full",
        ] {
            let e = parse_metrics(bad).err().map(|e| e.to_string());
            assert!(e.is_some(), "{bad} accepted");
            let e = e.unwrap();
            assert!(e.contains("metric"), "{bad}: {e}");
        }
    }
}
