//! Fast 3x3 convolution paths (in progress).

use crate::error::Result;
use crate::gpu::Tensor;

/// Fast forward conv3x3 (stride 1, same padding, HWIO weights, `alpha` runtime scale) where the
/// adapter and shape allow it; `Ok(None)` means "use the generic kernel".
pub(crate) fn conv3x3_fast_t(_x: &Tensor, _w: &Tensor, _alpha: f32) -> Result<Option<Tensor>> {
    Ok(None)
}
