//! Reading and writing weights, arrays and images.

pub mod atomic;
pub mod model;
pub mod safetensors;

pub mod dtype;
pub mod images;
pub mod npy;
pub mod official;
pub mod pickle;

/// Reads a whole file; the error names it.
pub fn read_file(path: &std::path::Path) -> crate::Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| crate::Error::Io {
        path: path.display().to_string(),
        source,
    })
}
