//! The owned tree a pickle reads into, and the accessors its consumers use.
//!
//! This is all a caller sees of a pickle: the machine and its arena stay private, so the tree
//! can only hold what the reader accepted (whitelisted globals, numeric numpy arrays).

use super::numpy::NdArray;
use crate::io::dtype::DType;

/// An unpickled value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit `i64`: little-endian two's complement bytes, as pickled.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Key/value pairs in pickle order (also `EasyDict` and `OrderedDict`).
    Dict(Vec<(Value, Value)>),
    /// `set` and `frozenset`, in pickle order.
    Set(Vec<Value>),
    /// A whitelisted global that was loaded but not called.
    Global(String, String),
    /// An instance of a whitelisted class (a `dnnlib.tflib.network.Network`): the class as
    /// (module, name), the constructor arguments and the `BUILD` state.
    Object {
        class: (String, String),
        args: Vec<Value>,
        state: Option<Box<Value>>,
    },
    /// A `numpy.dtype` object that was not used by an array.
    Dtype(DType),
    /// A numpy array or numpy scalar (shape `[]`).
    NdArray(NdArray),
    /// A persistent id: in a PyTorch checkpoint, the reference to a tensor's storage
    /// (`('storage', torch.FloatStorage, key, location, numel)`). Only PyTorch checkpoints
    /// may contain them; other pickles refuse the opcode.
    PersistentId(Box<Value>),
}

impl Value {
    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Global(..) => "global",
            Value::Object { .. } => "object",
            Value::Dtype(_) => "numpy dtype",
            Value::NdArray(_) => "numpy array",
            Value::PersistentId(_) => "persistent id",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// The value of `key` in a dict with string keys (the last one if repeated, as Python does).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The items of a tuple or list.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
}
