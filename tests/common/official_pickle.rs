//! Writes official-format `(G, D, Gs)` pickles (`docs/network.md`, "Official file format")
//! from our weights, as the release's `pickle.dump((G, D, Gs), f)` lays them out: each
//! network a `dnnlib.tflib.network.Network` built by `NEWOBJ` and `BUILD` with its state dict
//! (`version`, `name`, `static_kwargs`, `components`, `build_module_src`, `build_func_name`,
//! `variables`), G's `mapping` and `synthesis` components holding their variables unscoped,
//! numpy float32 arrays through `numpy.core.multiarray._reconstruct` and every `lod` a numpy
//! scalar. Protocol 3 opcodes (raw array bytes as `BINBYTES`); nothing beyond what the reader
//! of real files must accept.

use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::nn::HostWeights;

/// A `static_kwargs` value.
#[derive(Clone, Debug)]
pub enum Kw {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// One network as pickled: its name, kwargs, components (key, net) and own variables
/// (unscoped name, shape, f32 values; an empty shape is a numpy scalar).
#[derive(Clone, Debug)]
pub struct PickledNet {
    pub name: String,
    pub kwargs: Vec<(String, Kw)>,
    pub components: Vec<(String, PickledNet)>,
    pub variables: Vec<PickledVar>,
}

impl PickledNet {
    /// A component's variable (or the net's own), by unscoped name.
    pub fn variable_mut(&mut self, component: Option<&str>, name: &str) -> &mut PickledVar {
        let net = match component {
            None => self,
            Some(k) => {
                &mut self
                    .components
                    .iter_mut()
                    .find(|(key, _)| key == k)
                    .unwrap_or_else(|| panic!("no component {k}"))
                    .1
            }
        };
        net.variables
            .iter_mut()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    }
}

pub type PickledVar = (String, Vec<usize>, Vec<f32>);

/// `vars` led by a scalar `lod` (0: a finished network), as every official network holds
/// one; one already there moves to the front.
fn with_lod(mut vars: Vec<PickledVar>) -> Vec<PickledVar> {
    let lod = match vars.iter().position(|(n, _, _)| n == "lod") {
        Some(i) => vars.remove(i),
        None => ("lod".into(), vec![], vec![0.0]),
    };
    vars.insert(0, lod);
    vars
}

/// Our variables of G (or Gs) under their full names -> the official `G_style` network
/// named `name`: `G_mapping/...` and `G_synthesis/...` into the components, unscoped, the rest
/// (`dlatent_avg`) its own, each with a `lod`; the kwargs the release stores for `cfg`.
pub fn generator(name: &str, cfg: &Config, w: &HostWeights) -> PickledNet {
    let part = |prefix: &str| -> Vec<PickledVar> {
        w.iter()
            .filter_map(|(k, t)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), t.shape.clone(), t.data.clone()))
            })
            .collect()
    };
    let label = ("label_size".to_string(), Kw::Int(cfg.label_size as i64));
    let synthesis = PickledNet {
        name: "G_synthesis".into(),
        kwargs: vec![
            ("dlatent_size".into(), Kw::Int(cfg.dlatent_size as i64)),
            ("num_channels".into(), Kw::Int(cfg.num_channels as i64)),
            ("resolution".into(), Kw::Int(cfg.resolution as i64)),
            ("fmap_base".into(), Kw::Int(cfg.fmap_base as i64)),
            ("fmap_decay".into(), Kw::Float(cfg.fmap_decay as f64)),
            ("fmap_max".into(), Kw::Int(cfg.fmap_max as i64)),
            ("use_noise".into(), Kw::Bool(true)),
            ("nonlinearity".into(), Kw::Str("lrelu".into())),
            ("fused_scale".into(), Kw::Str("auto".into())),
            ("structure".into(), Kw::Str("fixed".into())),
        ],
        components: vec![],
        variables: with_lod(part("G_synthesis/")),
    };
    let mapping = PickledNet {
        name: "G_mapping".into(),
        kwargs: vec![
            ("latent_size".into(), Kw::Int(cfg.latent_size as i64)),
            label.clone(),
            ("dlatent_size".into(), Kw::Int(cfg.dlatent_size as i64)),
            ("dlatent_broadcast".into(), Kw::Int(cfg.num_layers() as i64)),
            ("mapping_layers".into(), Kw::Int(cfg.mapping_layers as i64)),
            ("mapping_fmaps".into(), Kw::Int(cfg.mapping_fmaps as i64)),
            ("mapping_lrmul".into(), Kw::Float(cfg.mapping_lrmul as f64)),
            ("mapping_nonlinearity".into(), Kw::Str("lrelu".into())),
            ("normalize_latents".into(), Kw::Bool(true)),
        ],
        components: vec![],
        variables: part("G_mapping/"),
    };
    let own = with_lod(
        w.iter()
            .filter(|(k, _)| !k.starts_with("G_mapping/") && !k.starts_with("G_synthesis/"))
            .map(|(k, t)| (k.clone(), t.shape.clone(), t.data.clone()))
            .collect(),
    );
    PickledNet {
        name: name.into(),
        kwargs: vec![
            ("num_channels".into(), Kw::Int(cfg.num_channels as i64)),
            ("resolution".into(), Kw::Int(cfg.resolution as i64)),
            label,
            (
                "truncation_psi".into(),
                Kw::Float(cfg.truncation_psi as f64),
            ),
            (
                "truncation_cutoff".into(),
                Kw::Int(cfg.truncation_cutoff as i64),
            ),
            ("structure".into(), Kw::Str("fixed".into())),
        ],
        // dict(self.components) in the official __getstate__: synthesis was created first.
        components: vec![("synthesis".into(), synthesis), ("mapping".into(), mapping)],
        variables: own,
    }
}

/// Our D's variables -> the official `D_basic` network (variables unscoped, with `lod`).
pub fn discriminator(cfg: &Config, w: &HostWeights) -> PickledNet {
    let vars = with_lod(
        w.iter()
            .map(|(k, t)| (k.clone(), t.shape.clone(), t.data.clone()))
            .collect(),
    );
    PickledNet {
        name: "D".into(),
        kwargs: vec![
            ("num_channels".into(), Kw::Int(cfg.num_channels as i64)),
            ("resolution".into(), Kw::Int(cfg.resolution as i64)),
            ("label_size".into(), Kw::Int(cfg.label_size as i64)),
            ("fmap_base".into(), Kw::Int(cfg.fmap_base as i64)),
            ("fmap_decay".into(), Kw::Float(cfg.fmap_decay as f64)),
            ("fmap_max".into(), Kw::Int(cfg.fmap_max as i64)),
            (
                "mbstd_group_size".into(),
                Kw::Int(cfg.mbstd_group_size as i64),
            ),
            ("fused_scale".into(), Kw::Str("auto".into())),
            ("structure".into(), Kw::Str("fixed".into())),
        ],
        components: vec![],
        variables: vars,
    }
}

/// The bytes of `pickle.dumps((g, d, gs), protocol=3)`.
pub fn pickle_bytes(g: &PickledNet, d: &PickledNet, gs: &PickledNet) -> Vec<u8> {
    let mut w = Writer(vec![0x80, 3]);
    w.0.push(b'(');
    for net in [g, d, gs] {
        w.network(net);
    }
    w.0.extend_from_slice(b"t.");
    w.0
}

struct Writer(Vec<u8>);

impl Writer {
    fn op(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.op(b"X");
        self.op(&(s.len() as u32).to_le_bytes());
        self.op(s.as_bytes());
    }

    fn int(&mut self, v: i64) {
        self.op(b"J");
        self.op(&(i32::try_from(v).expect("int fits in 32 bits")).to_le_bytes());
    }

    fn kw(&mut self, v: &Kw) {
        match v {
            Kw::Int(i) => self.int(*i),
            Kw::Float(f) => {
                self.op(b"G");
                self.op(&f.to_be_bytes());
            }
            Kw::Str(s) => self.str(s),
            Kw::Bool(b) => self.op(if *b { b"\x88" } else { b"\x89" }),
        }
    }

    /// `numpy.dtype('float32')`: (dtype, ('f4', False, True)) then BUILD (3, '<', ...).
    fn dtype_f4(&mut self) {
        self.op(b"cnumpy\ndtype\n");
        self.str("f4");
        self.op(b"\x89\x88\x87R(K\x03");
        self.str("<");
        self.op(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb");
    }

    fn array(&mut self, shape: &[usize], data: &[f32]) {
        assert_eq!(shape.iter().product::<usize>(), data.len());
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        if shape.is_empty() {
            // numpy.float32: scalar(dtype, raw)
            self.op(b"cnumpy.core.multiarray\nscalar\n");
            self.dtype_f4();
            self.op(b"C");
            self.op(&[raw.len() as u8]);
            self.op(&raw);
            self.op(b"\x86R");
            return;
        }
        self.op(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R");
        self.op(b"(K\x01(");
        for &d in shape {
            self.int(d as i64);
        }
        self.op(b"t");
        self.dtype_f4();
        self.op(b"\x89B");
        self.op(&(raw.len() as u32).to_le_bytes());
        self.op(&raw);
        self.op(b"tb");
    }

    fn network(&mut self, net: &PickledNet) {
        self.op(b"cdnnlib.tflib.network\nNetwork\n)\x81}(");
        self.str("version");
        self.int(4);
        self.str("name");
        self.str(&net.name);
        self.str("static_kwargs");
        self.op(b"}");
        if !net.kwargs.is_empty() {
            self.op(b"(");
            for (k, v) in &net.kwargs {
                self.str(k);
                self.kw(v);
            }
            self.op(b"u");
        }
        self.str("components");
        self.op(b"}");
        if !net.components.is_empty() {
            self.op(b"(");
            for (k, c) in &net.components {
                self.str(k);
                self.network(c);
            }
            self.op(b"u");
        }
        self.str("build_module_src");
        self.str("# never executed\nimport os\nos.system('echo must never run')\n");
        self.str("build_func_name");
        let func = match net.name.as_str() {
            "D" => "D_basic",
            "G_mapping" | "G_synthesis" => &net.name,
            _ => "G_style",
        };
        self.str(&format!("training.networks_stylegan.{func}"));
        self.str("variables");
        self.op(b"](");
        for (name, shape, data) in &net.variables {
            self.op(b"(");
            self.str(name);
            self.array(shape, data);
            self.op(b"t");
        }
        self.op(b"eub");
    }
}
