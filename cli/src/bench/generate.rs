//! The `generate` suite: images/s of `z -> mapping -> truncation -> synthesis` with the
//! official FFHQ widths (`Config::preset("ffhq")` at the benchmarked resolution) and random
//! weights from the official initialization. Truncation psi 0.7 up to layer 8 and the stored
//! (constant) noise maps, as `stylegan generate` does by default; the host makes no random
//! numbers per call, so the figure is the GPU's.
//!
//! Full: 256² and 1024², batch 1, 8 and 16. `--quick`: 64² at batch 1 and 2 (the 1024²
//! network's first five stages, 4² to 64²). `tiny`: 32² with the `tiny` preset's widths.

use stylegan_wgpu::error::Result;
use stylegan_wgpu::gpu::{Gpu, Tensor};
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::nn::generator::{Generator, NoiseMode};
use stylegan_wgpu::nn::params::{generator_specs, init_host};
use stylegan_wgpu::rng::lcg_fill;
use stylegan_wgpu::tape::{no_grad, Var};

use super::{time_op_blocking as time_op, BenchOptions, BenchResult, Footprint, Sink};

const SUITE: &str = "generate";

/// One generator benchmark: resolution, batch and whether the widths are the official ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateCase {
    pub resolution: usize,
    pub batch: usize,
    pub tiny: bool,
}

/// The cases `opts` selects (see the module docs).
pub fn generate_cases(opts: &BenchOptions) -> Vec<GenerateCase> {
    let case = |resolution, batch, tiny| GenerateCase {
        resolution,
        batch,
        tiny,
    };
    if opts.tiny {
        vec![case(32, 1, true), case(32, 2, true)]
    } else if opts.quick {
        vec![case(64, 1, false), case(64, 2, false)]
    } else {
        [256, 1024]
            .iter()
            .flat_map(|&r| [1, 8, 16].map(|b| case(r, b, false)))
            .collect()
    }
}

fn config(case: &GenerateCase) -> Result<Config> {
    let mut cfg = Config::preset(if case.tiny { "tiny" } else { "ffhq" })?;
    cfg.resolution = case.resolution;
    cfg.validate()?;
    Ok(cfg)
}

fn one_case(
    gpu: &Gpu,
    opts: &BenchOptions,
    case: &GenerateCase,
    shape: &str,
) -> Result<BenchResult> {
    let cfg = config(case)?;
    let mut gen = Generator::new(gpu, &cfg, &init_host(&generator_specs(&cfg), 1))?;
    let n = case.batch;
    gen.set_batch(n);
    // A batch whose activations exceed the adapter's largest storage binding runs in passes,
    // as the inference entry points run it.
    let per_pass = gen.images_per_pass()?;
    let k = cfg.latent_size;
    let z = lcg_fill(n * k, 7);
    let zs = z
        .chunks(per_pass * k)
        .map(|c| {
            Ok(Var::constant(Tensor::from_slice(
                gpu,
                &[c.len() / k, k],
                c,
            )?))
        })
        .collect::<Result<Vec<_>>>()?;
    let (psi, cutoff) = (cfg.truncation_psi, cfg.truncation_cutoff);
    // At the context's inference precision (f16 convs under STYLEGAN_F16=1 where the adapter
    // has them), recording no history.
    let prec = gpu.inference_precision();
    let mut call = || -> Result<()> {
        for z in &zs {
            let mut w = gen.mapping(z)?;
            if psi != 1.0 && cutoff > 0 {
                w = gen.truncate(&w, psi, cutoff)?;
            }
            drop(gen.synthesis_at(&w, NoiseMode::Const, 0.0, prec)?);
        }
        Ok(())
    };
    let (t, f) = no_grad(|| -> Result<_> {
        let t = time_op(gpu, opts, &mut call)?;
        Ok((t, Footprint::measure(gpu, &mut call)?))
    })?;
    let mut r = BenchResult::new(SUITE, "generator", shape.to_string(), &t);
    f.report_in(&mut r, n);
    r.batch = Some(n);
    r.images_per_s = Some(n as f64 / t.median);
    r.ms_per_image = Some(t.median * 1e3 / n as f64);
    Ok(r)
}

pub(crate) fn generate_into(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink) -> Result<()> {
    for case in generate_cases(opts) {
        let shape = super::network_shape(case.resolution, case.batch, case.tiny);
        let res = one_case(gpu, opts, &case, &shape);
        // Free the weights and activations of this resolution before the next one.
        gpu.trim_pool()?;
        sink.record(SUITE, "generator", shape, res)?;
    }
    Ok(())
}
