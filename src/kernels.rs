//! Every compute kernel of the crate in one list: what the shader tests validate, translate to
//! SPIR-V / MSL / HLSL and check the parameter blocks of (`tests/shaders.rs`). Kernels rendered
//! per shape or configuration appear for representative ones. A new kernel goes here too.

use crate::error::Result;
use crate::gpu::Kernel;
use crate::ops;

/// Every kernel (see the module docs).
pub fn all() -> Result<Vec<Kernel>> {
    let mut out = vec![
        ops::adain::ADAIN,
        ops::adain::ADAIN4,
        ops::concat::COPY_CHANNELS,
        ops::dense::MATMUL,
        ops::elementwise::UNARY,
        ops::elementwise::BINARY,
        ops::elementwise::BINARY4,
        ops::epilogue::EPILOGUE,
        ops::epilogue::EPILOGUE4,
        ops::mbstd::MBSTD_STATS,
        ops::mbstd::MBSTD_WRITE,
        ops::pixel_norm::PIXEL_NORM,
        ops::pool::MAX_POOL,
        ops::pool::MAX_POOL_SCATTER,
        ops::pool::MAX_POOL_GATHER,
        ops::pool::AVG_POOL,
        ops::pool::AVG_POOL_ADJOINT,
        ops::reduce::BROADCAST,
        ops::reduce::BROADCAST4,
        ops::reduce::REDUCE,
        ops::reduce::ROWS,
        ops::reduce::ROWS_SEQ,
        ops::resample::UPSAMPLE2,
        ops::resample::DOWNSAMPLE2,
        ops::resample::DEPTHWISE3X3,
        ops::resample::DEPTHWISE3X3_4,
        ops::resize::RESIZE_AXIS,
        ops::roll::ROLL,
        ops::softmax::LOG_SOFTMAX,
        crate::train::optim::ADAM,
        crate::train::optim::LERP_TO,
    ];
    out.extend(ops::conv::kernels()?);
    Ok(out)
}
