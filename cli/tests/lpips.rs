//! `stylegan lpips` against the lpips package (random torchvision VGG16 weights, its shipped
//! linear layers). Needs python3 with torch, torchvision and lpips, so it is ignored in a plain
//! `cargo test`; CI runs it with `--ignored`.

mod common;
use common::process::{python, run, stylegan, write_images};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/pytorch/lpips_ref.py"
);

fn parse_lpips(text: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix("LPIPS: "))
        .unwrap_or_else(|| panic!("no 'LPIPS: ' line in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs python3 with torch, torchvision and lpips; CI runs it: cargo test --test lpips -- --ignored"]
fn stylegan_lpips_matches_the_lpips_package() {
    let tmp = std::env::temp_dir().join(format!("sgw-lpips-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let py = python();
    run(&tmp, &py, &[SCRIPT, "weights", "vgg.pth", "--seed", "3"]);
    let lin = run(&tmp, &py, &[SCRIPT, "lin"])
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    stylegan(&tmp, &["convert", "vgg.pth", "vgg.safetensors"]);
    // RGB 64x64 and grayscale 40x40 (40 -> 20 -> 10 -> 5 -> 2: odd sizes through the pools).
    write_images(&tmp.join("rgb"), 2, 3, 64, 1);
    write_images(&tmp.join("gray"), 2, 1, 40, 2);
    let mut worst: f64 = 0.0;
    for set in ["rgb", "gray"] {
        let (a, b) = (format!("{set}/000.png"), format!("{set}/001.png"));
        let want = parse_lpips(&run(
            &tmp,
            &py,
            &[SCRIPT, "distance", "vgg.pth", &lin, &a, &b],
        ));
        for vgg in ["vgg.pth", "vgg.safetensors"] {
            let json = format!("{set}.json");
            let out = stylegan(
                &tmp,
                &[
                    "lpips", &a, &b, "--vgg", vgg, "--lin", &lin, "--json", &json,
                ],
            );
            let printed: f64 = out.lines().next().unwrap().trim().parse().unwrap();
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(tmp.join(&json)).unwrap()).unwrap();
            let got = v["lpips"].as_f64().unwrap();
            assert!(
                (printed - got).abs() <= 1e-7 * got.abs().max(1.0),
                "{out} vs {v}"
            );
            let rel = (got - want).abs() / want.abs();
            eprintln!("{set} ({vgg}): ours {got:.9} lpips package {want:.9} rel {rel:.2e}");
            worst = worst.max(rel);
        }
    }
    assert!(worst <= 1e-4, "worst relative difference {worst:.2e}");
    std::fs::remove_dir_all(&tmp).ok();
}
