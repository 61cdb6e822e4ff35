//! The same ops as `ops::cpu`, built only from dfdx's differentiable tensor ops.
//!
//! They run on any dfdx device, which makes them the implementation on `Cuda` (whose internals
//! dfdx keeps private) and the reference the hand-written CPU kernels are tested against.

mod batch_norm;
mod conv2d;
mod max_pool2d;

pub use batch_norm::batch_norm;
pub use conv2d::conv2d;
pub use max_pool2d::max_pool2d;
