//! `stylegan convert` of PyTorch checkpoints: f32 safetensors under the same names. The reader
//! itself is tested in the library's tests/torch_checkpoint.rs.

mod common;

use common::fixture;
use std::path::{Path, PathBuf};
use stylegan_wgpu::io::torch_checkpoint::read_torch_checkpoint;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sg_torch_cli_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read_safetensors(p: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            assert_eq!(v.dtype(), safetensors::Dtype::F32, "{n}");
            (
                n,
                v.shape().to_vec(),
                bytemuck::pod_collect_to_vec(v.data()),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn convert_writes_f32_safetensors_with_the_same_names() {
    let dir = tmpdir("convert");
    for f in ["torch_zip.pth", "torch_legacy.pth"] {
        let out = dir.join(format!("{f}.safetensors"));
        let o = common::process::stylegan_command()
            .args(["convert"])
            .arg(fixture(f))
            .arg(&out)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{text}");
        assert!(text.contains("8 tensors"), "{text}");
        let sd = read_torch_checkpoint(fixture(f)).unwrap();
        let mut want: Vec<_> = sd
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone(), t.data.clone()))
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(read_safetensors(&out), want);
    }
    // --only is for StyleGAN models.
    let o = common::process::stylegan_command()
        .args(["convert", "--only", "Gs"])
        .arg(fixture("torch_zip.pth"))
        .arg(dir.join("x.safetensors"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("PyTorch checkpoint"));
    let _ = std::fs::remove_dir_all(&dir);
}
