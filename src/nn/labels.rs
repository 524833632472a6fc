//! Class labels of conditional networks (`docs/network.md`, "Class labels"): one-hot rows
//! `[N, label_size]`, as the official dataset turns its integer classes into.

use crate::error::{shape_err, Error, Result};
use crate::gpu::{Gpu, Tensor};
use crate::nn::config::Config;
use crate::tape::Var;

/// One-hot rows `[classes.len(), label_size]`, row-major; an error names a class that is out
/// of range.
pub fn one_hot(classes: &[u32], label_size: usize) -> Result<Vec<f32>> {
    let mut rows = vec![0f32; classes.len() * label_size];
    for (i, &c) in classes.iter().enumerate() {
        if c as usize >= label_size {
            return Err(Error::Invalid(format!(
                "class {c} is out of range: the model has {label_size} classes (0-{})",
                label_size.saturating_sub(1)
            )));
        }
        rows[i * label_size + c as usize] = 1.0;
    }
    Ok(rows)
}

/// The labels of `classes` on the GPU for a network of `cfg`: `None` for an unconditional
/// network given no classes; an error where one side has classes and the other does not.
pub fn class_labels(gpu: &Gpu, cfg: &Config, classes: Option<&[u32]>) -> Result<Option<Var>> {
    match (cfg.label_size, classes) {
        (0, None) => Ok(None),
        (0, Some(_)) => Err(Error::Invalid(
            "classes given to an unconditional model (label_size 0), which takes none".into(),
        )),
        (_, None) => Err(unlabelled(cfg)),
        (l, Some(c)) => Ok(Some(Var::constant(Tensor::from_slice(
            gpu,
            &[c.len(), l],
            &one_hot(c, l)?,
        )?))),
    }
}

/// The error of a conditional network called without labels.
pub fn unlabelled(cfg: &Config) -> Error {
    Error::Invalid(format!(
        "this model is class-conditional ({} classes: {}): give each image a class",
        cfg.label_size,
        cfg.class_list()
    ))
}

/// Checks `labels` against `cfg` and a batch of `n`: `[n, label_size]` for conditional
/// networks, none for unconditional ones.
pub fn check_labels(op: &'static str, cfg: &Config, labels: Option<&Var>, n: usize) -> Result<()> {
    match (cfg.label_size, labels) {
        (0, None) => Ok(()),
        (0, Some(l)) => shape_err(
            op,
            format!(
                "labels {:?} given to an unconditional network (label_size 0)",
                l.shape()
            ),
        ),
        (_, None) => Err(unlabelled(cfg)),
        (k, Some(l)) if l.shape() != [n, k] => shape_err(
            op,
            format!(
                "labels must be [N = {n}, label_size = {k}], got {:?}",
                l.shape()
            ),
        ),
        _ => Ok(()),
    }
}

/// The class of the image of seed `seed` when a conditional model is asked for images
/// without classes: `seed mod label_size`, so seeds 0..label_size show every class once.
pub fn class_of_seed(cfg: &Config, seed: u32) -> u32 {
    (seed as u64 % cfg.label_size.max(1) as u64) as u32
}

/// Classes of the generated images `start..start + n` of a metric on a class-conditional
/// model: image `i` is of class `i mod label_size`, so every class has the same share (the G
/// loss draws them from the training set, which for a balanced set such as Fashion-MNIST is
/// the same distribution). `None` for an unconditional model.
pub fn balanced_classes(cfg: &Config, start: usize, n: usize) -> Option<Vec<u32>> {
    cfg.is_conditional().then(|| {
        (start..start + n)
            .map(|i| (i % cfg.label_size) as u32)
            .collect()
    })
}

/// Fashion-MNIST's class names by label (`t10k-labels-idx1-ubyte` order).
pub const FMNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Class names from a short spec: `fmnist` (Fashion-MNIST's ten, [`FMNIST_CLASSES`]),
/// `mnist` (`0` to `9`), or a comma-separated list `bag,shoe,...` (names trimmed; each
/// non-empty, not a number other than its own index, and unique ignoring case, so that
/// [`Config::class_index`] finds every one).
///
/// ```
/// use stylegan_wgpu::nn::labels::class_names;
/// assert_eq!(class_names("fmnist")?[7], "Sneaker");
/// assert_eq!(class_names("mnist")?.len(), 10);
/// assert_eq!(class_names(" bag , shoe")?, ["bag", "shoe"]);
/// assert!(class_names("bag,BAG").is_err() && class_names("a,,b").is_err());
/// # Ok::<(), stylegan_wgpu::Error>(())
/// ```
pub fn class_names(spec: &str) -> Result<Vec<String>> {
    let names: Vec<String> = match spec.trim().to_ascii_lowercase().as_str() {
        "fmnist" | "fashion-mnist" => FMNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
        "mnist" => (0..10).map(|i| i.to_string()).collect(),
        _ => spec.split(',').map(|s| s.trim().to_string()).collect(),
    };
    let bad = |why: String| {
        Error::Invalid(format!(
            "class names {spec:?}: {why}; give fmnist, mnist or a list such as bag,shoe"
        ))
    };
    if names.len() > crate::nn::config::MAX_LABEL_SIZE {
        return Err(bad(format!(
            "{} names, more than the {} classes supported",
            names.len(),
            crate::nn::config::MAX_LABEL_SIZE
        )));
    }
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            return Err(bad(format!("name {i} is empty")));
        }
        if n.parse::<u64>().is_ok_and(|v| v != i as u64) {
            return Err(bad(format!(
                "name {i} is the number {n}, which would mean class {n}"
            )));
        }
        if let Some(j) = names[..i].iter().position(|m| m.eq_ignore_ascii_case(n)) {
            return Err(bad(format!("names {j} and {i} are both {n:?}")));
        }
    }
    Ok(names)
}

/// The classes of a list such as `0-9`, `1,3,sneaker` or `bag-sneaker`: each item a class of
/// `cfg` ([`Config::class_index`]: a number or a name) or an inclusive range `A-B` of two;
/// in the order given. A name with a dash (`T-shirt/top`) is taken whole first.
///
/// ```
/// use stylegan_wgpu::{nn::labels::parse_classes, Config};
/// let c = Config { label_size: 10, class_names: stylegan_wgpu::nn::labels::class_names("fmnist")?, ..Config::default() };
/// assert_eq!(parse_classes(&c, "0-2,sneaker")?, [0, 1, 2, 7]);
/// assert_eq!(parse_classes(&c, "t-shirt/top-trouser")?, [0, 1]);
/// assert!(parse_classes(&c, "0-10").is_err() && parse_classes(&c, "3-1").is_err());
/// # Ok::<(), stylegan_wgpu::Error>(())
/// ```
pub fn parse_classes(cfg: &Config, spec: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(Error::Invalid(format!(
                "classes {spec:?}: an empty item; expected e.g. 0-9 or 1,3,sneaker"
            )));
        }
        let whole = match cfg.class_index(item) {
            Ok(c) => {
                out.push(c);
                continue;
            }
            Err(e) => e,
        };
        // A range: the first dash whose two sides are both classes.
        let range = item.match_indices('-').find_map(|(i, _)| {
            let (a, b) = (&item[..i], &item[i + 1..]);
            Some((cfg.class_index(a).ok()?, cfg.class_index(b).ok()?))
        });
        match range {
            Some((a, b)) if a <= b => out.extend(a..=b),
            Some((a, b)) => {
                return Err(Error::Invalid(format!(
                    "classes {spec:?}: the range {item:?} runs backwards ({a} to {b})"
                )))
            }
            // A range with an end the model does not have: that end's error.
            None if cfg.is_conditional() => {
                return Err(match item.split_once('-') {
                    Some((a, b)) => cfg
                        .class_index(a)
                        .and_then(|_| cfg.class_index(b))
                        .err()
                        .unwrap_or(whole),
                    None => whole,
                })
            }
            None => return Err(whole),
        }
    }
    Ok(out)
}

/// The class of every image keyed by `keys` (seeds, or row numbers of a latents file): all
/// `class` where one is given, else each key's own ([`class_of_seed`]); `None` for an
/// unconditional model, which takes no class (an error when one is given).
pub fn classes_of_seeds(
    cfg: &Config,
    keys: &[u32],
    class: Option<u32>,
) -> Result<Option<Vec<u32>>> {
    match (cfg.is_conditional(), class) {
        (false, None) => Ok(None),
        (false, Some(c)) => Err(Error::Invalid(format!(
            "class {c}: this model is unconditional (label_size 0); it takes no class"
        ))),
        (true, Some(c)) => {
            one_hot(&[c], cfg.label_size)?;
            Ok(Some(vec![c; keys.len()]))
        }
        (true, None) => Ok(Some(keys.iter().map(|&s| class_of_seed(cfg, s)).collect())),
    }
}

/// The label row `(1 - t) * one_hot(a) + t * one_hot(b)`: a path from class `a` to class `b`
/// through the label embedding (linear in the labels, `docs/network.md`), as interpolation
/// videos go from one key's class to the next.
pub fn blend_classes(a: u32, b: u32, t: f32, label_size: usize) -> Result<Vec<f32>> {
    let rows = one_hot(&[a, b], label_size)?;
    let (ra, rb) = rows.split_at(label_size);
    Ok(ra.iter().zip(rb).map(|(x, y)| x + t * (y - x)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_rows_and_range() {
        assert_eq!(one_hot(&[2, 0], 3).unwrap(), [0., 0., 1., 1., 0., 0.]);
        let e = one_hot(&[3], 3).unwrap_err().to_string();
        assert!(e.contains("class 3") && e.contains("0-2"), "{e}");
    }

    #[test]
    fn class_lists_names_and_seeds() {
        let c = Config {
            label_size: 10,
            class_names: class_names("fmnist").unwrap(),
            ..Config::default()
        };
        assert_eq!(
            parse_classes(&c, "0-9").unwrap(),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(parse_classes(&c, "1, 3 ,SNEAKER").unwrap(), [1, 3, 7]);
        assert_eq!(parse_classes(&c, "sandal-sneaker").unwrap(), [5, 6, 7]);
        let e = parse_classes(&c, "1,robot").unwrap_err().to_string();
        assert!(e.contains("robot") && e.contains("7 Sneaker"), "{e}");
        let e = parse_classes(&c, "8-12").unwrap_err().to_string();
        assert!(
            e.contains("class '12'") && e.contains("9 Ankle boot"),
            "{e}"
        );
        assert!(parse_classes(&c, "1,,2").is_err());
        let u = Config::default();
        let e = parse_classes(&u, "0-1").unwrap_err().to_string();
        assert!(e.contains("unconditional"), "{e}");
        assert_eq!(
            classes_of_seeds(&c, &[3, 12, 25], None).unwrap(),
            Some(vec![3, 2, 5])
        );
        assert_eq!(
            classes_of_seeds(&c, &[3, 12], Some(7)).unwrap(),
            Some(vec![7, 7])
        );
        assert!(classes_of_seeds(&c, &[3], Some(10)).is_err());
        assert_eq!(classes_of_seeds(&u, &[3], None).unwrap(), None);
        assert!(classes_of_seeds(&u, &[3], Some(0)).is_err());
        assert_eq!(blend_classes(0, 2, 0.25, 3).unwrap(), [0.75, 0.0, 0.25]);
        assert_eq!(class_names("mnist").unwrap()[3], "3");
        assert!(class_names("0,1,5").is_err());
    }
}
