//! The PyTorch checkpoint reader: the committed fixtures of tests/fixtures/make_torch.py in
//! both of torch.save's formats (values recomputed from the script's rules), refusals
//! (non-contiguous tensors, hostile globals, persistent ids outside torch, truncation, lying
//! sizes), `stylegan convert x.pth y.safetensors`, and (ignored, needs python3 with torch)
//! checkpoints torch writes on the spot with random values of every dtype compared bit for bit
//! with torch's own f32 conversion.

use std::path::PathBuf;
use std::process::Command;

use stylegan_wgpu::io::pickle::parse_pickle;
use stylegan_wgpu::io::torch_checkpoint::{
    parse_torch_checkpoint, read_torch_checkpoint, sniff_format, StateDict, TorchFormat,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sg_torch_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The rules of make_torch.py.
fn check_fixture(sd: &StateDict) {
    let names: Vec<&str> = sd.names().collect();
    assert_eq!(
        names,
        [
            "conv.weight",
            "bn.running_var",
            "half",
            "bf16",
            "steps",
            "base",
            "view",
            "flags"
        ]
    );
    let t = |n: &str| sd.get(n).unwrap_or_else(|| panic!("no {n}"));
    let conv = t("conv.weight");
    assert_eq!(conv.shape, [2, 3, 2, 2]);
    let want: Vec<f32> = (0..24).map(|i| i as f32 * 0.25 - 3.0).collect();
    assert_eq!(conv.data, want);
    let var = t("bn.running_var");
    assert_eq!(var.shape, [3]);
    let want: Vec<f32> = (0..3).map(|i| (1.0 + i as f64 / 3.0) as f32).collect();
    assert_eq!(var.data, want);
    assert_eq!(t("half").data, [-1.0, -0.5, 0.0, 0.5]);
    assert_eq!(t("bf16").data, [1.5, -2.0]);
    let steps = t("steps");
    assert!(steps.shape.is_empty());
    assert_eq!(steps.data, [7.0]);
    let base: Vec<f32> = (0..10).map(|i| i as f32).collect();
    assert_eq!(t("base").data, base);
    let view = t("view");
    assert_eq!(view.shape, [2, 2]);
    assert_eq!(view.data, [4.0, 5.0, 6.0, 7.0]);
    assert_eq!(t("flags").data, [1.0, 0.0, 1.0]);
}

#[test]
fn zip_fixture_reads_with_every_dtype_and_view() {
    let p = fixture("torch_zip.pth");
    assert_eq!(
        sniff_format(&std::fs::read(&p).unwrap()),
        Some(TorchFormat::Zip)
    );
    check_fixture(&read_torch_checkpoint(&p).unwrap());
}

#[test]
fn legacy_fixture_reads_the_same() {
    let p = fixture("torch_legacy.pth");
    assert_eq!(
        sniff_format(&std::fs::read(&p).unwrap()),
        Some(TorchFormat::Legacy)
    );
    let legacy = read_torch_checkpoint(&p).unwrap();
    check_fixture(&legacy);
    assert_eq!(
        legacy,
        read_torch_checkpoint(fixture("torch_zip.pth")).unwrap()
    );
}

#[test]
fn non_contiguous_tensors_are_refused_naming_file_and_tensor() {
    for f in ["noncontig_zip.pth", "noncontig_legacy.pth"] {
        let e = read_torch_checkpoint(fixture(f)).unwrap_err().to_string();
        assert!(e.contains(f), "{e}");
        assert!(e.contains("tensor 't'"), "{e}");
        assert!(e.contains("non-contiguous"), "{e}");
    }
}

/// A legacy checkpoint whose header pickles are valid and whose main pickle is `main`.
fn legacy_with_main(main: &[u8]) -> Vec<u8> {
    let fx = std::fs::read(fixture("torch_legacy.pth")).unwrap();
    // Magic (PROTO 2, LONG1 10 bytes, STOP) and protocol (PROTO 2, BININT2 1001, STOP) as torch
    // wrote them, then an empty sys_info dict.
    let mut b = fx[..15].to_vec();
    b.extend_from_slice(b"\x80\x02M\xe9\x03.");
    b.extend_from_slice(b"}.");
    b.extend_from_slice(main);
    b.extend_from_slice(b"].");
    b
}

fn zip_with_pkl(pkl: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opt =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file("archive/data.pkl", opt).unwrap();
    w.write_all(pkl).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn hostile_globals_are_refused_before_anything_runs() {
    let hostile: [(&[u8], &str); 4] = [
        (b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.", "os.system"),
        (
            b"\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001R.",
            "builtins.eval",
        ),
        (b"\x80\x02ctorch\nload\n.", "torch.load"),
        // Allowed in StyleGAN pickles, not in a PyTorch checkpoint.
        (
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n.",
            "numpy.core.multiarray._reconstruct",
        ),
    ];
    for (pkl, name) in hostile {
        for (fmt, bytes) in [
            ("legacy", legacy_with_main(pkl)),
            ("zip", zip_with_pkl(pkl)),
        ] {
            let e = parse_torch_checkpoint(&bytes, "evil.pth")
                .unwrap_err()
                .to_string();
            assert!(e.contains("evil.pth"), "{fmt}: {e}");
            assert!(
                e.contains(&format!("global '{name}' is not allowed")),
                "{fmt}: {e}"
            );
            assert!(e.contains("nothing was executed"), "{fmt}: {e}");
        }
    }
}

#[test]
fn persistent_ids_only_in_torch_checkpoints() {
    let e = parse_pickle(b"\x80\x02X\x01\x00\x00\x00aQ.", "x.pkl")
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.pkl") && e.contains("persistent ids"), "{e}");
}

#[test]
fn lying_storage_references_are_errors() {
    // ('storage', torch.FloatStorage, '0', 'cpu', 1 << 40) for a tensor of shape [4]: the
    // storage is missing / too small, never allocated.
    let pid = |numel: &[u8]| {
        let mut p = b"\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(\
(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu"
            .to_vec();
        p.extend_from_slice(numel);
        p.extend_from_slice(b"tQK\x00K\x04\x85K\x01\x85\x89)tRu.");
        p
    };
    let huge = pid(b"\x8a\x06\x00\x00\x00\x00\x00\x01");
    let e = parse_torch_checkpoint(&zip_with_pkl(&huge), "lie.pth")
        .unwrap_err()
        .to_string();
    assert!(e.contains("lie.pth") && e.contains("'w'"), "{e}");
    assert!(e.contains("storage '0' is missing"), "{e}");
    // Shape [4] at offset 0 in a storage of 2 elements.
    let small = pid(b"K\x02");
    let e = parse_torch_checkpoint(&zip_with_pkl(&small), "lie.pth")
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not fit its storage"), "{e}");
    // Legacy: the storage list names it but the file ends.
    let mut b = legacy_with_main(&huge);
    b.truncate(b.len() - 2);
    b.extend_from_slice(b"]X\x01\x00\x00\x000a.");
    b.extend_from_slice(&(1i64 << 40).to_le_bytes());
    let e = parse_torch_checkpoint(&b, "lie.pth")
        .unwrap_err()
        .to_string();
    assert!(e.contains("storage '0'") && e.contains("do not fit"), "{e}");
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    for f in ["torch_zip.pth", "torch_legacy.pth"] {
        let b = std::fs::read(fixture(f)).unwrap();
        for len in 0..b.len() {
            let r = parse_torch_checkpoint(&b[..len], f);
            assert!(r.is_err(), "{f} cut to {len} bytes was accepted");
        }
    }
    let e = parse_torch_checkpoint(b"hello", "x.pth")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.pth") && e.contains("not a PyTorch checkpoint"),
        "{e}"
    );
    // A StyleGAN pickle is not a checkpoint either.
    let e = read_torch_checkpoint(fixture("tiny_p2.pkl"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tiny_p2.pkl"), "{e}");
    // Folders are not read.
    let e = read_torch_checkpoint(fixture("")).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

fn python() -> String {
    std::env::var("STYLEGAN_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Random tensors of every dtype (and views, a 0-d tensor, an empty one), saved by torch in
/// both formats; torch also writes each tensor converted to f32 as raw little-endian bytes.
const MAKE: &str = r#"
import collections, os, sys, torch
out = sys.argv[1]
g = torch.Generator().manual_seed(1234)
base = torch.randn(300, generator=g)
sd = collections.OrderedDict()
sd["f32"] = torch.randn(16, 8, 3, 3, generator=g)
sd["f64"] = torch.randn(33, 7, generator=g, dtype=torch.float64) * 1e3
sd["f16"] = torch.randn(5, 130, generator=g).half()
sd["bf16"] = torch.randn(77, generator=g).bfloat16()
sd["i64"] = torch.randint(-1000, 1000, (4, 5), generator=g)
sd["i32"] = torch.randint(-1000, 1000, (9,), generator=g, dtype=torch.int32)
sd["i16"] = torch.randint(-1000, 1000, (9,), generator=g, dtype=torch.int16)
sd["i8"] = torch.randint(-100, 100, (9,), generator=g, dtype=torch.int8)
sd["u8"] = torch.randint(0, 255, (9,), generator=g, dtype=torch.uint8)
sd["bool"] = torch.randn(9, generator=g) > 0
sd["scalar"] = torch.tensor(3.25)
sd["empty"] = torch.zeros(0, 4)
sd["base"] = base
sd["view_a"] = base[10:110].view(10, 10)
sd["view_b"] = base[150:].view(3, 50)
sd["row"] = base.view(30, 10)[7]
for fmt, z in (("zip", True), ("legacy", False)):
    torch.save(sd, os.path.join(out, fmt + ".pth"), _use_new_zipfile_serialization=z)
with open(os.path.join(out, "expected.txt"), "w") as f:
    for k, v in sd.items():
        f.write(k + " " + ",".join(str(d) for d in v.shape) + "\n")
        with open(os.path.join(out, k + ".f32"), "wb") as r:
            r.write(v.float().contiguous().numpy().astype("<f4").tobytes())
"#;

#[test]
#[ignore = "needs python3 with torch; CI runs it: cargo test --test torch_checkpoint -- --ignored"]
fn torch_written_checkpoints_match_torch_bit_for_bit() {
    let dir = tmpdir("torch");
    let o = Command::new(python())
        .args(["-c", MAKE])
        .arg(&dir)
        .output()
        .expect("cannot start python3");
    assert!(
        o.status.success(),
        "python3 with torch is needed (pip install torch; STYLEGAN_PYTHON picks the \
         interpreter):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    for fmt in ["zip", "legacy"] {
        let sd = read_torch_checkpoint(dir.join(format!("{fmt}.pth"))).unwrap();
        let mut n = 0;
        for line in expected.lines() {
            let (name, shape) = line.split_once(' ').unwrap();
            let shape: Vec<usize> = shape
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            let raw = std::fs::read(dir.join(format!("{name}.f32"))).unwrap();
            let want: Vec<f32> = bytemuck::pod_collect_to_vec(&raw);
            let t = sd.get(name).unwrap_or_else(|| panic!("{fmt}: no {name}"));
            assert_eq!(t.shape, shape, "{fmt}: {name}");
            let same = t
                .data
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(
                same && t.data.len() == want.len(),
                "{fmt}: {name} differs from torch's .float()"
            );
            n += 1;
        }
        assert_eq!(n, sd.len());
        println!("{fmt}: {n} tensors identical to torch's f32 conversion");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
