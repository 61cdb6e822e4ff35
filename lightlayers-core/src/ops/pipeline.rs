//! A chain of spatial layers run as one operation.
//!
//! Layer by layer, every intermediate result would be a dfdx tensor with a tape node of its
//! own, and no kernel could fuse a ReLU or a batch norm into its neighbour. A [`Stage`] list
//! describes the chain instead (convolutions, batch norms, ReLUs, pools and
//! residual branches, with the layers' own parameter tensors); [`Backend::try_pipeline`] runs
//! it. On `Cpu` that is one tape operation over recycled buffers with fused ReLUs; elsewhere
//! the default walks the stages with the per-op implementations, which also serves as the
//! reference in tests.

use dfdx::prelude::*;

use super::{Backend, Conv2dSpec};
use crate::Element;

/// A batch of feature maps with runtime dims.
pub type DynMap<E, D, T = NoneTape> = Tensor<(usize, usize, usize, usize), E, D, T>;
/// A runtime-sized vector (per-channel parameters).
pub type DynVec<E, D> = Tensor<(usize,), E, D>;

/// Views a contiguous tensor with runtime dims. The view keeps the tensor's id, so gradients
/// computed for it land on the original (a layer's parameter).
pub fn dyn_view<S: Shape, E: Element, D: Backend<E>, Dst: Shape>(
    t: &Tensor<S, E, D>,
    dims: Dst,
) -> Tensor<Dst, E, D> {
    t.clone().reshape_like(&dims)
}

/// A convolution stage: kernel, optional bias, settings (the ReLU flag included).
#[derive(Debug, Clone)]
pub struct ConvStage<E: Dtype, D: Storage<E>> {
    /// F×(C/groups)×KH×KW kernel.
    pub weight: Tensor<(usize, usize, usize, usize), E, D>,
    /// Per-filter bias.
    pub bias: Option<DynVec<E, D>>,
    /// Stride, padding, groups, fused ReLU.
    pub spec: Conv2dSpec,
}

/// Batch-norm parameters and state, seen with runtime dims.
#[derive(Debug, Clone)]
pub struct BnParams<E: Dtype, D: Storage<E>> {
    /// γ.
    pub scale: DynVec<E, D>,
    /// β.
    pub bias: DynVec<E, D>,
    /// Moving mean.
    pub running_mean: DynVec<E, D>,
    /// Moving variance.
    pub running_var: DynVec<E, D>,
    /// Added to the variance.
    pub epsilon: f64,
    /// Weight of the old moving statistics (Keras's `momentum`).
    pub momentum: f64,
}

/// What a pipeline needs from a batch-norm layer (implemented by
/// [`crate::layers::BatchNorm`]).
pub trait BatchNormState<E: Element, D: Backend<E>> {
    /// The parameters and moving statistics.
    fn params(&self) -> BnParams<E, D>;
    /// Stores new moving statistics (training mode).
    fn set_running(&mut self, mean: DynVec<E, D>, var: DynVec<E, D>) -> Result<(), D::Err>;
}

/// How a pipeline uses a batch norm.
pub enum BnMode<'a, E: Element, D: Backend<E>> {
    /// Batch statistics, moving statistics updated; the moving variance takes the unbiased
    /// batch variance when the flag is set (TensorFlow does for feature maps).
    Train(&'a mut dyn BatchNormState<E, D>, bool),
    /// Moving statistics.
    Infer(&'a dyn BatchNormState<E, D>),
}

/// One step of a pipeline.
pub enum Stage<'a, E: Element, D: Backend<E>> {
    /// A convolution.
    Conv(ConvStage<E, D>),
    /// A batch norm.
    BatchNorm(BnMode<'a, E, D>),
    /// ReLU.
    Relu,
    /// P×P max pooling with stride P.
    MaxPool(usize),
    /// `main(x) + shortcut(x)`; an empty shortcut is the identity.
    Residual {
        /// Main branch.
        main: Vec<Stage<'a, E, D>>,
        /// Shortcut branch.
        shortcut: Vec<Stage<'a, E, D>>,
    },
}

/// Whether a pipeline computes the gradient with respect to its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputGradient {
    /// Computed: the input is an activation, or a tensor whose gradient its caller reads.
    Computed,
    /// Not computed where the executor can skip it (the fused CPU one does; the gradient is
    /// left as it was, zero): the input is a batch of data. The first convolutions' input
    /// gradients are work that a training step throws away.
    Skipped,
}

/// Runs `stages` with the per-op implementations (what devices without a fused executor do).
pub fn run_unfused<E: Element, D: Backend<E>, T: Tape<E, D>>(
    mut x: DynMap<E, D, T>,
    stages: &mut [Stage<'_, E, D>],
) -> Result<DynMap<E, D, T>, D::Err> {
    for stage in stages.iter_mut() {
        x = match stage {
            Stage::Conv(conv) => D::try_conv2d(x, &conv.weight, conv.bias.as_ref(), conv.spec)?,
            Stage::BatchNorm(mode) => super::composed::batch_norm(x, mode, false)?,
            Stage::Relu => x.try_relu()?,
            Stage::MaxPool(size) => D::try_max_pool2d(x, *size)?,
            Stage::Residual { main, shortcut } => {
                let m = run_unfused(x.with_empty_tape(), main)?;
                let s = run_unfused(x, shortcut)?;
                m.try_add(s)?
            }
        };
    }
    Ok(x)
}
