//! Kernels rendered from a template once per process: the scalar and vec4 forms of the
//! memory-bound kernels (one template each, `//# if VEC4` where they differ) and the
//! elementwise kernels, whose `switch` is rendered from the Rust table of functions. The conv
//! kernels, rendered per shape, keep their own caches.

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::error::Result;
use crate::gpu::template::render;
use crate::gpu::{Access, Kernel, ParamsLayout};

/// A kernel rendered on first use and kept for the process.
pub(crate) struct LazyKernel {
    kernel: OnceLock<Kernel>,
    render: fn() -> Result<Kernel>,
}

impl LazyKernel {
    pub(crate) const fn new(render: fn() -> Result<Kernel>) -> LazyKernel {
        LazyKernel {
            kernel: OnceLock::new(),
            render,
        }
    }

    pub(crate) fn get(&self) -> Result<&Kernel> {
        if let Some(k) = self.kernel.get() {
            return Ok(k);
        }
        let k = (self.render)()?;
        Ok(self.kernel.get_or_init(|| k))
    }
}

/// What one rendering of a template is: its file under `shaders/`, the template's text, the
/// variant's name (part of the cache key) and the kernel's interface.
pub(crate) struct Template {
    pub file: &'static str,
    pub text: &'static str,
    pub variant: &'static str,
    pub entry: &'static str,
    pub bindings: &'static [Access],
    pub params: &'static ParamsLayout,
}

impl Template {
    /// Renders the template with `ctx` behind `shaders/common.wgsl`, as `kernel!` assembles a
    /// plain shader file.
    pub(crate) fn kernel(&self, ctx: minijinja::Value) -> Result<Kernel> {
        let body = render(&[(self.file, self.text)], self.file, ctx)?;
        Ok(Kernel {
            key: Cow::Owned(format!("{}:{}:{}", self.file, self.entry, self.variant)),
            file: self.file,
            source: Cow::Owned(format!(
                "{}{body}",
                include_str!("../../shaders/common.wgsl")
            )),
            entry: self.entry,
            bindings: self.bindings,
            params: self.params,
        })
    }
}

/// Declares `static $name: LazyKernel`, the template `shaders/$file` rendered as variant
/// `$variant` with the values in `{ .. }` (`minijinja::context!` syntax), with parameter block
/// `$params` and the given storage bindings, like `kernel!` does for a plain file.
macro_rules! rendered_kernel {
    ($name:ident, $file:literal, $variant:literal, $entry:literal, $params:ty,
     [$($acc:ident),*], { $($ctx:tt)* }) => {
        pub(crate) static $name: $crate::ops::rendered::LazyKernel =
            $crate::ops::rendered::LazyKernel::new(|| {
                $crate::ops::rendered::Template {
                    file: $file,
                    text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file)),
                    variant: $variant,
                    entry: $entry,
                    bindings: &[$($crate::gpu::Access::$acc),*],
                    params: &<$params as $crate::gpu::KernelParams>::LAYOUT,
                }
                .kernel(minijinja::context! { $($ctx)* })
            });
    };
}
pub(crate) use rendered_kernel;
