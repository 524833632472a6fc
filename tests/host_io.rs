//! Host-side I/O: numpy-compatible latents, seed lists, slerp, `.npy` files, PNG/GIF images.
//! No GPU needed.

use stylegan_wgpu::io::images::{
    load_image_chw, make_grid, save_gif, save_grid_png, save_png, to_u8,
};
use stylegan_wgpu::io::npy::{npy_bytes, read_npy, read_npy_bytes, write_npy, NpyArray};
use stylegan_wgpu::rng::{parse_seeds, slerp, NumpyRandomState};
use stylegan_wgpu::Error;

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("host_io_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

// Printed by numpy 2.4.6: `np.random.RandomState(s).randn(512)`, repr of each float.
const SEED0: [f64; 8] = [
    1.764052345967664,
    0.4001572083672233,
    0.9787379841057392,
    2.240893199201458,
    1.8675579901499675,
    -0.977277879876411,
    0.9500884175255894,
    -0.1513572082976979,
];
const SEED1: [f64; 8] = [
    1.6243453636632417,
    -0.6117564136500754,
    -0.5281717522634557,
    -1.0729686221561705,
    0.8654076293246785,
    -2.3015386968802827,
    1.74481176421648,
    -0.7612069008951028,
];
const SEED42: [f64; 8] = [
    0.4967141530112327,
    -0.13826430117118466,
    0.6476885381006925,
    1.5230298564080254,
    -0.23415337472333597,
    -0.23413695694918055,
    1.5792128155073915,
    0.7674347291529088,
];
const SEED_MAX: [f64; 8] = [
    0.6484086742306527,
    0.6693235306338161,
    -1.0805437227474493,
    0.2845010447986309,
    0.11388773652167104,
    0.8676218937929382,
    -0.044026015448043285,
    0.24877161740907913,
];

#[test]
fn randn_matches_numpy() {
    let mut max_err = 0.0f64;
    for (seed, want, at257, at511) in [
        (0u32, SEED0, -1.3833639553950554, 1.3749640663929898),
        (1, SEED1, 0.5856620001723825, 0.19686977925029145),
        (42, SEED42, -0.7076694656187807, -0.05023810944913695),
        (u32::MAX, SEED_MAX, 0.8976548075486548, -0.16334506047141822),
    ] {
        let got = NumpyRandomState::new(seed).randn(512);
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            max_err = max_err.max((g - w).abs());
            assert!(
                (g - w).abs() <= 1e-15 * w.abs().max(1.0),
                "seed {seed} [{i}]: {g} vs {w}"
            );
        }
        for (i, w) in [(257, at257), (511, at511)] {
            let g = got[i];
            max_err = max_err.max((g - w).abs());
            assert!(
                (g - w).abs() <= 1e-15 * w.abs().max(1.0),
                "seed {seed} [{i}]: {g} vs {w}"
            );
        }
    }
    // The uniform stream itself, `RandomState(0).random_sample()`.
    assert_eq!(NumpyRandomState::new(0).random_sample(), 0.5488135039273248);
    println!("randn vs numpy: max abs error {max_err:e}");
}

#[test]
fn randn_split_calls_continue_the_stream() {
    // An odd first call leaves a cached gaussian that the next call must hand out first.
    let mut rs = NumpyRandomState::new(0);
    let mut v = rs.randn(3);
    v.extend(rs.randn(5));
    assert_eq!(v, NumpyRandomState::new(0).randn(8));
}

#[test]
fn parse_seeds_lists_and_errors() {
    assert_eq!(
        parse_seeds("0-7,42").unwrap(),
        vec![0, 1, 2, 3, 4, 5, 6, 7, 42]
    );
    assert_eq!(parse_seeds(" 5 ").unwrap(), vec![5]);
    assert_eq!(parse_seeds("3-3, 10 - 11").unwrap(), vec![3, 10, 11]);
    assert_eq!(parse_seeds("4294967295").unwrap(), vec![u32::MAX]);
    for (bad, needle) in [
        ("", "empty"),
        ("1,,2", "\"\""),
        ("1,x", "\"x\""),
        ("7-3", "\"7-3\""),
        ("4294967296", "2^32"),
        ("-1", "\"-1\""),
        ("1-2-3", "\"1-2-3\""),
        ("0-4000000000", "seeds in total"),
    ] {
        let e = parse_seeds(bad).expect_err(bad).to_string();
        assert!(e.contains(needle), "{bad:?}: {e}");
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn slerp_endpoints_midpoint_and_edge_cases() {
    let a = NumpyRandomState::new(1).randn(512);
    let b = NumpyRandomState::new(2).randn(512);
    let (na, nb) = (norm(&a), norm(&b));
    let mut max_err = 0.0f64;
    let s0 = slerp(&a, &b, 0.0).unwrap();
    let s1 = slerp(&a, &b, 1.0).unwrap();
    for i in 0..512 {
        max_err = max_err
            .max((s0[i] - a[i] / na).abs())
            .max((s1[i] - b[i] / nb).abs());
    }
    assert!(max_err < 1e-12, "endpoints off by {max_err}");
    // Midpoint: unit norm, equal angles to both ends.
    let m = slerp(&a, &b, 0.5).unwrap();
    assert!((norm(&m) - 1.0).abs() < 1e-12);
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    let (da, db) = (dot(&m, &s0), dot(&m, &s1));
    assert!((da - db).abs() < 1e-12, "{da} vs {db}");
    // Constant angular speed: angle(a, slerp(t)) = t * angle(a, b).
    let total = dot(&s0, &s1).acos();
    let q = slerp(&a, &b, 0.25).unwrap();
    assert!((dot(&s0, &q).acos() - 0.25 * total).abs() < 1e-9);
    // Parallel and antiparallel inputs stay finite and unit-norm.
    let scaled: Vec<f64> = a.iter().map(|x| 3.0 * x).collect();
    let p = slerp(&a, &scaled, 0.5).unwrap();
    assert!(p.iter().zip(&s0).all(|(x, y)| (x - y).abs() < 1e-12));
    let neg: Vec<f64> = a.iter().map(|x| -x).collect();
    let n = slerp(&a, &neg, 0.5).unwrap();
    assert!(
        (norm(&n) - 1.0).abs() < 1e-12 && dot(&n, &s0).abs() < 1e-9,
        "{} {}",
        norm(&n),
        dot(&n, &s0)
    );
    assert!(slerp(&a, &b[..3], 0.5).is_err());
    assert!(slerp(&[0.0, 0.0], &[1.0, 0.0], 0.5).is_err());
    println!("slerp endpoints: max abs error {max_err:e}");
}

#[test]
fn npy_round_trip() {
    let dir = tmpdir("npy");
    let path = dir.join("z.npy");
    let data: Vec<f32> = (0..2 * 3 * 5).map(|i| i as f32 * 0.37 - 4.0).collect();
    write_npy(&path, &[2, 3, 5], &data).unwrap();
    let a = read_npy(&path).unwrap();
    assert_eq!(
        a,
        NpyArray {
            shape: vec![2, 3, 5],
            data: data.clone()
        }
    );
    // numpy pads the header so the data is 64-byte aligned.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!((bytes.len() - data.len() * 4) % 64, 0);
    // 1-D and scalar shapes use Python's tuple spelling.
    let one = npy_bytes(&[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert!(String::from_utf8_lossy(&one).contains("'shape': (4,)"));
    let r = read_npy_bytes(&one, "one").unwrap();
    assert_eq!((r.shape, r.data), (vec![4], vec![1.0, 2.0, 3.0, 4.0]));
    let s = read_npy_bytes(&npy_bytes(&[], &[7.5]).unwrap(), "s").unwrap();
    assert_eq!((s.shape, s.data), (vec![], vec![7.5]));
    assert!(npy_bytes(&[2, 2], &[1.0]).is_err());
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("z.npy")]);
    std::fs::remove_dir_all(&dir).ok();
}

/// Builds a `.npy` file by hand, the way numpy lays it out.
fn hand_npy(major: u8, header: &str, payload: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    let prefix = if major == 1 { 10 } else { 12 };
    while !(prefix + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn npy_hand_made_headers_and_dtypes() {
    let f8: Vec<u8> = [1.5f64, -2.25, 1e-3]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = hand_npy(
        1,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
        &f8,
    );
    let a = read_npy_bytes(&bytes, "f8.npy").unwrap();
    assert_eq!(a.shape, vec![3]);
    assert_eq!(a.data, vec![1.5, -2.25, 1e-3f64 as f32]);

    // Version 3 (utf-8 header), keys in another order, double quotes.
    let i4: Vec<u8> = [-3i32, 0, 7, 100000]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = hand_npy(
        3,
        "{\"shape\": (2, 2), \"fortran_order\": False, \"descr\": \"<i4\"}",
        &i4,
    );
    let a = read_npy_bytes(&bytes, "i4.npy").unwrap();
    assert_eq!(
        (a.shape, a.data),
        (vec![2, 2], vec![-3.0, 0.0, 7.0, 100000.0])
    );

    let u1 = hand_npy(
        2,
        "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 3), }",
        &[0, 128, 255],
    );
    assert_eq!(
        read_npy_bytes(&u1, "u1").unwrap().data,
        vec![0.0, 128.0, 255.0]
    );

    let f2 = hand_npy(
        1,
        "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }",
        &[0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00],
    );
    assert_eq!(
        read_npy_bytes(&f2, "f2").unwrap().data,
        vec![1.0, -2.0, 2f32.powi(-24)]
    );

    // Empty arrays are fine.
    let e = hand_npy(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }",
        &[],
    );
    assert_eq!(read_npy_bytes(&e, "e").unwrap().data.len(), 0);
}

#[test]
fn npy_errors_name_the_file_and_the_problem() {
    let f4 = |shape: &str, descr: &str, fortran: &str, n: usize| {
        hand_npy(
            1,
            &format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"),
            &vec![0u8; n],
        )
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04 not numpy".to_vec(), "bad magic"),
        (b"\x93NUMPY".to_vec(), "bad magic"),
        (f4("(2, 3)", "<f4", "False", 20), "truncated data"),
        (f4("(2, 3)", "<f4", "False", 28), "mismatch"),
        (f4("(2, 3)", ">f4", "False", 24), "little-endian"),
        (f4("(2, 3)", "<c8", "False", 48), "complex"),
        (f4("(2, 3)", "|O", "False", 48), "objects"),
        (f4("(2, 3)", "<U3", "False", 72), "unsupported dtype"),
        (f4("(2, 3)", "<f4", "True", 24), "Fortran"),
        (
            f4("(4294967296, 4294967296, 4294967296)", "<f4", "False", 0),
            "too large",
        ),
        (f4("(2, x)", "<f4", "False", 24), "cannot parse"),
        (
            hand_npy(
                1,
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                &[0; 4],
            ),
            "structured",
        ),
        (
            hand_npy(1, "{'descr': '<f4', 'shape': (1,), }", &[0; 4]),
            "lacks",
        ),
        (
            hand_npy(
                7,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                &[0; 4],
            ),
            "version",
        ),
    ];
    for (i, (bytes, needle)) in cases.iter().enumerate() {
        let e = read_npy_bytes(bytes, "bad.npy")
            .expect_err(needle)
            .to_string();
        assert!(
            e.starts_with("bad.npy: ") && e.contains(needle),
            "case {i}: {e}"
        );
    }
    // A header length pointing past the end of the file.
    let mut b = f4("(1,)", "<f4", "False", 4);
    b[8] = 0xff;
    b[9] = 0xff;
    b.truncate(40);
    let e = read_npy_bytes(&b, "hdr.npy").unwrap_err().to_string();
    assert!(e.contains("truncated .npy header"), "{e}");
    // Every prefix of a valid file fails cleanly rather than panicking.
    let good = npy_bytes(&[3, 2], &[1.0; 6]).unwrap();
    for n in 0..good.len() {
        assert!(read_npy_bytes(&good[..n], "p").is_err());
    }
    let missing = read_npy("/nonexistent/dir/x.npy").unwrap_err();
    assert!(matches!(missing, Error::Io { ref path, .. } if path == "/nonexistent/dir/x.npy"));
}

#[test]
fn to_u8_boundaries() {
    assert_eq!(to_u8(-1.0), 0);
    assert_eq!(to_u8(1.0), 255);
    assert_eq!(to_u8(0.0), 128);
    assert_eq!(to_u8(-5.0), 0);
    assert_eq!(to_u8(5.0), 255);
    assert_eq!(to_u8(f32::NAN), 0);
    assert_eq!(to_u8(f32::INFINITY), 255);
    // floor, not round: -0.004 * 127.5 + 128 = 127.49
    assert_eq!(to_u8(-0.004), 127);
    assert_eq!(to_u8(-1.0 + 1.0 / 127.5), 1);
}

#[test]
fn png_round_trip_rgb_and_gray() {
    let dir = tmpdir("png");
    let (h, w) = (5, 7);
    // Values that survive the u8 round trip exactly: (k - 128) / 127.5 -> byte k -> k/127.5 - 1
    // differs by 0.5/127.5 at most.
    let rgb: Vec<f32> = (0..3 * h * w)
        .map(|i| ((i * 37) % 256) as f32 / 127.5 - 1.0)
        .collect();
    let p = dir.join("rgb.png");
    save_png(&p, &rgb, 3, h, w).unwrap();
    let img = image::open(&p).unwrap().into_rgb8();
    assert_eq!(img.dimensions(), (w as u32, h as u32));
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let want = to_u8(rgb[(c * h + y) * w + x]);
                assert_eq!(img.get_pixel(x as u32, y as u32)[c], want, "({c},{y},{x})");
            }
        }
    }
    let (back, c, bh, bw) = load_image_chw(&p).unwrap();
    assert_eq!((c, bh, bw), (3, h, w));
    let max_err = back
        .iter()
        .zip(&rgb)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_err <= 0.5 / 127.5 + 1e-6, "load error {max_err}");
    println!("png round trip: max abs error {max_err:e}");

    let gray: Vec<f32> = (0..h * w)
        .map(|i| i as f32 / (h * w) as f32 * 2.0 - 1.0)
        .collect();
    let g = dir.join("gray.png");
    save_png(&g, &gray, 1, h, w).unwrap();
    let img = image::open(&g).unwrap();
    assert!(matches!(img, image::DynamicImage::ImageLuma8(_)));
    let (back, c, _, _) = load_image_chw(&g).unwrap();
    assert_eq!(c, 1);
    assert!(back
        .iter()
        .zip(&gray)
        .all(|(a, b)| (a - b).abs() <= 1.0 / 127.5));

    let e = save_png(dir.join("x.png"), &[0.0; 2 * 4], 2, 2, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.png") && e.contains("channels"), "{e}");
    let e = save_png(dir.join("y.png"), &[0.0; 5], 1, 2, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("y.png"), "{e}");
    let e = save_png("/nonexistent/dir/z.png", &[0.0; 4], 1, 2, 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/dir/z.png"), "{e}");
    let e = load_image_chw(dir.join("missing.png"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.png"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn grid_layout() {
    // 5 images of 2x2x3 (c=2), 2 columns -> 3 rows, last cell black.
    let (c, h, w) = (2, 2, 3);
    let images: Vec<Vec<f32>> = (0..5)
        .map(|n| (0..c * h * w).map(|i| (n * 100 + i) as f32).collect())
        .collect();
    let (grid, gh, gw) = make_grid(&images, c, h, w, 2).unwrap();
    assert_eq!((gh, gw), (3 * h, 2 * w));
    for ch in 0..c {
        for gy in 0..gh {
            for gx in 0..gw {
                let (n, y, x) = ((gy / h) * 2 + gx / w, gy % h, gx % w);
                let want = if n < 5 {
                    images[n][(ch * h + y) * w + x]
                } else {
                    -1.0
                };
                assert_eq!(grid[(ch * gh + gy) * gw + gx], want, "({ch},{gy},{gx})");
            }
        }
    }
    // More columns than images shrinks to one row.
    let (_, gh, gw) = make_grid(&images[..2], c, h, w, 8).unwrap();
    assert_eq!((gh, gw), (h, 2 * w));
    assert!(make_grid(&images, c, h, w + 1, 2).is_err());
    assert!(make_grid(&[], c, h, w, 2).is_err());
    assert!(make_grid(&images, c, h, w, 0).is_err());

    let dir = tmpdir("grid");
    let rgb: Vec<Vec<f32>> = (0..3)
        .map(|n| vec![n as f32 * 0.5 - 0.5; 3 * 4 * 4])
        .collect();
    save_grid_png(dir.join("g.png"), &rgb, 3, 4, 4, 2).unwrap();
    let img = image::open(dir.join("g.png")).unwrap().into_rgb8();
    assert_eq!(img.dimensions(), (8, 8));
    assert_eq!(img.get_pixel(5, 1)[0], to_u8(0.0));
    assert_eq!(img.get_pixel(1, 5)[0], to_u8(0.5));
    assert_eq!(img.get_pixel(5, 5)[0], 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gif_loops_and_has_all_frames() {
    use image::AnimationDecoder;
    let dir = tmpdir("gif");
    let (h, w) = (6, 5);
    let frames: Vec<Vec<f32>> = (0..4).map(|n| vec![n as f32 / 2.0 - 0.75; h * w]).collect();
    let p = dir.join("a.gif");
    save_gif(&p, &frames, 1, h, w, 100).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    // NETSCAPE2.0 application extension with loop count 0 = forever.
    let pos = bytes
        .windows(11)
        .position(|s| s == b"NETSCAPE2.0")
        .expect("no loop extension");
    assert_eq!(&bytes[pos + 11..pos + 15], &[3, 1, 0, 0]);
    let dec = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    let got = dec.into_frames().collect_frames().unwrap();
    assert_eq!(got.len(), 4);
    for (n, f) in got.iter().enumerate() {
        assert_eq!(f.delay().numer_denom_ms(), (100, 1));
        let px = f.buffer().get_pixel(2, 3)[0] as i32;
        assert!(
            (px - to_u8(frames[n][0]) as i32).abs() <= 2,
            "frame {n}: {px}"
        );
    }
    let e = save_gif(dir.join("b.gif"), &frames, 3, h, w, 100)
        .unwrap_err()
        .to_string();
    assert!(e.contains("b.gif") && e.contains("frame 0"), "{e}");
    assert!(save_gif(dir.join("c.gif"), &[], 1, h, w, 100).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn npy_matches_numpy_byte_for_byte() {
    // Headers written by numpy 2.4.6 `np.save` for float32 arrays of these shapes.
    for (shape, dims) in [
        (vec![2, 3, 5], "(2, 3, 5)"),
        (vec![4], "(4,)"),
        (vec![], "()"),
    ] {
        let n: usize = shape.iter().product();
        let ours = npy_bytes(&shape, &vec![0.0; n]).unwrap();
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
        let mut want = b"\x93NUMPY\x01\x00v\x00".to_vec();
        want.extend_from_slice(dict.as_bytes());
        want.resize(127, b' ');
        want.push(b'\n');
        want.resize(128 + 4 * n, 0);
        assert_eq!(ours, want, "shape {dims}");
    }
    // `np.save(f, np.array([[0.5, -1.25, 3.0]], '<f8'))`: the same 128-byte header layout, then
    // the doubles 000000000000e03f 000000000000f4bf 0000000000000840.
    let mut bytes = b"\x93NUMPY\x01\x00v\x00".to_vec();
    bytes.extend_from_slice(b"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3), }");
    bytes.resize(127, b' ');
    bytes.push(b'\n');
    for word in ["000000000000e03f", "000000000000f4bf", "0000000000000840"] {
        bytes.extend((0..8).map(|i| u8::from_str_radix(&word[2 * i..2 * i + 2], 16).unwrap()));
    }
    let a = read_npy_bytes(&bytes, "numpy.npy").unwrap();
    assert_eq!((a.shape, a.data), (vec![1, 3], vec![0.5, -1.25, 3.0]));
}
