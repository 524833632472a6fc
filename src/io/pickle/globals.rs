//! Which globals a pickle may load, and what calling or `BUILD`ing them constructs.
//!
//! This is the reader's security boundary: pickle runs code by loading a global and calling
//! it, so a global outside the whitelist is refused when it is *loaded*, before any opcode
//! could call it. The whitelisted ones are never run either; each is interpreted here (a
//! TensorFlow `Network` becomes an [`Object`](super::Value::Object), `EasyDict` and
//! `OrderedDict` become dicts, `_codecs.encode` gives bytes). numpy's constructors are handed on
//! to the `numpy` module.

use super::arena::{Node, H};
use super::machine::{Machine, Profile};
use super::numpy::NumpyFn;
use crate::error::Result;

/// Whitelisted callables, as remembered on a loaded global so that calling it needs no
/// second look at its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Callable {
    Network,
    Numpy(NumpyFn),
    EasyDict,
    OrderedDict,
    CodecsEncode,
    BytesType,
    /// `torch._utils._rebuild_tensor_v2` (PyTorch checkpoints only): calling it builds an
    /// [`Object`](super::Value::Object) of that class holding the arguments.
    TorchRebuildTensor,
    /// `torch.FloatStorage` and the other storage types (PyTorch checkpoints only): never
    /// called, only named inside a persistent id.
    TorchStorageType,
}

/// PyTorch's storage types, by the name under `torch` (`torch.FloatStorage`).
pub(crate) const TORCH_STORAGE_TYPES: [&str; 13] = [
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "QInt8Storage",
];

/// The globals a PyTorch checkpoint may load (see [`Profile::Torch`]).
fn torch_whitelist(module: &str, name: &str) -> Option<Callable> {
    Some(match (module, name) {
        ("torch._utils", "_rebuild_tensor_v2") => Callable::TorchRebuildTensor,
        ("torch", n) if TORCH_STORAGE_TYPES.contains(&n) => Callable::TorchStorageType,
        ("collections", "OrderedDict") => Callable::OrderedDict,
        _ => return None,
    })
}

/// The only globals a pickle may load; `None` refuses the rest.
fn whitelist(module: &str, name: &str) -> Option<Callable> {
    let np_core =
        |m: &str, sub: &str| m == format!("numpy.core.{sub}") || m == format!("numpy._core.{sub}");
    Some(match (module, name) {
        ("dnnlib.tflib.network", "Network") => Callable::Network,
        (m, "_reconstruct") if np_core(m, "multiarray") => Callable::Numpy(NumpyFn::Reconstruct),
        (m, "scalar") if np_core(m, "multiarray") => Callable::Numpy(NumpyFn::Scalar),
        (m, "_frombuffer") if np_core(m, "numeric") => Callable::Numpy(NumpyFn::FromBuffer),
        ("numpy", "ndarray") => Callable::Numpy(NumpyFn::NdArrayType),
        ("numpy", "dtype") => Callable::Numpy(NumpyFn::DtypeType),
        ("dnnlib.util", "EasyDict") => Callable::EasyDict,
        ("collections", "OrderedDict") => Callable::OrderedDict,
        ("_codecs", "encode") => Callable::CodecsEncode,
        ("builtins" | "__builtin__", "bytes") => Callable::BytesType,
        _ => return None,
    })
}

impl Machine<'_> {
    pub(super) fn global(&mut self, module: String, name: String) -> Result<()> {
        let (allowed, what) = match self.profile {
            Profile::StyleGan => (
                whitelist(&module, &name),
                "only numpy arrays and StyleGAN networks are read",
            ),
            Profile::Torch => (
                torch_whitelist(&module, &name),
                "only tensors (torch._utils._rebuild_tensor_v2, torch.*Storage) and \
                 collections.OrderedDict are read from a PyTorch checkpoint",
            ),
        };
        match allowed {
            Some(kind) => self.push(Node::Global { module, name, kind }),
            None => self.err(format!(
                "global '{module}.{name}' is not allowed: {what} \
                 (this pickle may try to run code; nothing was executed)"
            )),
        }
    }

    /// REDUCE / NEWOBJ of a whitelisted global.
    pub(super) fn call(&mut self, func: H, args: Vec<H>, newobj: bool) -> Result<Node> {
        let (module, name, kind) = match &self.nodes[func] {
            Node::Global { module, name, kind } => (module.clone(), name.clone(), *kind),
            n => return self.err(format!("calling a {}, not a class or function", n.kind())),
        };
        let qual = format!("{module}.{name}");
        if newobj
            && !matches!(
                kind,
                Callable::Network | Callable::EasyDict | Callable::OrderedDict
            )
        {
            return self.err(format!("'{qual}' cannot be instantiated with NEWOBJ"));
        }
        match kind {
            Callable::TorchRebuildTensor => Ok(Node::Object {
                class: (module, name),
                args,
                state: None,
            }),
            Callable::TorchStorageType => {
                self.err(format!("'{qual}' is a storage type and cannot be called"))
            }
            Callable::Network => Ok(Node::Object {
                class: (module, name),
                args,
                state: None,
            }),
            Callable::EasyDict | Callable::OrderedDict => match args.as_slice() {
                [] => Ok(Node::Dict(Vec::new())),
                [a] => match &self.nodes[*a] {
                    Node::Dict(p) => Ok(Node::Dict(p.clone())),
                    Node::List(items) | Node::Tuple(items) => {
                        let mut pairs = Vec::with_capacity(items.len());
                        for &it in items {
                            match &self.nodes[it] {
                                Node::Tuple(kv) | Node::List(kv) if kv.len() == 2 => {
                                    pairs.push((kv[0], kv[1]))
                                }
                                _ => {
                                    return self
                                        .err(format!("{qual}: items should be (key, value) pairs"))
                                }
                            }
                        }
                        Ok(Node::Dict(pairs))
                    }
                    n => self.err(format!("{qual}: cannot build from a {}", n.kind())),
                },
                _ => self.err(format!("{qual}: too many arguments")),
            },
            Callable::Numpy(f) => self.call_numpy(f, &qual, &args),
            Callable::CodecsEncode | Callable::BytesType => {
                if kind == Callable::BytesType && args.is_empty() {
                    return Ok(Node::Bytes(Vec::new()));
                }
                let [s, enc] = args.as_slice() else {
                    return self.err(format!("{qual} should be called as (str, encoding)"));
                };
                let enc = self.str_node(*enc, "encoding")?;
                // Borrowed, not copied: the text is an array's whole data in protocol 2.
                let Node::Str(text) = &self.nodes[*s] else {
                    let k = self.nodes[*s].kind();
                    return self.err(format!("encoded text should be a str, found {k}"));
                };
                match enc.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
                    "latin1" | "iso88591" => Ok(Node::Bytes(self.latin1(text)?)),
                    "utf8" => Ok(Node::Bytes(text.as_bytes().to_vec())),
                    _ => self.err(format!("{qual}: unsupported encoding '{enc}'")),
                }
            }
        }
    }

    pub(super) fn build(&mut self, inst: H, state: H) -> Result<()> {
        match &self.nodes[inst] {
            Node::Object { .. } => {
                self.grow(inst, std::iter::once(state), 0)?;
                if let Node::Object { state: s, .. } = &mut self.nodes[inst] {
                    *s = Some(state);
                }
                Ok(())
            }
            Node::PendingArray => self.build_array(inst, state),
            &Node::Dtype { dtype, .. } => self.build_dtype(inst, dtype, state),
            Node::Dict(_) => {
                // A dict subclass (EasyDict) pickles its instance __dict__ here: attributes,
                // not items, and always empty for the official classes.
                Ok(())
            }
            n => self.err(format!("BUILD on a {}", n.kind())),
        }
    }
}
