//! numpy `.npz` archives: a zip holding one `.npy` file per array, `<key>.npy`.
//!
//! NVIDIA's projector writes its result this way (`np.savez(..., w=projected_w)`, one array
//! `w` of shape `[1, num_ws, w_dim]`), and pytorch-fid its dataset statistics
//! (`np.savez_compressed(path, mu=mu, sigma=sigma)`, both float64). Reading goes through the
//! bounded zip reader of `torch.save` files (`io::torch_zip`): stored and deflated entries,
//! sizes checked against the file before anything is allocated, CRCs checked. The arrays keep
//! their element type, so float64 statistics are read without rounding.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::dtype::DType;
use crate::io::npy::{npy_bytes, npy_bytes_f64, parse_npy, NpyArray};
use crate::io::torch_zip::TorchZip;

/// Deflate's largest expansion (a 258-byte match coded in about 2 bits): no entry can inflate
/// to more than this many times the archive's size, so a larger declared size is a lie.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// One array of an archive: its type, shape and little-endian data.
#[derive(Clone, Debug, PartialEq)]
pub struct NpzArray {
    pub dtype: DType,
    pub shape: Vec<usize>,
    data: Vec<u8>,
}

impl NpzArray {
    /// The values as f32 (what the GPU computes in; f8 and wide integers round).
    pub fn to_f32(&self) -> NpyArray {
        NpyArray {
            shape: self.shape.clone(),
            data: self.dtype.le_to_f32(&self.data),
        }
    }

    /// The values as f64, exactly for float64 data.
    pub fn to_f64(&self) -> Vec<f64> {
        self.dtype.le_to_f64(&self.data)
    }

    /// Elements in the array.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.itemsize()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The arrays of an `.npz` file by key, in the archive's order.
#[derive(Clone, Debug)]
pub struct Npz {
    path: String,
    arrays: Vec<(String, NpzArray)>,
}

impl Npz {
    /// The keys (entry names without `.npy`), in the archive's order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.arrays.iter().map(|(k, _)| k.as_str())
    }

    /// The array `key`; the error names the file and the keys it holds.
    pub fn get(&self, key: &str) -> Result<&NpzArray> {
        self.arrays
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a)
            .ok_or_else(|| Error::Format {
                path: self.path.clone(),
                msg: format!(
                    "no array '{key}' in the archive (it holds: {})",
                    self.keys().collect::<Vec<_>>().join(", ")
                ),
            })
    }

    /// The number of arrays.
    pub fn len(&self) -> usize {
        self.arrays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arrays.is_empty()
    }
}

/// Parses an in-memory `.npz`; `path` names it in errors. Entries that are not `.npy` files
/// (numpy never writes any) are skipped.
pub fn read_npz_bytes(bytes: &[u8], path: &str) -> Result<Npz> {
    let zip = TorchZip::parse(bytes, path)?;
    // An entry is refused before it is inflated when it claims more than deflate can expand
    // the file to, or than half the memory available (as `limits::check_host_bytes`).
    let mut limit = (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO);
    if let Some(avail) = crate::limits::host_memory_available() {
        limit = limit.min(avail / 2);
    }
    let names: Vec<String> = zip
        .names()
        .filter(|n| n.ends_with(".npy"))
        .map(str::to_string)
        .collect();
    let mut arrays = Vec::with_capacity(names.len());
    let mut total = 0u64;
    for name in names {
        let raw = zip.read(&name, limit)?;
        total = total.saturating_add(raw.len() as u64);
        crate::limits::check_host_bytes(&format!("{path}: its arrays"), total)?;
        let shown = format!("{path} ({name})");
        let (dtype, shape, start) = parse_npy(&raw, &shown)?;
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        arrays.push((
            key,
            NpzArray {
                dtype,
                shape,
                data: raw[start..].to_vec(),
            },
        ));
    }
    Ok(Npz {
        path: path.to_string(),
        arrays,
    })
}

/// Reads an `.npz` file.
pub fn read_npz(path: impl AsRef<Path>) -> Result<Npz> {
    let path = path.as_ref();
    let bytes = crate::io::read_file(path)?;
    read_npz_bytes(&bytes, &path.display().to_string())
}

/// One array of an `.npy` file or of an `.npz` archive, as f32: the archive's `key`, or its
/// only array when it has no `key` (NVIDIA's `projected_w.npz` holds `w`; a file saved with
/// `np.savez(path, w)` holds `arr_0`). The extension decides which format is read.
pub fn read_array(path: impl AsRef<Path>, key: &str) -> Result<NpyArray> {
    let path = path.as_ref();
    let npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if !npz {
        return crate::io::npy::read_npy(path);
    }
    let z = read_npz(path)?;
    if z.len() == 1 && z.get(key).is_err() {
        return Ok(z.arrays[0].1.to_f32());
    }
    Ok(z.get(key)?.to_f32())
}

/// The data of an array to write.
#[derive(Clone, Copy, Debug)]
pub enum NpzData<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// One array to write: key, shape, data.
pub type NpzEntry<'a> = (&'a str, &'a [usize], NpzData<'a>);

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
/// 1980-01-01 in MS-DOS date format (the zip epoch): the bytes do not depend on the clock.
const DOS_DATE: u16 = (1 << 5) | 1;

/// Encodes arrays as `.npz` bytes: deflated entries (`np.savez_compressed`) or stored ones
/// (`np.savez`). numpy's `np.load` reads either.
pub fn npz_bytes(arrays: &[NpzEntry], compress: bool) -> Result<Vec<u8>> {
    let too_big = |what: &str| Error::Invalid(format!("npz: {what} exceeds the 4 GiB of a zip"));
    if arrays.len() >= u16::MAX as usize {
        return Err(Error::Invalid(format!(
            "npz: {} arrays, a zip without zip64 holds fewer than 65535",
            arrays.len()
        )));
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for &(key, shape, data) in arrays {
        let npy = match data {
            NpzData::F32(d) => npy_bytes(shape, d)?,
            NpzData::F64(d) => npy_bytes_f64(shape, d)?,
        };
        let name = format!("{key}.npy");
        let mut crc = flate2::Crc::new();
        crc.update(&npy);
        let (method, body) = if compress {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&npy)
                .and_then(|_| e.finish())
                .map(|b| (8u16, b))
                .map_err(|e| Error::Invalid(format!("npz: deflating {name}: {e}")))?
        } else {
            (0u16, npy.clone())
        };
        let size = u32::try_from(npy.len()).map_err(|_| too_big(&name))?;
        let csize = u32::try_from(body.len()).map_err(|_| too_big(&name))?;
        let offset = u32::try_from(out.len()).map_err(|_| too_big("the archive"))?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big("a key"))?;
        // The fields local and central headers share, from "version needed" to "name length".
        let mut common = Vec::with_capacity(24);
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0 (deflate)
        common.extend_from_slice(&0u16.to_le_bytes()); // flags
        common.extend_from_slice(&method.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // time
        common.extend_from_slice(&DOS_DATE.to_le_bytes());
        common.extend_from_slice(&crc.sum().to_le_bytes());
        common.extend_from_slice(&csize.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&body);
        central.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        // Extra and comment lengths, disk, internal and external attributes.
        central.extend_from_slice(&[0u8; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).map_err(|_| too_big("the archive"))?;
    let cd_size = u32::try_from(central.len()).map_err(|_| too_big("the directory"))?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // this disk, the directory's disk
    let n = arrays.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
}

/// Writes arrays as an `.npz` file (atomically, as every file the crate writes).
pub fn write_npz(path: impl AsRef<Path>, arrays: &[NpzEntry], compress: bool) -> Result<()> {
    let path = path.as_ref();
    let bytes = npz_bytes(arrays, compress)?;
    super::atomic::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_stored_and_deflated() {
        let w: Vec<f32> = (0..24).map(|i| i as f32 * 0.25 - 3.0).collect();
        let sigma: Vec<f64> = vec![1.0 + 1e-12, 0.5, 0.5, 2.0 / 3.0];
        for compress in [false, true] {
            let bytes = npz_bytes(
                &[
                    ("w", &[1, 4, 6], NpzData::F32(&w)),
                    ("sigma", &[2, 2], NpzData::F64(&sigma)),
                ],
                compress,
            )
            .unwrap();
            let z = read_npz_bytes(&bytes, "t.npz").unwrap();
            assert_eq!(z.keys().collect::<Vec<_>>(), ["w", "sigma"]);
            let a = z.get("w").unwrap();
            assert_eq!((a.dtype, a.len()), (DType::F4, 24));
            assert_eq!(
                a.to_f32(),
                NpyArray {
                    shape: vec![1, 4, 6],
                    data: w.clone()
                }
            );
            let s = z.get("sigma").unwrap();
            assert_eq!((s.dtype, s.shape.as_slice()), (DType::F8, &[2, 2][..]));
            // Bit-exact: statistics are not rounded through f32.
            assert_eq!(s.to_f64(), sigma);
        }
    }

    #[test]
    fn errors_name_the_file_and_the_keys() {
        let bytes = npz_bytes(&[("mu", &[2], NpzData::F64(&[1.0, 2.0]))], true).unwrap();
        let z = read_npz_bytes(&bytes, "stats.npz").unwrap();
        let e = z.get("sigma").unwrap_err().to_string();
        assert!(
            e.contains("stats.npz") && e.contains("'sigma'") && e.contains("mu"),
            "{e}"
        );
        let e = read_npz_bytes(b"not a zip at all, just text", "x.npz").unwrap_err();
        assert!(e.to_string().contains("x.npz"), "{e}");
        // A corrupted byte of the deflated data: a CRC or deflate error naming file and entry.
        let mut bad = bytes.clone();
        bad[45] ^= 0x55;
        let e = read_npz_bytes(&bad, "stats.npz").unwrap_err().to_string();
        assert!(e.contains("stats.npz") && e.contains("mu.npy"), "{e}");
        // Truncated: the end record is gone.
        let e = read_npz_bytes(&bytes[..bytes.len() - 10], "t.npz").unwrap_err();
        assert!(e.to_string().contains("t.npz"), "{e}");
    }

    #[test]
    fn read_array_takes_the_key_or_the_only_array() {
        let dir = std::env::temp_dir().join(format!("sgw-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("projected_w.npz");
        write_npz(
            &p,
            &[("w", &[1, 2, 2], NpzData::F32(&[1.0, 2.0, 3.0, 4.0]))],
            false,
        )
        .unwrap();
        assert_eq!(read_array(&p, "w").unwrap().shape, [1, 2, 2]);
        write_npz(&p, &[("arr_0", &[2], NpzData::F64(&[0.5, 1.5]))], true).unwrap();
        assert_eq!(read_array(&p, "w").unwrap().data, [0.5, 1.5]);
        let two = [
            ("a", &[1][..], NpzData::F32(&[1.0])),
            ("b", &[1][..], NpzData::F32(&[2.0])),
        ];
        write_npz(&p, &two, false).unwrap();
        let e = read_array(&p, "w").unwrap_err().to_string();
        assert!(
            e.contains("projected_w.npz") && e.contains("'w'") && e.contains("a, b"),
            "{e}"
        );
        let q = dir.join("w.npy");
        crate::io::npy::write_npy(&q, &[1], &[7.0]).unwrap();
        assert_eq!(read_array(&q, "w").unwrap().data, [7.0]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_shape_that_does_not_match_is_refused() {
        assert!(npz_bytes(&[("w", &[3], NpzData::F32(&[1.0]))], false).is_err());
    }
}
