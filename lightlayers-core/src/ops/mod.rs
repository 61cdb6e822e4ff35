//! Convolution and pooling: the ops dfdx 0.13 only offers behind its (broken) `nightly`
//! feature, with their backward passes.
//!
//! Each op exists twice: fast hand-written kernels for `Cpu` ([`cpu`]) and a composition of
//! dfdx's differentiable ops for every other device ([`composed`]). [`Backend`] picks one per
//! device; the free functions here are what layers call.

pub mod composed;
pub mod cpu;
mod geometry;
pub mod pipeline;

pub use geometry::{conv_output_side, pool_output_side, Conv2dSpec, ConvGeometry, Padding};

use dfdx::prelude::*;

use self::pipeline::{DynMap, Stage};
use crate::Element;

/// A dfdx device the layers can run on: dfdx's own ops plus this crate's convolution and
/// pooling.
///
/// Implemented for `Cpu` (hand-written kernels) and, with the `cuda` feature, `Cuda` (dfdx
/// compositions).
pub trait Backend<E: Element>: Device<E> + DeviceBuildExt + Synchronize {
    /// `act(w ⋆ x + b)`: see [`conv2d`].
    #[allow(clippy::type_complexity)]
    fn try_conv2d<B, Ci, H, W, Co, Cg, Kh, Kw, Ho, Wo, T>(
        x: Tensor<(B, Ci, H, W), E, Self, T>,
        weight: &Tensor<(Co, Cg, Kh, Kw), E, Self>,
        bias: Option<&Tensor<(Co,), E, Self>>,
        spec: Conv2dSpec,
    ) -> Result<Tensor<(B, Co, Ho, Wo), E, Self, T>, Self::Err>
    where
        B: Dim,
        Ci: Dim,
        H: Dim,
        W: Dim,
        Co: Dim,
        Cg: Dim,
        Kh: Dim,
        Kw: Dim,
        Ho: Dim,
        Wo: Dim,
        T: Tape<E, Self>;

    /// Max pooling: see [`max_pool2d`].
    fn try_max_pool2d<B, C, H, W, Ho, Wo, T>(
        x: Tensor<(B, C, H, W), E, Self, T>,
        size: usize,
    ) -> Result<Tensor<(B, C, Ho, Wo), E, Self, T>, Self::Err>
    where
        B: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        Ho: Dim,
        Wo: Dim,
        T: Tape<E, Self>;

    /// Runs a chain of spatial stages as one operation: see [`pipeline`]. The default walks
    /// the stages with the per-op implementations.
    fn try_pipeline<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        stages: &mut [Stage<'_, E, Self>],
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        pipeline::run_unfused(x, stages)
    }
}

impl<E: Element> Backend<E> for Cpu
where
    Cpu: Device<E>,
{
    fn try_conv2d<B, Ci, H, W, Co, Cg, Kh, Kw, Ho, Wo, T>(
        x: Tensor<(B, Ci, H, W), E, Self, T>,
        weight: &Tensor<(Co, Cg, Kh, Kw), E, Self>,
        bias: Option<&Tensor<(Co,), E, Self>>,
        spec: Conv2dSpec,
    ) -> Result<Tensor<(B, Co, Ho, Wo), E, Self, T>, Self::Err>
    where
        B: Dim,
        Ci: Dim,
        H: Dim,
        W: Dim,
        Co: Dim,
        Cg: Dim,
        Kh: Dim,
        Kw: Dim,
        Ho: Dim,
        Wo: Dim,
        T: Tape<E, Self>,
    {
        if cpu::pipeline::reference_ops() {
            composed::conv2d(x, weight, bias, spec)
        } else {
            cpu::conv2d(x, weight, bias, spec)
        }
    }

    fn try_max_pool2d<B, C, H, W, Ho, Wo, T>(
        x: Tensor<(B, C, H, W), E, Self, T>,
        size: usize,
    ) -> Result<Tensor<(B, C, Ho, Wo), E, Self, T>, Self::Err>
    where
        B: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        Ho: Dim,
        Wo: Dim,
        T: Tape<E, Self>,
    {
        if cpu::pipeline::reference_ops() {
            composed::max_pool2d(x, size)
        } else {
            cpu::max_pool2d(x, size)
        }
    }

    fn try_pipeline<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        stages: &mut [Stage<'_, E, Self>],
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        if cpu::pipeline::reference_ops() {
            pipeline::run_unfused(x, stages)
        } else {
            cpu::pipeline::pipeline(x, stages)
        }
    }
}

#[cfg(feature = "cuda")]
impl<E: Element> Backend<E> for Cuda
where
    Cuda: Device<E>,
{
    fn try_conv2d<B, Ci, H, W, Co, Cg, Kh, Kw, Ho, Wo, T>(
        x: Tensor<(B, Ci, H, W), E, Self, T>,
        weight: &Tensor<(Co, Cg, Kh, Kw), E, Self>,
        bias: Option<&Tensor<(Co,), E, Self>>,
        spec: Conv2dSpec,
    ) -> Result<Tensor<(B, Co, Ho, Wo), E, Self, T>, Self::Err>
    where
        B: Dim,
        Ci: Dim,
        H: Dim,
        W: Dim,
        Co: Dim,
        Cg: Dim,
        Kh: Dim,
        Kw: Dim,
        Ho: Dim,
        Wo: Dim,
        T: Tape<E, Self>,
    {
        composed::conv2d(x, weight, bias, spec)
    }

    fn try_max_pool2d<B, C, H, W, Ho, Wo, T>(
        x: Tensor<(B, C, H, W), E, Self, T>,
        size: usize,
    ) -> Result<Tensor<(B, C, Ho, Wo), E, Self, T>, Self::Err>
    where
        B: Dim,
        C: Dim,
        H: Dim,
        W: Dim,
        Ho: Dim,
        Wo: Dim,
        T: Tape<E, Self>,
    {
        composed::max_pool2d(x, size)
    }
}

/// 2-D convolution of an NCHW batch with an F×(C/groups)×KH×KW kernel, plus an optional bias
/// per output channel and an optional fused ReLU.
///
/// The output's spatial dims are whatever type the caller asks for (`Const<N>` or `usize`);
/// they must equal the sizes [`conv_output_side`] gives, or this panics.
#[allow(clippy::type_complexity)]
pub fn conv2d<B, Ci, H, W, Co, Cg, Kh, Kw, Ho, Wo, E, D, T>(
    x: Tensor<(B, Ci, H, W), E, D, T>,
    weight: &Tensor<(Co, Cg, Kh, Kw), E, D>,
    bias: Option<&Tensor<(Co,), E, D>>,
    spec: Conv2dSpec,
) -> Result<Tensor<(B, Co, Ho, Wo), E, D, T>, D::Err>
where
    B: Dim,
    Ci: Dim,
    H: Dim,
    W: Dim,
    Co: Dim,
    Cg: Dim,
    Kh: Dim,
    Kw: Dim,
    Ho: Dim,
    Wo: Dim,
    E: Element,
    D: Backend<E>,
    T: Tape<E, D>,
{
    D::try_conv2d(x, weight, bias, spec)
}

/// `size`×`size` max pooling with stride `size`, discarding rows and columns that do not fill a
/// window (Keras's `MaxPool2D(size)`).
pub fn max_pool2d<B, C, H, W, Ho, Wo, E, D, T>(
    x: Tensor<(B, C, H, W), E, D, T>,
    size: usize,
) -> Result<Tensor<(B, C, Ho, Wo), E, D, T>, D::Err>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    Ho: Dim,
    Wo: Dim,
    E: Element,
    D: Backend<E>,
    T: Tape<E, D>,
{
    D::try_max_pool2d(x, size)
}
