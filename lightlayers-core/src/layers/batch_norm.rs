//! `bn`: batch normalisation over channels with Keras's defaults.

use dfdx::prelude::*;

use super::param_count::ParamCount;
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

impl<const C: usize, E: Element, D: Device<E>> BatchNorm<C, E, D> {
    /// Training forward over any shape whose channel axis is kept by `Ax`'s reduction.
    fn train_fwd<S, Ax, T>(
        &mut self,
        x: Tensor<S, E, D, T>,
        unbiased: bool,
    ) -> Result<Tensor<S, E, D, T>, D::Err>
    where
        S: Shape + HasAxes<Ax> + ReduceShapeTo<Rank1<C>, Ax>,
        Ax: Axes,
        T: Tape<E, D>,
    {
        let shape = *x.shape();
        let n = <S as HasAxes<Ax>>::size(&shape) as f64;
        let mean = x.retaped::<T>().try_mean::<Rank1<C>, Ax>()?;
        let centered = x.try_sub(mean.retaped::<T>().try_broadcast_like(&shape)?)?;
        let var = centered
            .retaped::<T>()
            .try_square()?
            .try_mean::<Rank1<C>, Ax>()?;

        let keep = self.momentum;
        self.running_mean.try_axpy(keep, &mean, 1.0 - keep)?;
        let correction = if unbiased && n > 1.0 {
            n / (n - 1.0)
        } else {
            1.0
        };
        self.running_var
            .try_axpy(keep, &var, (1.0 - keep) * correction)?;

        let std = var.try_add(E::of(self.epsilon))?.try_sqrt()?;
        let scale = self
            .scale
            .retaped::<T>()
            .try_div(std)?
            .try_broadcast_like(&shape)?;
        let bias = self.bias.retaped::<T>().try_broadcast_like(&shape)?;
        centered.try_mul(scale)?.try_add(bias)
    }

    /// Inference forward with the moving statistics.
    fn infer_fwd<S, Ax>(&self, x: Tensor<S, E, D>) -> Result<Tensor<S, E, D>, D::Err>
    where
        S: Shape,
        Ax: Axes,
        Rank1<C>: BroadcastShapeTo<S, Ax>,
    {
        let shape = *x.shape();
        let std = self
            .running_var
            .clone()
            .try_add(E::of(self.epsilon))?
            .try_sqrt()?;
        let scale = self
            .scale
            .clone()
            .try_div(std)?
            .try_broadcast_like(&shape)?;
        let mean = self.running_mean.clone().try_broadcast_like(&shape)?;
        let bias = self.bias.clone().try_broadcast_like(&shape)?;
        x.try_sub(mean)?.try_mul(scale)?.try_add(bias)
    }
}

impl<const C: usize, E: Element, D: Device<E>, B: Dim, H: Dim, W: Dim>
    Module<Tensor<(B, Const<C>, H, W), E, D>> for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>, H, W), E, D>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<C>, H, W), E, D>) -> Result<Self::Output, D::Err> {
        self.infer_fwd::<_, Axes3<0, 2, 3>>(x)
    }
}

impl<const C: usize, E: Element, D: Device<E>, B: Dim, H: Dim, W: Dim>
    ModuleMut<Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>> for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>;
    type Error = D::Err;

    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<C>, H, W), E, D, OwnedTape<E, D>>,
    ) -> Result<Self::Output, D::Err> {
        self.train_fwd::<_, Axes3<0, 2, 3>, _>(x, true)
    }
}

impl<const C: usize, E: Element, D: Device<E>, B: Dim> Module<Tensor<(B, Const<C>), E, D>>
    for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>), E, D>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<C>), E, D>) -> Result<Self::Output, D::Err> {
        self.infer_fwd::<_, Axis<0>>(x)
    }
}

impl<const C: usize, E: Element, D: Device<E>, B: Dim>
    ModuleMut<Tensor<(B, Const<C>), E, D, OwnedTape<E, D>>> for BatchNorm<C, E, D>
{
    type Output = Tensor<(B, Const<C>), E, D, OwnedTape<E, D>>;
    type Error = D::Err;

    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<C>), E, D, OwnedTape<E, D>>,
    ) -> Result<Self::Output, D::Err> {
        self.train_fwd::<_, Axis<0>, _>(x, false)
    }
}
