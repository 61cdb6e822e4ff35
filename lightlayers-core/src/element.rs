//! The floating-point types the layers run on.

use dfdx::shapes::Dtype;
use num_traits::{Float, FromPrimitive};
use rand_distr::uniform::SampleUniform;

use crate::ops::cpu::kernels::CpuKernels;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A float the layers and kernels work with: `f32` for training, `f64` for gradient checks.
///
/// Sealed because the CPU kernels hand these types to the `gemm` crate, which supports exactly
/// these two.
pub trait Element:
    sealed::Sealed
    + Dtype
    + Float
    + FromPrimitive
    + SampleUniform
    + Send
    + Sync
    + std::iter::Sum
    + CpuKernels
{
    /// Converts from `f64` (exact for `f64`, rounded for `f32`).
    fn of(v: f64) -> Self;
    /// Widens to `f64` for reporting.
    fn to_f64_lossless(self) -> f64;
}

impl Element for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn to_f64_lossless(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn to_f64_lossless(self) -> f64 {
        self
    }
}
