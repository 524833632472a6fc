//! What the context may do (`Policy`: the environment switches, read once when a `Gpu` is
//! built) and what the adapter can do (`AdapterCaps`). Kernel choice is a pure function of these
//! two and the shape of the work (`ops::conv::plan`), so nothing reads the environment on a hot
//! path, and tests can state the policy they run under instead of setting variables while other
//! tests run.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Whether kernel choice follows measured times (`STYLEGAN_TUNE`; see `gpu::tune`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tune {
    /// The planners' fixed order (reproducible: every test context and `Policy::default()`).
    #[default]
    Off,
    /// Use the tuning table's choices; a shape it lacks takes the fixed order and is not
    /// measured (`STYLEGAN_TUNE=cached`). What short inference commands (`stylegan generate`)
    /// use when the variable is unset: measuring costs ~1-2 s per new shape on lavapipe,
    /// more than a few batches of images take, and buys them little.
    Cached,
    /// Use the tuning table; a shape met for the first time is measured once and remembered
    /// (`STYLEGAN_TUNE=on`, and what an empty environment gives).
    On,
    /// Measure every shape again, once in this process (`stylegan bench tune`).
    Force,
}

impl Tune {
    pub fn name(self) -> &'static str {
        match self {
            Tune::Off => "off",
            Tune::Cached => "cached",
            Tune::On => "on",
            Tune::Force => "force",
        }
    }

    /// `off`, `cached`, `on` or `force` (case-insensitive; `0` and `1` too); empty means `on`.
    pub fn parse(v: &str) -> Option<Tune> {
        match v.trim().to_ascii_lowercase().as_str() {
            "off" | "0" | "no" | "false" => Some(Tune::Off),
            "cached" => Some(Tune::Cached),
            "" | "on" | "1" | "yes" | "true" => Some(Tune::On),
            "force" => Some(Tune::Force),
            _ => None,
        }
    }
}

/// Switches a user (or a test) sets for a context. `Policy::default()` is the reproducible
/// policy: every kernel allowed, the planners' fixed kernel order (no tuning), f16 off, no
/// profiling, no shader dump, nothing kept on disk. `Policy::from_env()` with an empty
/// environment adds the caches under `cache_root()` and turns tuning on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The subgroup-broadcast conv kernel may run (`STYLEGAN_NO_FAST_CONV=1` turns it off).
    pub subgroup_conv: bool,
    /// The tiled implicit-GEMM conv kernel may run (`STYLEGAN_NO_TILED_CONV=1` turns it off).
    pub tiled_conv: bool,
    /// Inference convs may run in f16 on cooperative matrices where the adapter has them
    /// (`STYLEGAN_F16=1`). Opt-in: f16 inputs round to 11 bits. Training never uses it.
    pub f16: bool,
    /// Run every dispatch alone and time it per kernel (`STYLEGAN_PROFILE=1`).
    pub profile: bool,
    /// Write the WGSL of every kernel to this folder as it is compiled
    /// (`STYLEGAN_DUMP_WGSL=DIR`), for debugging and review.
    pub dump_wgsl: Option<PathBuf>,
    /// Keep compiled pipelines in this folder across runs (Vulkan): by default
    /// `$XDG_CACHE_HOME/stylegan-wgpu`, else `$HOME/.cache/stylegan-wgpu`;
    /// `STYLEGAN_PIPELINE_CACHE=DIR` moves it, `=off` (or `0`) turns it off.
    pub pipeline_cache: Option<PathBuf>,
    /// Treat the adapter's largest storage binding as at most this many bytes
    /// (`STYLEGAN_MAX_BINDING=128MiB`): behaves like a smaller adapter (WebGPU's default is
    /// 128 MiB), so batch splitting can be checked and sized on any machine.
    pub max_binding: Option<u64>,
    /// How kernels are chosen among the candidates that take a shape (`STYLEGAN_TUNE=off|
    /// cached|on|force`; `on` when unset, see `Policy::from_env_or`). `Policy::default()` is
    /// `Off`: the fixed order.
    pub tune: Tune,
    /// The folder of the tuning tables (one file per adapter and driver, `gpu::tune`): by
    /// default `cache_root()`, next to the pipeline cache; `STYLEGAN_TUNE_DIR=DIR` moves it,
    /// `=off` keeps measurements in memory only. `None` in `Policy::default()`.
    pub tune_dir: Option<PathBuf>,
    /// One candidate per kernel family, whatever the order or the table says, where it takes
    /// the shape (`STYLEGAN_PIN=conv=tiled,...`): family name -> candidate name. Tests run a
    /// step on each candidate with it; a shape the pinned kernel does not take gets the usual
    /// choice.
    pub pin: BTreeMap<String, String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            subgroup_conv: true,
            tiled_conv: true,
            f16: false,
            profile: false,
            dump_wgsl: None,
            pipeline_cache: None,
            max_binding: None,
            tune: Tune::Off,
            tune_dir: None,
            pin: BTreeMap::new(),
        }
    }
}

/// The crate's folder in the platform's cache directory (`$XDG_CACHE_HOME` or `~/.cache` on
/// Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows): compiled pipelines, and
/// the metrics' real features under `metrics/`. `None` where there is none (the browser).
pub fn cache_root() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("stylegan-wgpu"))
}

/// A cache folder from variable `var`: `off` (or `0`, `none`) turns it off, a path moves it,
/// unset or empty gives `cache_root()` (see `Policy::pipeline_cache`, `Policy::tune_dir`).
fn cache_dir(get: &impl Fn(&str) -> Option<String>, var: &str) -> Option<PathBuf> {
    match get(var).filter(|v| !v.trim().is_empty()) {
        Some(v) if ["off", "0", "none"].contains(&v.trim().to_ascii_lowercase().as_str()) => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => cache_root(),
    }
}

/// Parses `family=candidate[,family=candidate...]` (`STYLEGAN_PIN`); `None` when malformed.
pub fn parse_pins(v: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (family, name) = item.split_once('=')?;
        let (family, name) = (family.trim(), name.trim());
        if family.is_empty() || name.is_empty() {
            return None;
        }
        out.insert(family.to_string(), name.to_string());
    }
    Some(out)
}

/// Parses a byte count: a number with an optional `KiB`, `MiB` or `GiB` suffix.
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        _ => return None,
    };
    num.parse::<u64>()
        .ok()?
        .checked_mul(mult)
        .filter(|&b| b > 0)
}

/// True when a switch variable is set to anything but empty or `0`.
fn on(v: Option<String>) -> bool {
    v.is_some_and(|v| !v.trim().is_empty() && v.trim() != "0")
}

impl Policy {
    /// Reads `STYLEGAN_NO_FAST_CONV`, `STYLEGAN_NO_TILED_CONV`, `STYLEGAN_F16`,
    /// `STYLEGAN_PROFILE`, `STYLEGAN_DUMP_WGSL`, `STYLEGAN_PIPELINE_CACHE`,
    /// `STYLEGAN_MAX_BINDING`, `STYLEGAN_TUNE`, `STYLEGAN_TUNE_DIR` and `STYLEGAN_PIN` from the
    /// process environment.
    pub fn from_env() -> Policy {
        Policy::from_vars(|k| std::env::var(k).ok())
    }

    /// `from_env`, with `tune` as the tuning when `STYLEGAN_TUNE` is unset or empty: short work
    /// passes `Tune::Cached`, so it uses what longer runs measured without paying to measure.
    pub fn from_env_or(tune: Tune) -> Policy {
        Policy::from_vars_or(|k| std::env::var(k).ok(), tune)
    }

    /// The policy a set of variables gives (`get` answers like `std::env::var(..).ok()`).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Policy {
        Policy::from_vars_or(get, Tune::On)
    }

    /// `from_vars` with `unset` as the tuning when `STYLEGAN_TUNE` is unset or empty.
    pub fn from_vars_or(get: impl Fn(&str) -> Option<String>, unset: Tune) -> Policy {
        Policy {
            subgroup_conv: !on(get("STYLEGAN_NO_FAST_CONV")),
            tiled_conv: !on(get("STYLEGAN_NO_TILED_CONV")),
            f16: on(get("STYLEGAN_F16")),
            profile: on(get("STYLEGAN_PROFILE")),
            dump_wgsl: get("STYLEGAN_DUMP_WGSL")
                .filter(|d| !d.trim().is_empty())
                .map(PathBuf::from),
            pipeline_cache: cache_dir(&get, "STYLEGAN_PIPELINE_CACHE"),
            max_binding: get("STYLEGAN_MAX_BINDING").and_then(|v| parse_bytes(&v)),
            // Unreadable values fall back to the default here; `check_env` reports them.
            tune: get("STYLEGAN_TUNE")
                .filter(|v| !v.trim().is_empty())
                .and_then(|v| Tune::parse(&v))
                .unwrap_or(unset),
            tune_dir: cache_dir(&get, "STYLEGAN_TUNE_DIR"),
            pin: get("STYLEGAN_PIN")
                .and_then(|v| parse_pins(&v))
                .unwrap_or_default(),
        }
    }

    /// `from_env`, with an error for a switch whose value cannot be read (the binary reports
    /// it before opening the GPU).
    pub fn check_env() -> crate::Result<()> {
        Policy::check_vars(|k| std::env::var(k).ok())
    }

    /// `check_env` on a set of variables.
    pub fn check_vars(get: impl Fn(&str) -> Option<String>) -> crate::Result<()> {
        let bad = |msg: String| Err(crate::Error::Invalid(msg));
        if let Some(v) = get("STYLEGAN_MAX_BINDING") {
            if !v.trim().is_empty() && parse_bytes(&v).is_none() {
                return bad(format!(
                    "STYLEGAN_MAX_BINDING={v}: not a byte count (e.g. 134217728 or 128MiB)"
                ));
            }
        }
        if let Some(v) = get("STYLEGAN_TUNE") {
            if Tune::parse(&v).is_none() {
                return bad(format!("STYLEGAN_TUNE={v}: use off, cached, on or force"));
            }
        }
        if let Some(v) = get("STYLEGAN_PIN") {
            if parse_pins(&v).is_none() {
                return bad(format!(
                    "STYLEGAN_PIN={v}: use family=kernel[,family=kernel], e.g. conv=tiled"
                ));
            }
        }
        Ok(())
    }

    /// This policy with tuning off and no tuning table: the planners' fixed order, as tests
    /// need it (their results must not depend on what was measured before).
    pub fn untuned(self) -> Policy {
        Policy {
            tune: Tune::Off,
            tune_dir: None,
            ..self
        }
    }

    /// This policy with `family` pinned to the candidate `name` (see `Policy::pin`).
    pub fn pinned(mut self, family: &str, name: &str) -> Policy {
        self.pin.insert(family.to_string(), name.to_string());
        self
    }
}

/// The arithmetic a forward convolution may use. Always an explicit argument: training,
/// gradients and everything differentiable use `F32`; only inference entry points ask for
/// `F16`, and only when the context's policy opts in (`Gpu::inference_precision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 inputs, f32 accumulation.
    F32,
    /// f16 inputs with f32 accumulation on cooperative matrices where the adapter has them
    /// and the policy allows it; f32 kernels otherwise.
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

/// What the opened device offers that kernel choice depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdapterCaps {
    /// Subgroup operations with a fixed subgroup size of 8 (lavapipe, many Intel GPUs): the
    /// subgroup-broadcast conv kernel is written for that width.
    pub subgroup8: bool,
    /// f16 cooperative matrices (16x16x16, f16 x f16 + f32) were enabled on the device, with a
    /// fixed subgroup size of 32 or 64 the cooperative-matrix kernel is written for; 0 when not.
    pub coop_f16_subgroup: u32,
    /// The adapter runs on the CPU (lavapipe, WARP, SwiftShader): tile shapes differ.
    pub cpu: bool,
    /// Most workgroups per grid dimension.
    pub max_workgroups: u32,
}

impl AdapterCaps {
    /// Whether the f16 cooperative-matrix conv kernel can run.
    pub fn coop_f16(&self) -> bool {
        self.coop_f16_subgroup != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_parse_like_the_docs_say() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let empty_env = Policy {
            pipeline_cache: cache_root(),
            tune: Tune::On,
            tune_dir: cache_root(),
            ..Policy::default()
        };
        assert_eq!(Policy::from_vars(vars(&[])), empty_env);
        let p = Policy::from_vars(vars(&[
            ("STYLEGAN_NO_FAST_CONV", "1"),
            ("STYLEGAN_F16", "1"),
            ("STYLEGAN_DUMP_WGSL", "/tmp/wgsl"),
        ]));
        assert!(!p.subgroup_conv && p.tiled_conv && p.f16 && !p.profile);
        let cache = |pairs| Policy::from_vars(vars(pairs)).pipeline_cache;
        assert_eq!(cache(&[]), cache_root());
        assert_eq!(
            cache(&[("HOME", "/h"), ("STYLEGAN_PIPELINE_CACHE", "off")]),
            None
        );
        assert_eq!(
            cache(&[("STYLEGAN_PIPELINE_CACHE", "/tmp/pc")]),
            Some(PathBuf::from("/tmp/pc"))
        );
        assert_eq!(p.dump_wgsl, Some(PathBuf::from("/tmp/wgsl")));
        let p = Policy::from_vars(vars(&[
            ("STYLEGAN_NO_TILED_CONV", "0"),
            ("STYLEGAN_F16", ""),
        ]));
        assert_eq!(p, empty_env);
        for (v, want) in [
            ("134217728", Some(134217728)),
            ("128MiB", Some(128 << 20)),
            ("64 KiB", Some(64 << 10)),
            ("1g", Some(1 << 30)),
            ("0", None),
            ("lots", None),
            ("12 parsecs", None),
        ] {
            assert_eq!(parse_bytes(v), want, "{v}");
        }
    }

    #[test]
    fn tune_switches_parse() {
        let one = |k: &'static str, v: &'static str| move |q: &str| (q == k).then(|| v.to_string());
        let tune = |v| Policy::from_vars(one("STYLEGAN_TUNE", v)).tune;
        assert_eq!(tune("off"), Tune::Off);
        assert_eq!(tune("0"), Tune::Off);
        assert_eq!(tune("ON"), Tune::On);
        assert_eq!(tune(""), Tune::On);
        assert_eq!(tune("force"), Tune::Force);
        assert_eq!(tune("Cached"), Tune::Cached);
        // Short work's default applies only where the variable says nothing.
        let short = |v| Policy::from_vars_or(one("STYLEGAN_TUNE", v), Tune::Cached).tune;
        assert_eq!(short(""), Tune::Cached);
        assert_eq!(short("on"), Tune::On);
        assert_eq!(short("off"), Tune::Off);
        assert_eq!(
            Policy::from_vars_or(|_| None, Tune::Cached).tune,
            Tune::Cached
        );
        assert!(Policy::check_vars(one("STYLEGAN_TUNE", "sometimes")).is_err());
        assert!(Policy::check_vars(one("STYLEGAN_TUNE", "force")).is_ok());
        let dir = |v| Policy::from_vars(one("STYLEGAN_TUNE_DIR", v)).tune_dir;
        assert_eq!(dir("off"), None);
        assert_eq!(dir("/tmp/t"), Some(PathBuf::from("/tmp/t")));
        let p = Policy::from_vars(one("STYLEGAN_PIN", "conv=tiled, matmul = simple"));
        assert_eq!(p.pin.get("conv").map(String::as_str), Some("tiled"));
        assert_eq!(p.pin.get("matmul").map(String::as_str), Some("simple"));
        assert!(Policy::check_vars(one("STYLEGAN_PIN", "conv")).is_err());
        assert!(Policy::check_vars(one("STYLEGAN_PIN", "=tiled")).is_err());
        let u = Policy::from_vars(|_| None).untuned();
        assert_eq!((u.tune, u.tune_dir), (Tune::Off, None));
        assert_eq!(
            Policy::default().pinned("conv", "direct").pin["conv"],
            "direct"
        );
    }
}
