//! Kernels generated per shape (the conv kernels whose register blocks are unrolled for each
//! configuration) or per variant (the scalar and vec4 forms of a memory-bound kernel) are WGSL
//! templates in their op's folder under `shaders/`, rendered with MiniJinja (Jinja2 syntax)
//! before compiling. The one rule beyond WGSL:
//!
//! - a line whose first non-blank text is `//#` is a template statement: `//# for p in
//!   range(PX)` ... `//# endfor`, `//# if KIND == "up2"` ... `//# elif ..` ... `//# endif`,
//!   `//# set x = ...`, `//# include "conv/gemm_tile.wgsl"`. They are WGSL comments, so a template
//!   reads and highlights as WGSL;
//! - `{{ expr }}` substitutes a value: a constant of the configuration or loop variable, or
//!   integer arithmetic on them (`//` is integer division, `%` the remainder).
//!
//! Values that do not change the unrolled structure are plain WGSL `const`s at the top of each
//! template, set from the configuration, so the shader compiler folds them as before.
//! `STYLEGAN_DUMP_WGSL=DIR` writes every rendered kernel as it is compiled.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Value};

use crate::error::{Error, Result};

/// Renders template `name` of `templates` (`(name, source)` pairs; the others can be
/// included) with the values in `ctx`.
pub fn render(
    templates: &[(&'static str, &'static str)],
    name: &str,
    ctx: Value,
) -> Result<String> {
    let err = |e: minijinja::Error| {
        let mut msg = format!("shader template {name}: {e}");
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg += &format!(": {s}");
            src = s.source();
        }
        Error::Invalid(msg)
    };
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .line_statement_prefix("//#")
            .build()
            .map_err(err)?,
    );
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (n, src) in templates {
        env.add_template(n, src).map_err(err)?;
    }
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_statements_and_substitutions() {
        let t = [
            (
                "main.wgsl",
                "const N: u32 = {{ N }}u;\n  //# for i in range(N)\n  var a{{ i }} = {{ i * 2 + N // 2 }};\n  //# endfor\n//# include \"tail.wgsl\"\nend\n",
            ),
            ("tail.wgsl", "//# if N > 1\nmany\n//# else\none\n//# endif\n"),
        ];
        let out = render(&t, "main.wgsl", minijinja::context! { N => 3 }).unwrap();
        assert_eq!(
            out,
            "const N: u32 = 3u;\n  var a0 = 1;\n  var a1 = 3;\n  var a2 = 5;\nmany\nend\n"
        );
        // An undefined name is an error, not an empty string.
        let e = render(&t, "main.wgsl", minijinja::context! {}).unwrap_err();
        assert!(e.to_string().contains("main.wgsl"), "{e}");
    }
}
