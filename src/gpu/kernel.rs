//! A compute kernel: WGSL source, entry point, the access of each storage binding, and the
//! layout of its uniform parameter block.
//!
//! Binding 0 is always the uniform parameter block (a dynamic offset into the step's arena);
//! bindings 1.. are the storage buffers in the order the op passes them. The parameter block is
//! a `#[repr(C)]` Pod struct declared with `kernel_params!` next to the op, mirroring the WGSL
//! `struct Params` field by field; `tests/shaders.rs` reads every kernel's WGSL struct with naga
//! and checks names, types, offsets and size against the Rust struct.

use std::borrow::Cow;

/// How a kernel uses one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// A compute kernel as the pipeline cache sees it.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Unique cache key, also the debug label and the file name of `STYLEGAN_DUMP_WGSL`.
    pub key: Cow<'static, str>,
    /// The shader file under `shaders/` the source comes from (rendered, for templates).
    pub file: &'static str,
    pub source: Cow<'static, str>,
    pub entry: &'static str,
    pub bindings: &'static [Access],
    /// The Rust mirror of the WGSL `struct Params` at binding 0.
    pub params: &'static ParamsLayout,
}

/// Workgroup size used by every generic (one invocation per element) kernel; matches `WG` in
/// `shaders/common.wgsl`.
pub const WG: u32 = 256;

/// Workgroup size of the kernels with one long sequential loop per invocation (a row, a plane
/// or a channel summed in order: `reduce/rows.wgsl:per_row`, the per-plane AdaIN kernels, the
/// per-channel epilogue backward); matches `SEQ_WG` in `shaders/common.wgsl`. They have few
/// invocations (as few as the channels), so small workgroups spread them over more cores:
/// with 64, the 16-32 channels of the default model's epilogue backward ran on one of
/// lavapipe's threads.
pub const SEQ_WG: u32 = 8;

/// The scalar types a parameter block may hold (WGSL `u32`, `i32`, `f32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    U32,
    I32,
    F32,
}

/// A Rust type that can be a field of a parameter block.
pub trait ParamScalar {
    const SCALAR: Scalar;
}
impl ParamScalar for u32 {
    const SCALAR: Scalar = Scalar::U32;
}
impl ParamScalar for i32 {
    const SCALAR: Scalar = Scalar::I32;
}
impl ParamScalar for f32 {
    const SCALAR: Scalar = Scalar::F32;
}

/// One field of a parameter block: name, byte offset, type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamField {
    pub name: &'static str,
    pub offset: usize,
    pub scalar: Scalar,
}

/// The layout of a parameter block, for the check against the WGSL struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamsLayout {
    /// The Rust struct's name.
    pub name: &'static str,
    pub size: usize,
    pub fields: &'static [ParamField],
}

/// A kernel's uniform parameter block; implemented by `kernel_params!`.
pub trait KernelParams: bytemuck::Pod {
    const LAYOUT: ParamsLayout;
}

/// Declares a kernel's parameter block: a `#[repr(C)]` Pod struct of `u32` / `i32` / `f32`
/// fields in the order of the WGSL `struct Params`, and its `KernelParams` layout.
///
/// ```
/// use stylegan_wgpu::gpu::KernelParams;
/// stylegan_wgpu::kernel_params! {
///     /// Parameters of `shaders/resample.wgsl`.
///     pub struct ResampleParams { n: u32, h: u32, w: u32, gain: f32 }
/// }
/// let l = ResampleParams::LAYOUT;
/// assert_eq!((l.size, l.fields[3].name, l.fields[3].offset), (16, "gain", 12));
/// ```
#[macro_export]
macro_rules! kernel_params {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name { $(pub $f: $t),* }

        impl $crate::gpu::kernel::KernelParams for $name {
            const LAYOUT: $crate::gpu::kernel::ParamsLayout = $crate::gpu::kernel::ParamsLayout {
                name: stringify!($name),
                size: std::mem::size_of::<$name>(),
                fields: &[$($crate::gpu::kernel::ParamField {
                    name: stringify!($f),
                    offset: std::mem::offset_of!($name, $f),
                    scalar: <$t as $crate::gpu::kernel::ParamScalar>::SCALAR,
                }),*],
            };
        }
    };
}

/// Declares a kernel whose source is `shaders/common.wgsl` followed by `shaders/<file>`, with
/// parameter block `$params` (a `kernel_params!` struct).
#[macro_export]
macro_rules! kernel {
    ($name:ident, $file:literal, $entry:literal, $params:ty, [$($acc:ident),*]) => {
        pub const $name: $crate::gpu::kernel::Kernel = $crate::gpu::kernel::Kernel {
            key: std::borrow::Cow::Borrowed(concat!($file, ":", $entry)),
            file: $file,
            source: std::borrow::Cow::Borrowed(concat!(
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/common.wgsl")),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file))
            )),
            entry: $entry,
            bindings: &[$($crate::gpu::kernel::Access::$acc),*],
            params: &<$params as $crate::gpu::kernel::KernelParams>::LAYOUT,
        };
    };
}

/// `v` as a `u32` kernel parameter. Tensor sizes are bounded by the adapter's buffer limits
/// (far below 2^32 elements), so a larger value is a bug in the op, not bad user input.
pub fn u32p(v: usize) -> u32 {
    u32::try_from(v).expect("kernel parameter exceeds u32")
}
