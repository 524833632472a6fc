//! An output file's format, decided from its extension in one place for every writer (images,
//! grids, GIFs, arrays, reports, weights): a name whose extension says one format while the
//! writer makes another (GIF bytes in `x.png`) is refused before any work is done.

use std::path::Path;

use crate::error::{Error, Result};

/// The formats the crate writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Png,
    Jpeg,
    Gif,
    /// H.264 video, written by `ffmpeg` (the binary pipes frames to it).
    Mp4,
    Npy,
    /// numpy archives: pytorch-fid's statistics, NVIDIA's `projected_w.npz`.
    Npz,
    Json,
    /// JSON lines (one record per line, appended): the metric logs.
    Jsonl,
    Safetensors,
    /// A dataset archive (stylegan2-ada's zip of PNGs).
    Zip,
}

impl FileFormat {
    /// The extensions of each format (lower case, without the dot).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileFormat::Png => &["png"],
            FileFormat::Jpeg => &["jpg", "jpeg"],
            FileFormat::Gif => &["gif"],
            FileFormat::Mp4 => &["mp4"],
            FileFormat::Npy => &["npy"],
            FileFormat::Npz => &["npz"],
            FileFormat::Json => &["json"],
            FileFormat::Jsonl => &["jsonl"],
            FileFormat::Safetensors => &["safetensors"],
            FileFormat::Zip => &["zip"],
        }
    }

    /// The format `path`'s extension names (any case), if any.
    pub fn of_path(path: &Path) -> Option<FileFormat> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        [
            FileFormat::Png,
            FileFormat::Jpeg,
            FileFormat::Gif,
            FileFormat::Mp4,
            FileFormat::Npy,
            FileFormat::Npz,
            FileFormat::Json,
            FileFormat::Jsonl,
            FileFormat::Safetensors,
            FileFormat::Zip,
        ]
        .into_iter()
        .find(|f| f.extensions().contains(&ext.as_str()))
    }

    /// The format of `path` when it is one of `allowed`; otherwise an error naming `what` (a
    /// flag or a writer), the file, and the extensions it accepts.
    pub fn expect(path: &Path, what: &str, allowed: &[FileFormat]) -> Result<FileFormat> {
        if let Some(f) = Self::of_path(path).filter(|f| allowed.contains(f)) {
            return Ok(f);
        }
        let want: Vec<String> = allowed
            .iter()
            .flat_map(|f| f.extensions())
            .map(|e| format!(".{e}"))
            .collect();
        let got = match path.extension() {
            Some(e) => format!("the extension '.{}'", e.to_string_lossy()),
            None => "no extension".into(),
        };
        Err(Error::Format {
            path: path.display().to_string(),
            msg: format!(
                "{what} writes {}, but the name has {got}",
                want.join(" or ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_decides_and_a_mismatch_is_refused() {
        let p = |s: &str| Path::new(s).to_path_buf();
        assert_eq!(
            FileFormat::expect(&p("a.GIF"), "--gif", &[FileFormat::Gif]).unwrap(),
            FileFormat::Gif
        );
        let e = FileFormat::expect(&p("x.png"), "--gif", &[FileFormat::Gif]).unwrap_err();
        assert!(e.to_string().contains("x.png") && e.to_string().contains("--gif writes .gif"));
        let e = FileFormat::expect(&p("grid"), "--grid", &[FileFormat::Png, FileFormat::Jpeg])
            .unwrap_err();
        assert!(e.to_string().contains("no extension"), "{e}");
        assert_eq!(FileFormat::of_path(&p("w.NPY")), Some(FileFormat::Npy));
    }
}
