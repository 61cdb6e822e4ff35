//! `light_dense(N, k = R)`: the paper's LightDense.

use dfdx::prelude::*;

use super::init;
use super::mac_count::MacCount;
use super::param_count::ParamCount;
use crate::Element;

/// Zero-sized builders, as dfdx's `nn::builders`.
pub mod builder {
    /// Builds a [`super::LightDense`] from `I` features to `O` through rank `R`.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct LightDense<const I: usize, const O: usize, const R: usize = 8>;
}

impl<const I: usize, const O: usize, const R: usize> ParamCount for builder::LightDense<I, O, R> {
    const TRAINABLE: usize = I * R + R * O + O;
}

/// Both factors: I → R, then R → O.
impl<const I: usize, const O: usize, const R: usize> MacCount<1, 1>
    for builder::LightDense<I, O, R>
{
    const MACS: usize = I * R + R * O;
}

impl<const I: usize, const O: usize, const R: usize, E: Element, D: Device<E>> BuildOnDevice<D, E>
    for builder::LightDense<I, O, R>
{
    type Built = LightDense<I, O, R, E, D>;
}

/// `y = x·(s·W1)·(s·W2) + b` with s = √(2/O): a rank-`R` factorised dense layer. Both factors
/// are Glorot-uniform, the bias zero; the scale s keeps the product's variance near Glorot's.
#[derive(Debug, Clone)]
pub struct LightDense<const I: usize, const O: usize, const R: usize, E: Dtype, D: Storage<E>> {
    /// First factor, I×R.
    pub w1: Tensor<Rank2<I, R>, E, D>,
    /// Second factor, R×O.
    pub w2: Tensor<Rank2<R, O>, E, D>,
    /// Bias.
    pub bias: Tensor<Rank1<O>, E, D>,
}

impl<const I: usize, const O: usize, const R: usize, E: Dtype, D: Storage<E>>
    LightDense<I, O, R, E, D>
{
    /// The factor each weight matrix is scaled by: √(2/O).
    pub fn scale() -> f64 {
        (2.0 / O as f64).sqrt()
    }
}

impl<const I: usize, const O: usize, const R: usize, E: Element, D: Device<E>>
    TensorCollection<E, D> for LightDense<I, O, R, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = LightDense<I, O, R, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "w1",
                    |s| &s.w1,
                    |s| &mut s.w1,
                    TensorOptions::reset_with(init::dense_kernel),
                ),
                Self::tensor(
                    "w2",
                    |s| &s.w2,
                    |s| &mut s.w2,
                    TensorOptions::reset_with(init::dense_kernel),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
            ),
            |(w1, w2, bias)| LightDense { w1, w2, bias },
        )
    }
}

impl<const I: usize, const O: usize, const R: usize, E, D, B, T>
    Module<Tensor<(B, Const<I>), E, D, T>> for LightDense<I, O, R, E, D>
where
    E: Element,
    D: Device<E>,
    B: Dim,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<O>), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<I>), E, D, T>) -> Result<Self::Output, D::Err> {
        // (x·s·W1)·(s·W2) = (x·W1·W2)·s²: one scaling of the small output instead of two of
        // the weights.
        let y = x
            .try_matmul(self.w1.retaped::<T>())?
            .try_matmul(self.w2.retaped::<T>())?
            .try_mul(E::of(2.0 / O as f64))?;
        let shape = *y.shape();
        y.try_add(self.bias.retaped::<T>().try_broadcast_like(&shape)?)
    }
}

impl<const I: usize, const O: usize, const R: usize, E: Dtype, D: Storage<E>> NonMutableModule
    for LightDense<I, O, R, E, D>
{
}
