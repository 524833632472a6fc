//! The official-pickle reader on the fixtures written by tests/fixtures/make_pickles.py:
//! names, shapes and values of every variable, static_kwargs -> Config, protocol 2 == 4,
//! progressive extras, numpy dtypes and orders, and refusals (hostile globals, truncation).

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
