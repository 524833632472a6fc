//! The official-pickle reader on the fixtures written by tests/fixtures/make_pickles.py:
//! names, shapes and values of every variable, static_kwargs -> Config, protocol 2 == 4,
//! progressive extras, numpy dtypes and orders, and refusals (hostile globals, truncation);
//! and a class-conditional official pickle (written by tests/common/official_pickle.rs) that
//! loads as a `Model` whose Gs and D match the f64 references per class.

mod common;

use std::path::PathBuf;

use stylegan_wgpu::error::Error;
use stylegan_wgpu::io::official::{parse_official_pickle, read_official_pickle, OfficialNet};
use stylegan_wgpu::io::pickle::{parse_pickle, read_pickle, DType, Value};
use stylegan_wgpu::nn::config::{Config, FusedScale};
use stylegan_wgpu::nn::params::generator_specs;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tiny_config() -> Config {
    Config {
        resolution: 8,
        latent_size: 4,
        dlatent_size: 4,
        mapping_layers: 1,
        mapping_fmaps: 4,
        fmap_base: 16,
        fmap_max: 4,
        ..Config::default()
    }
}

/// The value rule of make_pickles.py: `base + t + i * 0.001` rounded to f32, `lod` = 0.
fn check_values(net: &OfficialNet, base: f64) -> usize {
    let mut checked = 0;
    for (t, (name, v)) in net.variables.iter().enumerate() {
        let n: usize = v.shape.iter().product();
        assert_eq!(v.data.len(), n, "{}/{name}", net.name);
        for (i, &x) in v.data.iter().enumerate() {
            let want = if name == "lod" {
                0.0
            } else {
                (base + t as f64 + i as f64 * 0.001) as f32
            };
            assert_eq!(x, want, "{}/{name}[{i}]", net.name);
            checked += 1;
        }
    }
    for (key, c) in &net.components {
        let off = match key.as_str() {
            "mapping" => 30.0,
            "synthesis" => 50.0,
            k => panic!("unexpected component {k}"),
        };
        checked += check_values(c, base + off);
    }
    checked
}

fn check_tiny(path: &str) -> (OfficialNet, OfficialNet, OfficialNet) {
    let (g, d, gs) = read_official_pickle(fixture(path)).unwrap();
    assert_eq!(
        (g.name.as_str(), d.name.as_str(), gs.name.as_str()),
        ("G", "D", "Gs")
    );
    let keys: Vec<_> = g
        .components
        .iter()
        .map(|(k, c)| (k.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("synthesis", "G_synthesis"), ("mapping", "G_mapping")]
    );

    // Every generator variable our networks need, under its full name and shape.
    let cfg = tiny_config();
    for net in [&g, &gs] {
        let w = net.host_weights().unwrap();
        for s in generator_specs(&cfg) {
            let t = w
                .get(&s.name)
                .unwrap_or_else(|| panic!("{path}: {} missing", s.name));
            assert_eq!(t.shape, s.shape, "{path}: {}", s.name);
        }
        // G's own lod is kept too (callers ignore it); nothing else extra.
        assert_eq!(w.len(), generator_specs(&cfg).len() + 1);
        assert!(w.contains_key("lod"));
        assert!(w.contains_key("G_synthesis/noise3") && w.contains_key("G_mapping/Dense0/weight"));
        assert_eq!(net.lod(), Some(0.0));
    }
    let dw = d.host_weights().unwrap();
    assert_eq!(dw["4x4/Dense1/bias"].shape, vec![1]);
    assert_eq!(dw["4x4/Conv/weight"].shape, vec![3, 3, 5, 4]);
    assert_eq!(dw["FromRGB_lod0/weight"].shape, vec![1, 1, 3, 4]);
    assert_eq!(dw["lod"].shape, Vec::<usize>::new());

    // A few explicit values (t = index in its own list, see make_pickles.py).
    let gw = g.host_weights().unwrap();
    assert_eq!(gw["dlatent_avg"].data, vec![1.0, 1.001, 1.002, 1.003]);
    assert_eq!(
        gw["G_mapping/Dense0/weight"].data[5],
        (30.0f64 + 0.005) as f32
    );
    let gsw = gs.host_weights().unwrap();
    assert_eq!(
        gsw["G_synthesis/noise0"].data[15],
        (251.0f64 + 0.015) as f32
    );
    assert_eq!(dw["4x4/Dense1/bias"].data, vec![(100.0f64 + 12.0) as f32]);

    let n = check_values(&g, 0.0) + check_values(&d, 100.0) + check_values(&gs, 200.0);
    println!("{path}: {n} values checked exactly");

    // static_kwargs of G and its components merge into the config.
    let c = g.config().unwrap();
    assert_eq!(c, tiny_config(), "{path}");
    assert_eq!(c.fused_scale, FusedScale::Auto);
    assert_eq!(c.num_layers(), 4);
    assert_eq!(gs.config().unwrap(), c);
    let dc = d.config().unwrap();
    assert_eq!(
        (
            dc.resolution,
            dc.fmap_base,
            dc.fmap_max,
            dc.mbstd_group_size
        ),
        (8, 16, 4, 4)
    );
    (g, d, gs)
}

#[test]
fn tiny_protocols_2_and_4_agree() {
    let a = check_tiny("tiny_p2.pkl");
    let b = check_tiny("tiny_p4.pkl");
    assert_eq!(a, b);
    // The raw trees agree too (EasyDict, _codecs.encode bytes, BINPUT vs MEMOIZE).
    let ra = read_pickle(fixture("tiny_p2.pkl")).unwrap();
    let rb = read_pickle(fixture("tiny_p4.pkl")).unwrap();
    assert_eq!(ra, rb);
    let Value::Tuple(items) = &ra else {
        panic!("not a tuple")
    };
    let Value::Object {
        class,
        state: Some(state),
        ..
    } = &items[0]
    else {
        panic!("not an object")
    };
    assert_eq!(
        class,
        &("dnnlib.tflib.network".to_string(), "Network".to_string())
    );
    assert_eq!(
        state.get("build_func_name").and_then(|v| v.as_str()),
        Some("training.networks_stylegan.G_style")
    );
    // The build source is kept as an inert string, never run.
    assert!(state
        .get("build_module_src")
        .and_then(|v| v.as_str())
        .unwrap()
        .contains("os.system"));
}

#[test]
fn progressive_extras_are_kept() {
    let (g, d, gs) = read_official_pickle(fixture("progressive_p3.pkl")).unwrap();
    let cfg = tiny_config();
    for net in [&g, &gs] {
        let w = net.host_weights().unwrap();
        assert_eq!(w["G_synthesis/ToRGB_lod1/weight"].shape, vec![1, 1, 4, 3]);
        assert_eq!(w["G_synthesis/ToRGB_lod1/bias"].shape, vec![3]);
        for s in generator_specs(&cfg) {
            assert_eq!(w[&s.name].shape, s.shape, "{}", s.name);
        }
        assert_eq!(net.lod(), Some(0.0));
        assert_eq!(net.component("synthesis").unwrap().lod(), Some(0.0));
    }
    let dw = d.host_weights().unwrap();
    assert_eq!(dw["FromRGB_lod1/weight"].shape, vec![1, 1, 3, 4]);
    assert_eq!(d.lod(), Some(0.0));
    let n = check_values(&g, 0.0) + check_values(&d, 100.0) + check_values(&gs, 200.0);
    println!("progressive: {n} values checked exactly");
    assert_eq!(g.config().unwrap(), cfg);
}

#[test]
fn numpy_dtypes_orders_and_scalars() {
    let v = read_pickle(fixture("dtypes_p5.pkl")).unwrap();
    let items = v.as_seq().unwrap();
    let arr = |i: usize| match &items[i] {
        Value::NdArray(a) => a.clone(),
        v => panic!("item {i} is a {}", v.kind()),
    };
    let expect: Vec<(DType, Vec<usize>, Vec<f32>)> = vec![
        (DType::F2, vec![2, 3], vec![0.5, -1.0, 2.0, 3.25, 4.0, -5.5]),
        (
            DType::F8,
            vec![2, 3],
            [0.1f64, 0.2, 0.3, 0.4, 0.5, 0.6]
                .iter()
                .map(|&x| x as f32)
                .collect(),
        ),
        (DType::I4, vec![3], vec![-7.0, 0.0, 2147483647.0]),
        (DType::I8, vec![2], vec![-(2f32.powi(40)), 5.0]),
        (DType::U1, vec![4], vec![0.0, 1.0, 128.0, 255.0]),
        (DType::Bool, vec![2], vec![1.0, 0.0]),
        (DType::F4, vec![2, 2], vec![1.5, -2.5, 3.5, 1e-3]),
        (DType::F4, vec![2, 3], vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]),
        (DType::F4, vec![2, 2, 2], (0..8).map(|i| i as f32).collect()),
        (DType::F4, vec![0, 4], vec![]),
        (DType::F4, vec![2, 2], vec![9.0, 8.0, 7.0, 6.0]),
        (DType::F4, vec![], vec![0.75]),
        (DType::I8, vec![], vec![-3.0]),
    ];
    assert_eq!(items.len(), expect.len());
    for (i, (dt, shape, data)) in expect.into_iter().enumerate() {
        let a = arr(i);
        assert_eq!(
            (a.dtype, &a.shape, a.to_f32()),
            (dt, &shape, data),
            "item {i}"
        );
    }
}

fn format_msg(e: Error) -> String {
    match e {
        Error::Format { path, msg } => format!("{path}: {msg}"),
        e => panic!("expected a format error, got {e}"),
    }
}

#[test]
fn hostile_globals_are_refused() {
    let e = format_msg(read_official_pickle(fixture("hostile.pkl")).unwrap_err());
    println!("{e}");
    assert!(
        e.contains("os") && e.contains("system") && e.contains("hostile.pkl"),
        "{e}"
    );
    assert!(e.contains("byte 2"), "{e}");
    let e = format_msg(read_official_pickle(fixture("hostile_nested.pkl")).unwrap_err());
    println!("{e}");
    assert!(e.contains("posix.system"), "{e}");

    // Hand-made: protocol 4 STACK_GLOBAL builtins.eval, and protocol 0 GLOBAL os.system.
    let eval = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x061+1\x85R.";
    let e = format_msg(parse_pickle(eval, "eval.pkl").unwrap_err());
    assert!(e.contains("builtins.eval") && e.contains("eval.pkl"), "{e}");
    let sys = b"cos\nsystem\n(S'echo pwned'\ntR.";
    let e = format_msg(parse_pickle(sys, "sys.pkl").unwrap_err());
    assert!(e.contains("'os.system'"), "{e}");
}

#[test]
fn malformed_inputs_are_errors() {
    let e = format_msg(read_official_pickle(fixture("truncated.pkl")).unwrap_err());
    println!("{e}");
    assert!(
        e.contains("truncated.pkl") && e.contains("truncated"),
        "{e}"
    );
    let cases: &[(&[u8], &str)] = &[
        (b"", "before STOP"),
        (b"\x80\x02", "before STOP"),
        (b"\x80\x02.", "stack underflow"),
        (b"\x80\x02\xff.", "unknown opcode"),
        (b"\x80\x02h\x05.", "memo index 5"),
        (b"\x80\x02t.", "no MARK"),
        (b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.", "remain"),
        (b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00N.", "frame"),
        (b"\x80\x02X\xff\xff\xff\xff", "remain"),
        (b"\x80\x02K\x01a.", "stack underflow"),
        (b"\x80\x02K\x01K\x02a.", "appending to a int"),
        (b"\x80\x09N.", "protocol 9"),
        // A list that contains itself.
        (b"\x80\x02]q\x00h\x00a.", "self-referencing"),
        // numpy array whose data is shorter than its shape says.
        (
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R\
              (K\x01K\x02\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04\x00\x00\x00\x00tb.",
            "needs 8 bytes",
        ),
    ];
    for (bytes, want) in cases {
        let e = format_msg(parse_pickle(bytes, "case.pkl").unwrap_err());
        assert!(e.contains(want), "{bytes:?}: '{e}' should mention '{want}'");
    }
    // Not (G, D, Gs).
    let e = format_msg(parse_official_pickle(b"\x80\x02K\x01.", "int.pkl").unwrap_err());
    assert!(e.contains("(G, D, Gs)"), "{e}");
    // A well-formed array parses (same bytes as the bad case with 8 data bytes).
    let ok = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R\
              (K\x01K\x02\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x08\x00\x00\x80?\x00\x00\x00@tb.";
    match parse_pickle(ok, "ok.pkl").unwrap() {
        Value::NdArray(a) => assert_eq!((a.to_f32(), a.shape), (vec![1.0, 2.0], vec![2])),
        v => panic!("{v:?}"),
    }
}

#[test]
fn big_ints_and_exponential_sharing() {
    // LONG1 with 9 bytes that still fit i64, and one that does not.
    let v = parse_pickle(
        b"\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff.",
        "l.pkl",
    )
    .unwrap();
    assert_eq!(v, Value::Int(-1));
    let v = parse_pickle(
        b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.",
        "l.pkl",
    )
    .unwrap();
    assert!(matches!(v, Value::BigInt(_)));
    // x = [x, x] nested 60 times would be 2^60 nodes: refused, not expanded.
    let mut p = b"\x80\x02N".to_vec();
    for _ in 0..60 {
        p.extend_from_slice(b"2\x86"); // DUP, TUPLE2
    }
    p.push(b'.');
    let e = format_msg(parse_pickle(&p, "bomb.pkl").unwrap_err());
    assert!(e.contains("too many"), "{e}");
}

/// A conditional network small enough for the f64 references: 16x16 RGB, 3 classes.
fn cond_config() -> Config {
    Config {
        resolution: 16,
        num_channels: 3,
        latent_size: 8,
        dlatent_size: 8,
        label_size: 3,
        mapping_layers: 2,
        mapping_fmaps: 8,
        fmap_base: 32,
        fmap_max: 8,
        mbstd_group_size: 2,
        ..Config::default()
    }
}

/// G, D and Gs of `cond_config` (every path non-trivial) as an official pickle's networks.
fn cond_nets(
    cfg: &Config,
) -> (
    [stylegan_wgpu::nn::HostWeights; 3],
    [common::official_pickle::PickledNet; 3],
) {
    use common::losses::d_weights;
    use common::official_pickle::{discriminator, generator};
    let g = common::lively_generator_weights(cfg, 11, 0.5);
    let gs = common::lively_generator_weights(cfg, 13, 0.5);
    let d = d_weights(cfg, 12);
    let nets = [
        generator("G", cfg, &g),
        discriminator(cfg, &d),
        generator("Gs", cfg, &gs),
    ];
    ([g, d, gs], nets)
}

fn write_pickle(
    dir: &common::tempdir::TempDir,
    name: &str,
    n: &[common::official_pickle::PickledNet; 3],
) -> PathBuf {
    let path = dir.path(name);
    std::fs::write(
        &path,
        common::official_pickle::pickle_bytes(&n[0], &n[1], &n[2]),
    )
    .unwrap();
    path
}

/// An official conditional pickle (`label_size` 3 in the static_kwargs, `LabelConcat/weight`
/// unscoped in G_mapping, D's `4x4/Dense1` with 3 outputs) loads with every variable as
/// written; its Gs makes per-class images equal to the f64 reference generator's, and its D
/// scores them per class as the reference D does.
#[test]
fn conditional_official_pickle_loads_and_matches_the_reference() {
    use common::losses::{d_ref, one_hot_ref, ref_weights};
    use stylegan_wgpu::reference::generator::{RefGenerator, RefNoise};
    use stylegan_wgpu::reference::Arr;
    use stylegan_wgpu::tape::Var;
    use stylegan_wgpu::{Model, NoiseMode, Truncation};

    let cfg = cond_config();
    let dir = common::tempdir::TempDir::new("cond-pickle");
    let ([g, d, gs], nets) = cond_nets(&cfg);
    let path = write_pickle(&dir, "cond.pkl", &nets);

    // The reader's view: the embedding sits unscoped in the mapping component.
    let (pg, pd, _) = read_official_pickle(&path).unwrap();
    let mapping = pg.component("mapping").unwrap();
    assert_eq!(
        mapping.variable("LabelConcat/weight").unwrap().shape,
        [3, 8]
    );
    assert_eq!(pd.variable("4x4/Dense1/weight").unwrap().shape, [8, 3]);
    assert_eq!(pd.variable("4x4/Dense1/bias").unwrap().shape, [3]);

    let m = Model::load(&path).unwrap();
    assert_eq!(m.config().label_size, 3);
    assert_eq!(m.config().mbstd_group_size, 2, "D's minibatch-stddev group");
    let f = m.file();
    for (net, want) in [("G", &g), ("D", &d), ("Gs", &gs)] {
        for (name, t) in want.iter() {
            let got = &f.nets[net][name];
            assert_eq!((&got.shape, &got.data), (&t.shape, &t.data), "{net}/{name}");
        }
    }
    assert_eq!(
        f.nets["Gs"]["G_mapping/Dense0/weight"].shape,
        [2 * cfg.latent_size, cfg.mapping_fmaps]
    );

    // Two latents, each as every class.
    let gpu = common::gpu();
    let mut r = common::rng(21);
    let z2 = common::randn(&mut r, &[2, cfg.latent_size]);
    let mut z = Vec::new();
    for i in 0..2 {
        for _ in 0..3 {
            z.extend_from_slice(&z2.data[i * 8..(i + 1) * 8]);
        }
    }
    let z = Arr::new(&[6, 8], z);
    let classes = [0u32, 1, 2, 0, 1, 2];
    let y = one_hot_ref(&classes, 3);
    let rg = RefGenerator::new(&cfg, &gs);
    let gen = m.generator(&gpu).unwrap();
    let (c, res) = (cfg.num_channels, cfg.resolution);
    let mut worst = (0f64, 0f64);
    for (what, trunc, psi, cutoff) in [
        ("untruncated", Truncation::NONE, 1.0, 0),
        ("psi 0.7, 3 layers", Truncation::new(0.7, 3), 0.7, 3),
    ] {
        let got: Vec<f32> = gen
            .generate_latents_classes(&z.to_f32(), Some(&classes), &trunc, NoiseMode::Const)
            .unwrap()
            .into_iter()
            .flat_map(|im| im.data)
            .collect();
        let got = Arr::from_f32(&[6, c, res, res], &got);
        let want = rg.generate_labels(&z, Some(&y), psi, cutoff, RefNoise::Const);
        common::assert_close(&format!("Gs images per class, {what}"), &got, &want, 1e-5);
        let (abs, rel) = common::errors(&got.data, &want.data);
        worst = (worst.0.max(abs), worst.1.max(rel));
        // The class moves the image: each latent's three classes differ.
        let n = c * res * res;
        for i in 0..6 {
            for j in (i + 1)..(i / 3 * 3 + 3) {
                let (a, b) = (
                    &want.data[i * n..(i + 1) * n],
                    &want.data[j * n..(j + 1) * n],
                );
                let d = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                assert!(d > 0.05, "{what}: images {i} and {j} differ by only {d}");
            }
        }
    }
    println!(
        "conditional pickle: Gs images within {:.2e} (abs), {:.2e} (rel) of the f64 reference",
        worst.0, worst.1
    );

    // D from the pickle scores them with their classes, as the reference D does.
    let x = rg.generate_labels(&z, Some(&y), 1.0, 0, RefNoise::Const);
    let dnet = m.discriminator(&gpu).unwrap();
    let xv = Var::constant(common::upload(&gpu, &x));
    let yv = Var::constant(common::upload(&gpu, &y));
    let scores = common::download(&dnet.forward_labels(&xv, Some(&yv), 0.0).unwrap());
    let want = d_ref(&cfg, &ref_weights(&d), &x, Some(&y));
    common::assert_close("D scores per class", &scores, &want, 1e-5);
}

/// A conditional pickle whose `LabelConcat/weight` does not fit `label_size` x `latent_size`
/// is refused with a message naming the tensor and both shapes; so is an unconditional
/// network's kwargs over conditional variables.
#[test]
fn conditional_official_pickle_with_a_wrong_label_embedding_is_refused() {
    use stylegan_wgpu::Model;
    let cfg = cond_config();
    let dir = common::tempdir::TempDir::new("cond-pickle-bad");
    let gpu = common::gpu();

    let (_, mut nets) = cond_nets(&cfg);
    let t = nets[2].variable_mut(Some("mapping"), "LabelConcat/weight");
    t.1 = vec![4, 8];
    t.2.extend_from_slice(&[0.5; 8]);
    let path = write_pickle(&dir, "bad.pkl", &nets);
    let e = match Model::load(&path).and_then(|m| m.generator(&gpu)) {
        Ok(_) => panic!("a [4, 8] LabelConcat for 3 classes was accepted"),
        Err(e) => e.to_string(),
    };
    println!("{e}");
    for want in [
        "bad.pkl",
        "Gs",
        "G_mapping/LabelConcat/weight",
        "[4, 8]",
        "[3, 8]",
    ] {
        assert!(e.contains(want), "the error should name {want}: {e}");
    }

    // label_size 0 in the kwargs but the variables of a conditional network.
    let (_, mut nets) = cond_nets(&cfg);
    for net in nets.iter_mut() {
        for (k, v) in net.kwargs.iter_mut().chain(
            net.components
                .iter_mut()
                .flat_map(|(_, c)| c.kwargs.iter_mut()),
        ) {
            if k == "label_size" {
                *v = common::official_pickle::Kw::Int(0);
            }
        }
    }
    let path = write_pickle(&dir, "unlabelled.pkl", &nets);
    let m = Model::load(&path).unwrap();
    assert_eq!(m.config().label_size, 0);
    let e = m.generator(&gpu).err().expect("refused").to_string();
    println!("{e}");
    assert!(
        e.contains("G_mapping/Dense0/weight") && e.contains("[16, 8]"),
        "{e}"
    );
    let e = m.discriminator(&gpu).err().expect("refused").to_string();
    println!("{e}");
    assert!(
        e.contains("4x4/Dense1/weight") && e.contains("[8, 3]"),
        "{e}"
    );
}
