//! Class labels of a dataset, where its source has them: the IDX label file beside MNIST's
//! images (`train-labels-idx1-ubyte[.gz]` next to `train-images-idx3-ubyte[.gz]`), or the
//! `dataset.json` at the root of a folder or zip in stylegan2-ada-pytorch's format:
//!
//! ```json
//! {"labels": [["00000/img00000000.png", 6], ["00000/img00000001.png", 9]]}
//! ```
//!
//! with names relative to the root (`/`-separated), or `{"labels": null}`. As in
//! stylegan2-ada, a dataset has labels only when every one of its images has one. Only class
//! labels (whole numbers) are read; stylegan2-ada's vector labels are refused with an error
//! naming the file rather than dropped.

use super::fmt_err;
use crate::error::Result;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The name of the labels file of folders and zips.
pub const DATASET_JSON: &str = "dataset.json";

/// The labels of a `dataset.json` (`name` shown in errors): a map from the image's name
/// relative to the dataset root to its class; `None` for `"labels": null`.
pub(super) fn parse_dataset_json(name: &str, bytes: &[u8]) -> Result<Option<HashMap<String, u32>>> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| fmt_err(name, format!("not valid JSON: {e}")))?;
    let labels = match v.get("labels") {
        Some(l) => l,
        None => {
            return Err(fmt_err(
                name,
                r#"no "labels" key: expected {"labels": [["00000/img00000000.png", 6], ...]} or {"labels": null}"#,
            ))
        }
    };
    if labels.is_null() {
        return Ok(None);
    }
    let list = labels.as_array().ok_or_else(|| {
        fmt_err(
            name,
            r#""labels" must be a list of [name, class] pairs or null"#,
        )
    })?;
    let mut map = HashMap::with_capacity(list.len());
    for (i, pair) in list.iter().enumerate() {
        let bad = |what: &str| fmt_err(name, format!("labels[{i}] {what}: {pair}"));
        let p = pair
            .as_array()
            .filter(|p| p.len() == 2)
            .ok_or_else(|| bad("is not a [name, class] pair"))?;
        let img = p[0].as_str().ok_or_else(|| bad("has no image name"))?;
        let class = p[1]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| bad("is not a whole-number class (vector labels are not supported)"))?;
        map.insert(img.to_string(), class);
    }
    Ok(Some(map))
}

/// The labels of `names` from `map`, in order, when every one has a label; otherwise a
/// warning saying how many lack one (stylegan2-ada then treats the dataset as unlabelled).
pub(super) fn labels_for(
    json_name: &str,
    map: &HashMap<String, u32>,
    names: &[&str],
) -> (Option<Vec<u32>>, Option<String>) {
    let found: Vec<Option<u32>> = names.iter().map(|n| map.get(*n).copied()).collect();
    let missing = found.iter().filter(|l| l.is_none()).count();
    if missing == 0 {
        return (Some(found.into_iter().flatten().collect()), None);
    }
    let first = names[found.iter().position(|l| l.is_none()).unwrap_or(0)];
    (
        None,
        Some(format!(
            "{json_name}: {missing} of {} images have no label (the first: {first}); the \
             dataset is read without labels",
            names.len()
        )),
    )
}

/// Classes from one subfolder per class (torchvision's `ImageFolder`): when there is no
/// `dataset.json` and every image sits directly in a subfolder of the root, and there are at
/// least two subfolders, the classes are the subfolders' names in sorted order.
pub(super) fn subfolder_classes(entries: &[super::source::Entry]) -> Option<Vec<String>> {
    let mut names = std::collections::BTreeSet::new();
    for e in entries {
        match e.rel.split_once('/') {
            Some((dir, rest)) if !dir.is_empty() && !rest.contains('/') => {
                names.insert(dir.to_string());
            }
            _ => return None,
        }
    }
    (names.len() >= 2).then(|| names.into_iter().collect())
}

/// The IDX label file beside an IDX images file (`*-images-idx3-ubyte[.gz]` ->
/// `*-labels-idx1-ubyte[.gz]`, either compressed or not), if there is one.
pub(super) fn idx_labels_path(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    let prefix = stem.strip_suffix("images-idx3-ubyte")?;
    let dir = images.parent()?;
    let base = format!("{prefix}labels-idx1-ubyte");
    [format!("{base}.gz"), base]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_json_forms() {
        let m = parse_dataset_json("d.json", br#"{"labels": [["a/b.png", 6], ["c.png", 0]]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(m["a/b.png"], 6);
        assert_eq!(m["c.png"], 0);
        assert!(parse_dataset_json("d.json", br#"{"labels": null}"#)
            .unwrap()
            .is_none());
        for bad in [
            &br#"{"labels": [["a.png", [0.5, 1]]]}"#[..],
            br#"{"labels": [["a.png", -1]]}"#,
            br#"{"labels": 3}"#,
            br#"{}"#,
            b"nope",
        ] {
            let e = parse_dataset_json("d.json", bad).unwrap_err().to_string();
            assert!(e.contains("d.json"), "{e}");
        }
        let (l, w) = labels_for("d.json", &m, &["a/b.png", "x.png"]);
        assert!(l.is_none() && w.unwrap().contains("1 of 2 images have no label"));
    }
}
