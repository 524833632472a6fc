//! A compute kernel: WGSL source, entry point and the access of each storage binding.
//! Binding 0 is always the uniform parameter block (dynamic offset into the step's arena);
//! bindings 1.. are the storage buffers in the order the op passes them.

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

#[derive(Clone, Debug)]
pub struct Kernel {
    /// Unique cache key, also the debug label.
    pub key: Cow<'static, str>,
    pub source: Cow<'static, str>,
    pub entry: &'static str,
    pub bindings: &'static [Access],
}

/// Workgroup size used by every generic (one invocation per element) kernel; matches `WG` in
/// `shaders/common.wgsl`.
pub const WG: u32 = 256;

/// Declares a kernel whose source is `shaders/common.wgsl` followed by `shaders/<file>`.
#[macro_export]
macro_rules! kernel {
    ($name:ident, $file:literal, $entry:literal, [$($acc:ident),*]) => {
        pub const $name: $crate::gpu::kernel::Kernel = $crate::gpu::kernel::Kernel {
            key: std::borrow::Cow::Borrowed(concat!($file, ":", $entry)),
            source: std::borrow::Cow::Borrowed(concat!(
                include_str!("../../shaders/common.wgsl"),
                include_str!(concat!("../../shaders/", $file))
            )),
            entry: $entry,
            bindings: &[$($crate::gpu::kernel::Access::$acc),*],
        };
    };
}

/// Uniform parameters, packed as 32-bit words in the order the shader's `Params` struct declares
/// them (all fields u32/i32/f32).
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<u32>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::with_capacity(16))
    }
    pub fn u(mut self, v: usize) -> Self {
        self.0
            .push(u32::try_from(v).expect("kernel parameter exceeds u32"));
        self
    }
    pub fn i(mut self, v: i32) -> Self {
        self.0.push(v as u32);
        self
    }
    pub fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }
}
