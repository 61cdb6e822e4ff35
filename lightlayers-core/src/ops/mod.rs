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
#[cfg(feature = "reference-ops")]
pub mod reference;

pub use geometry::{conv_output_side, pool_output_side, Conv2dSpec, ConvGeometry, Padding};

use dfdx::prelude::*;

use self::pipeline::{DynMap, DynVec, InputGradient, Stage};
use crate::Element;

/// A dfdx device the layers can run on: dfdx's own ops plus this crate's convolution and
/// pooling.
///
/// The ops take and return runtime-shaped tensors ([`DynMap`]): one implementation per device
/// and element type, whatever the layer's compile-time dims; [`conv2d`] and [`max_pool2d`]
/// are the typed entry points.
///
/// Implemented for `Cpu` (hand-written kernels) and, with the `cuda` feature, `Cuda` (dfdx
/// compositions).
pub trait Backend<E: Element>: Device<E> + DeviceBuildExt + Synchronize {
    /// `act(w ⋆ x + b)`: see [`conv2d`].
    fn try_conv2d<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        weight: &DynMap<E, Self>,
        bias: Option<&DynVec<E, Self>>,
        spec: Conv2dSpec,
    ) -> Result<DynMap<E, Self, T>, Self::Err>;

    /// Max pooling: see [`max_pool2d`].
    fn try_max_pool2d<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        size: usize,
    ) -> Result<DynMap<E, Self, T>, Self::Err>;

    /// Runs a chain of spatial stages as one operation: see [`pipeline`]. The default walks
    /// the stages with the per-op implementations (and computes the input's gradient even
    /// when `input_gradient` says it may be skipped).
    fn try_pipeline<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        stages: &mut [Stage<'_, E, Self>],
        input_gradient: InputGradient,
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        let _ = input_gradient;
        pipeline::run_unfused(x, stages)
    }
}

impl<E: Element> Backend<E> for Cpu
where
    Cpu: Device<E>,
{
    fn try_conv2d<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        weight: &DynMap<E, Self>,
        bias: Option<&DynVec<E, Self>>,
        spec: Conv2dSpec,
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        #[cfg(feature = "reference-ops")]
        if reference::active() {
            return composed::conv2d(x, weight, bias, spec);
        }
        cpu::conv2d(x, weight, bias, spec)
    }

    fn try_max_pool2d<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        size: usize,
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        #[cfg(feature = "reference-ops")]
        if reference::active() {
            return composed::max_pool2d(x, size);
        }
        cpu::max_pool2d(x, size)
    }

    fn try_pipeline<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        stages: &mut [Stage<'_, E, Self>],
        input_gradient: InputGradient,
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        #[cfg(feature = "reference-ops")]
        if reference::active() {
            return pipeline::run_unfused(x, stages);
        }
        cpu::fused::pipeline(x, stages, input_gradient)
    }
}

#[cfg(feature = "cuda")]
impl<E: Element> Backend<E> for Cuda
where
    Cuda: Device<E>,
{
    fn try_conv2d<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        weight: &DynMap<E, Self>,
        bias: Option<&DynVec<E, Self>>,
        spec: Conv2dSpec,
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
        composed::conv2d(x, weight, bias, spec)
    }

    fn try_max_pool2d<T: Tape<E, Self>>(
        x: DynMap<E, Self, T>,
        size: usize,
    ) -> Result<DynMap<E, Self, T>, Self::Err> {
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
    let (batch, out_channels) = (x.shape().0, weight.shape().0);
    let x = dyn_view_traced(x)?;
    let [co, cg, kh, kw] = weight.shape().concrete();
    let weight = pipeline::dyn_view(weight, (co, cg, kh, kw));
    let bias = bias.map(|b| pipeline::dyn_view(b, (b.shape().0.size(),)));
    let y = D::try_conv2d(x, &weight, bias.as_ref(), spec)?;
    let [_, _, oh, ow] = y.shape().concrete();
    let dims = (
        batch,
        out_channels,
        Ho::from_size(oh).expect("conv2d: output height does not match the requested type"),
        Wo::from_size(ow).expect("conv2d: output width does not match the requested type"),
    );
    y.try_reshape_like(&dims)
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
    let (batch, channels) = (x.shape().0, x.shape().1);
    let y = D::try_max_pool2d(dyn_view_traced(x)?, size)?;
    let [_, _, oh, ow] = y.shape().concrete();
    let dims = (
        batch,
        channels,
        Ho::from_size(oh).expect("max_pool2d: output height does not match the requested type"),
        Wo::from_size(ow).expect("max_pool2d: output width does not match the requested type"),
    );
    y.try_reshape_like(&dims)
}

/// `x` with runtime dims, its tape kept (a view: no copy, the same tensor id).
fn dyn_view_traced<S: Shape<Concrete = [usize; 4]>, E: Element, D: Backend<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
) -> Result<DynMap<E, D, T>, D::Err> {
    let [b, c, h, w] = x.shape().concrete();
    x.try_reshape_like(&(b, c, h, w))
}
