//! The `train` suite: milliseconds per full training step (`Trainer::step`: G forward, D on
//! reals and fakes with the logistic loss and the R1 penalty (a double backward), Adam on D,
//! the G step with its own forward and backward, Adam on G, the Gs moving average), batch 16
//! at 64² and 256² with the official FFHQ widths and the default recipe (style mixing 0.9,
//! gamma 10). The step submits its own work, so it is timed by the wall clock (which also
//! counts building the graph on the host: the real cost of a step).
//!
//! `--quick` (and `tiny`): 32² at batch 4 with the `tiny` preset's widths.

use stylegan_wgpu::error::Result;
use stylegan_wgpu::gpu::Gpu;
use stylegan_wgpu::nn::config::Config;
use stylegan_wgpu::rng::lcg_fill;
use stylegan_wgpu::train::{TrainConfig, Trainer};

use super::{time_op_blocking as time_op, BenchOptions, BenchResult, Footprint, Sink};

const SUITE: &str = "train";

/// One training benchmark: resolution, batch and whether the widths are the official ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrainCase {
    pub resolution: usize,
    pub batch: usize,
    pub tiny: bool,
}

/// The cases `opts` selects (see the module docs).
pub fn train_cases(opts: &BenchOptions) -> Vec<TrainCase> {
    if opts.quick || opts.tiny {
        vec![TrainCase {
            resolution: 32,
            batch: 4,
            tiny: true,
        }]
    } else {
        [64, 256]
            .map(|resolution| TrainCase {
                resolution,
                batch: 16,
                tiny: false,
            })
            .to_vec()
    }
}

fn one_case(gpu: &Gpu, opts: &BenchOptions, case: &TrainCase, shape: &str) -> Result<BenchResult> {
    let mut cfg = Config::preset(if case.tiny { "tiny" } else { "ffhq" })?;
    cfg.resolution = case.resolution;
    cfg.validate()?;
    let tc = TrainConfig {
        batch: case.batch,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(gpu, &cfg, &tc)?;
    let n = case.batch * cfg.num_channels * case.resolution * case.resolution;
    let reals = lcg_fill(n, 3);
    let t = time_op(gpu, opts, &mut || trainer.step(&reals).map(drop))?;
    let f = Footprint::measure(gpu, &mut || trainer.step(&reals).map(drop))?;
    let mut r = BenchResult::new(SUITE, "train step", shape.to_string(), &t);
    f.report_in(&mut r, case.batch);
    r.batch = Some(case.batch);
    r.images_per_s = Some(case.batch as f64 / t.median);
    r.ms_per_image = Some(t.median * 1e3 / case.batch as f64);
    Ok(r)
}

pub(crate) fn train_into(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink) -> Result<()> {
    for case in train_cases(opts) {
        let shape = super::network_shape(case.resolution, case.batch, case.tiny);
        let res = one_case(gpu, opts, &case, &shape);
        gpu.trim_pool()?;
        sink.record(SUITE, "train step", shape, res)?;
    }
    Ok(())
}
