//! `stylegan losses` and `stylegan discriminate` run as the real binary: their outputs and
//! errors. The losses themselves are checked against the reference in the library's
//! tests/losses.rs.

mod common;
use common::losses::*;
use common::tempdir::TempDir;
use common::*;
use safetensors::SafeTensors;
use stylegan_wgpu::io::images::{load_image_chw, save_png};
use stylegan_wgpu::io::npy::{read_npy, write_npy};
use stylegan_wgpu::io::safetensors::{save, Checkpoint};
use stylegan_wgpu::nn::discriminator::Discriminator;
use stylegan_wgpu::train::inspect::discriminate_batched;

fn stylegan(dir: &TempDir, args: &[&str]) -> (bool, String) {
    let o = common::process::stylegan_command()
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("cannot start the stylegan binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !text.contains("panicked"),
        "stylegan {args:?} panicked:\n{text}"
    );
    (o.status.success(), text)
}

#[test]
fn losses_and_discriminate_commands() {
    let dir = TempDir::new("commands");
    std::fs::create_dir_all(dir.path("pngs")).unwrap();
    let p = |rel: &str| dir.0.join(rel).display().to_string();
    let s = setup();
    let mut m = Checkpoint {
        config: s.cfg.clone(),
        ..Default::default()
    };
    m.nets.insert("G".into(), s.gw.clone());
    m.nets.insert("Gs".into(), s.gw.clone());
    m.nets.insert("D".into(), s.dw.clone());
    save(&dir.0.join("m.safetensors"), &m).unwrap();
    write_npy(p("z.npy"), &[N, 8], &s.z.to_f32()).unwrap();
    write_npy(p("reals.npy"), &[N, 1, 8, 8], &s.x.to_f32()).unwrap();

    let (ok, out) = stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "m.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "reals.npy",
            "--noise-mode",
            "const",
            "--out",
            "l.safetensors",
        ],
    );
    assert!(ok, "losses failed:\n{out}");
    let bytes = std::fs::read(p("l.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let g = gpu();
    let want = gpu_report(&g, &s, GAMMA);
    let tensors = want.tensors();
    assert_eq!(st.len(), tensors.len(), "tensor count");
    for name in [
        "grad/G/G_mapping/Dense0/weight",
        "grad/G/G_synthesis/4x4/Const/const",
        "grad/D/4x4/Dense1/bias",
    ] {
        assert!(tensors.iter().any(|t| t.0 == name), "{name} missing");
    }
    let mut worst = 0.0f64;
    for (name, shape, data) in &tensors {
        let v = st
            .tensor(name)
            .unwrap_or_else(|_| panic!("{name} missing from the file"));
        assert_eq!(v.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(v.shape(), &shape[..], "{name} shape");
        let got: Vec<f32> = bytemuck::pod_collect_to_vec(v.data());
        let (_, rel) = errors(
            &got.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        );
        worst = worst.max(rel);
    }
    eprintln!("losses command vs library: max rel err {worst:.2e}");
    assert!(worst < 1e-5);

    // discriminate on the .npy: one batch of 4, the same minibatch as losses' d_real.
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "reals.npy",
            "--out-npy",
            "s.npy",
        ],
    );
    assert!(ok, "discriminate failed:\n{out}");
    let scores = read_npy(p("s.npy")).unwrap();
    assert_eq!(scores.shape, [N, 1]);
    let (abs, _) = errors(
        &scores.data.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        &want.d_real.iter().map(|&v| v as f64).collect::<Vec<_>>(),
    );
    eprintln!("discriminate vs losses d_real: max abs err {abs:.2e}");
    assert!(abs < 1e-5);

    // A folder of PNGs, read sorted by name.
    for i in 0..N {
        save_png(
            dir.0.join(format!("pngs/img{:02}.png", i)),
            &s.x.to_f32()[i * 64..(i + 1) * 64],
            1,
            8,
            8,
        )
        .unwrap();
    }
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "pngs",
            "--out-npy",
            "p.npy",
        ],
    );
    assert!(ok, "discriminate (pngs) failed:\n{out}");
    let mut imgs = vec![];
    for i in 0..N {
        imgs.extend(
            load_image_chw(dir.0.join(format!("pngs/img{i:02}.png")))
                .unwrap()
                .0,
        );
    }
    let d = Discriminator::new(&g, &s.cfg, &s.dw).unwrap();
    let lib = discriminate_batched(&g, &d, &imgs, None, 8).unwrap();
    let got = read_npy(p("p.npy")).unwrap();
    let diff = got
        .data
        .iter()
        .zip(&lib)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff < 1e-5,
        "png scores differ from the library's by {diff}"
    );

    // Clear errors.
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "reals.npy",
            "--out-npy",
            "x.npy",
            "--batch",
            "6",
        ],
    );
    assert!(
        !ok && out.contains("--batch") && out.contains("groups of 4"),
        "{out}"
    );
    save_png(dir.0.join("pngs/zz.png"), &[0.0; 3 * 64], 3, 8, 8).unwrap();
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "m.safetensors",
            "--images",
            "pngs",
            "--out-npy",
            "x.npy",
        ],
    );
    assert!(
        !ok && out.contains("zz.png") && out.contains("3 channel"),
        "{out}"
    );
    m.nets.remove("D");
    save(&dir.0.join("nod.safetensors"), &m).unwrap();
    let (ok, out) = stylegan(
        &dir,
        &[
            "discriminate",
            "--model",
            "nod.safetensors",
            "--images",
            "reals.npy",
            "--out-npy",
            "x.npy",
        ],
    );
    assert!(!ok && out.contains("no discriminator"), "{out}");
    let (ok, out) = stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "nod.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "reals.npy",
            "--out",
            "x.safetensors",
        ],
    );
    assert!(!ok && out.contains("no D network"), "{out}");
    let (ok, out) = stylegan(
        &dir,
        &[
            "losses",
            "--model",
            "m.safetensors",
            "--latents",
            "z.npy",
            "--reals",
            "pngs/zz.png",
            "--out",
            "x.safetensors",
        ],
    );
    assert!(!ok && out.contains("zz.png"), "{out}");
}
