//! The `inception` suite: images/s of the FID feature network (`eval::inception`), as
//! `stylegan fid` and `stylegan metrics` run it: 8-bit RGB images uploaded, resized
//! bilinearly to 299², scaled to [-1, 1], the network up to its 2048-d pool features. Random
//! weights (`inception::random_tensors`): the cost does not depend on them.
//!
//! Full: 256² images at batch 1 and 16. `--quick`: batch 2. `tiny`: one image at the smallest
//! input the network takes (75², no resize), to check that the case runs.

use stylegan_wgpu::error::Result;
use stylegan_wgpu::eval::inception::{random_tensors, Inception, INPUT_SIZE};
use stylegan_wgpu::gpu::{Gpu, Tensor};
use stylegan_wgpu::rng::lcg_fill;
use stylegan_wgpu::tape::{no_grad, Var};

use super::{time_op_blocking as time_op, BenchOptions, BenchResult, Sink};

const SUITE: &str = "inception";
const NAME: &str = "inception features";

/// One case: images per batch and the side of the 8-bit images (`None`: a network input of
/// 75², no preprocessing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InceptionCase {
    pub batch: usize,
    pub image_side: Option<usize>,
}

/// The cases `opts` selects (see the module docs).
pub fn inception_cases(opts: &BenchOptions) -> Vec<InceptionCase> {
    let case = |batch, image_side| InceptionCase { batch, image_side };
    if opts.tiny {
        vec![case(1, None)]
    } else if opts.quick {
        vec![case(2, Some(256))]
    } else {
        vec![case(1, Some(256)), case(16, Some(256))]
    }
}

fn shape(case: &InceptionCase) -> String {
    match case.image_side {
        Some(s) => format!(
            "{s}x{s} RGB -> {INPUT_SIZE}x{INPUT_SIZE} batch {}",
            case.batch
        ),
        None => format!("75x75 input batch {}", case.batch),
    }
}

fn one_case(
    gpu: &Gpu,
    opts: &BenchOptions,
    net: &Inception,
    case: &InceptionCase,
) -> Result<BenchResult> {
    let n = case.batch;
    let t = no_grad(|| match case.image_side {
        Some(side) => {
            let images: Vec<u8> = lcg_fill(n * 3 * side * side, 11)
                .iter()
                .map(|v| (v.abs() * 255.0).min(255.0) as u8)
                .collect();
            time_op(gpu, opts, &mut || {
                drop(net.forward(&net.preprocess(&images, n, 3, side, side)?)?);
                Ok(())
            })
        }
        None => {
            let x = lcg_fill(n * 3 * 75 * 75, 11);
            let x = Var::constant(Tensor::from_slice(gpu, &[n, 3, 75, 75], &x)?);
            time_op(gpu, opts, &mut || net.forward(&x).map(drop))
        }
    })?;
    let mut r = BenchResult::new(SUITE, NAME, shape(case), &t);
    r.batch = Some(n);
    r.images_per_s = Some(n as f64 / t.median);
    r.ms_per_image = Some(t.median * 1e3 / n as f64);
    Ok(r)
}

pub(crate) fn inception_into(gpu: &Gpu, opts: &BenchOptions, sink: &mut Sink) -> Result<()> {
    let net = Inception::from_tensors(gpu, &random_tensors(0), "random weights")?;
    for case in inception_cases(opts) {
        let res = one_case(gpu, opts, &net, &case);
        gpu.trim_pool()?;
        sink.record(SUITE, NAME, shape(&case), res)?;
    }
    Ok(())
}
