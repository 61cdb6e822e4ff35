//! `bn`: batch normalisation over channels with Keras's defaults.

use dfdx::prelude::*;

use super::mac_count::MacCount;
use super::param_count::ParamCount;
use crate::ops::pipeline::{
    dyn_view, BatchNormState, BnMode, BnParams, DynVec, InputGradient, Stage,
};
use crate::ops::Backend;
use crate::Element;

/// Keras's default `epsilon`.
pub const KERAS_BN_EPSILON: f64 = 1e-3;
/// Keras's default `momentum`: the weight of the old moving statistics.
pub const KERAS_BN_MOMENTUM: f64 = 0.99;

/// Zero-sized builders, as dfdx's `nn::builders`.
pub mod builder {
    /// Builds a [`super::BatchNorm`] over `C` channels.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct BatchNorm<const C: usize>;
}

impl<const C: usize> ParamCount for builder::BatchNorm<C> {
    const TRAINABLE: usize = 2 * C;
    const NON_TRAINABLE: usize = 2 * C;
}

/// Not counted, by the convention of [`MacCount`].
impl<const H: usize, const W: usize, const C: usize> MacCount<H, W> for builder::BatchNorm<C> {
    const MACS: usize = 0;
}

impl<const C: usize, E: Element, D: Device<E>> BuildOnDevice<D, E> for builder::BatchNorm<C> {
    type Built = BatchNorm<C, E, D>;
}

/// Batch normalisation of feature maps `(B, C, H, W)` or vectors `(B, C)`.
///
/// Unlike dfdx's `BatchNorm2D` (epsilon 1e-5, batch weight 0.1), this follows Keras, so models
/// train as the paper's did: epsilon 1e-3 and moving statistics updated as
/// `0.99·old + 0.01·batch`. As in TensorFlow, the moving variance of feature maps takes the
/// unbiased batch variance (n/(n−1)), that of vectors the biased one.
///
/// Training ([`ModuleMut`], taped input) normalises with the batch statistics and updates the
/// moving ones; inference ([`Module`], untaped input) uses the moving statistics.
#[derive(Debug, Clone)]
pub struct BatchNorm<const C: usize, E: Dtype, D: Storage<E>> {
    /// γ, initialised to 1.
    pub scale: Tensor<Rank1<C>, E, D>,
    /// β, initialised to 0.
    pub bias: Tensor<Rank1<C>, E, D>,
    /// Moving mean (not trained).
    pub running_mean: Tensor<Rank1<C>, E, D>,
    /// Moving variance (not trained).
    pub running_var: Tensor<Rank1<C>, E, D>,
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// Weight of the old moving statistics in each update (Keras's meaning of `momentum`).
    pub momentum: f64,
}

impl<const C: usize, E: Element, D: Device<E>> TensorCollection<E, D> for BatchNorm<C, E, D> {
    type To<E2: Dtype, D2: Device<E2>> = BatchNorm<C, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "scale",
                    |s| &s.scale,
                    |s| &mut s.scale,
                    TensorOptions::reset_to_ones(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
                Self::tensor(
                    "running_mean",
                    |s| &s.running_mean,
                    |s| &mut s.running_mean,
                    TensorOptions::detached(|t| t.try_fill_with_zeros()),
                ),
                Self::tensor(
                    "running_var",
                    |s| &s.running_var,
                    |s| &mut s.running_var,
                    TensorOptions::detached(|t| t.try_fill_with_ones()),
                ),
                Self::scalar(
                    "epsilon",
                    |s| &s.epsilon,
                    |s| &mut s.epsilon,
                    ScalarOptions::from_default(KERAS_BN_EPSILON),
                ),
                Self::scalar(
                    "momentum",
                    |s| &s.momentum,
                    |s| &mut s.momentum,
                    ScalarOptions::from_default(KERAS_BN_MOMENTUM),
                ),
            ),
            |(scale, bias, running_mean, running_var, epsilon, momentum)| BatchNorm {
                scale,
                bias,
                running_mean,
                running_var,
                epsilon,
                momentum,
            },
        )
    }
}

impl<const C: usize, E: Element, D: Backend<E>> BatchNormState<E, D> for BatchNorm<C, E, D> {
    fn params(&self) -> BnParams<E, D> {
        BnParams {
            scale: dyn_view(&self.scale, (C,)),
            bias: dyn_view(&self.bias, (C,)),
            running_mean: dyn_view(&self.running_mean, (C,)),
            running_var: dyn_view(&self.running_var, (C,)),
            epsilon: self.epsilon,
            momentum: self.momentum,
        }
    }

    fn set_running(&mut self, mean: DynVec<E, D>, var: DynVec<E, D>) -> Result<(), D::Err> {
        self.running_mean = mean.try_reshape_like(&(Const::<C>,))?;
        self.running_var = var.try_reshape_like(&(Const::<C>,))?;
        Ok(())
    }
}

impl<const C: usize, E: Element, D: Backend<E>> BatchNorm<C, E, D> {
    /// This layer as a training-mode pipeline stage (batch statistics; moving ones updated).
    pub fn train_stage(&mut self) -> Stage<'_, E, D> {
        Stage::BatchNorm(BnMode::Train(self, true))
    }

    /// This layer as an inference-mode pipeline stage (moving statistics).
    pub fn infer_stage(&self) -> Stage<'_, E, D> {
        Stage::BatchNorm(BnMode::Infer(self))
    }

    /// Runs one batch-norm stage on a batch of any NCHW-like shape.
    fn run<S: Shape, T: Tape<E, D>>(
        x: Tensor<S, E, D, T>,
        dims: (usize, usize, usize, usize),
        stage: Stage<'_, E, D>,
    ) -> Result<Tensor<S, E, D, T>, D::Err> {
        let shape = *x.shape();
        let y = D::try_pipeline(
            x.try_reshape_like(&dims)?,
            &mut [stage],
            InputGradient::Computed,
        )?;
        y.try_reshape_like(&shape)
    }
}

impl<const C: usize, E: Element, D: Backend<E>, B: Dim, H: Dim, W: Dim>
    Module<Tensor<(B, Const<C>, H, W), E, D>> for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>, H, W), E, D>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<C>, H, W), E, D>) -> Result<Self::Output, D::Err> {
        let [b, c, h, w] = x.shape().concrete();
        Self::run(x, (b, c, h, w), self.infer_stage())
    }
}

impl<const C: usize, E: Element, D: Backend<E>, B: Dim, H: Dim, W: Dim>
    ModuleMut<Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>> for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>;
    type Error = D::Err;

    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>,
    ) -> Result<Self::Output, D::Err> {
        let [b, c, h, w] = x.shape().concrete();
        Self::run(x, (b, c, h, w), self.train_stage())
    }
}

impl<const C: usize, E: Element, D: Backend<E>, B: Dim> Module<Tensor<(B, Const<C>), E, D>>
    for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>), E, D>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<C>), E, D>) -> Result<Self::Output, D::Err> {
        let [b, c] = x.shape().concrete();
        Self::run(x, (b, c, 1, 1), self.infer_stage())
    }
}

impl<const C: usize, E: Element, D: Backend<E>, B: Dim>
    ModuleMut<Tensor<(B, Const<C>), E, D, OwnedTape<E, D>>> for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>), E, D, OwnedTape<E, D>>;
    type Error = D::Err;

    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<C>), E, D, OwnedTape<E, D>>,
    ) -> Result<Self::Output, D::Err> {
        let [b, c] = x.shape().concrete();
        // TensorFlow's non-fused batch norm (vectors) feeds the biased variance to the moving one
        Self::run(
            x,
            (b, c, 1, 1),
            Stage::BatchNorm(BnMode::Train(self, false)),
        )
    }
}
