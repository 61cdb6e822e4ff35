//! `dense(N)`: x·W + b (Keras `Dense`).

use dfdx::prelude::*;

use super::init;
use super::mac_count::MacCount;
use super::param_count::ParamCount;
use crate::Element;

/// Zero-sized builders, as dfdx's `nn::builders`.
pub mod builder {
    /// Builds a [`super::Dense`] from `I` features to `O`.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Dense<const I: usize, const O: usize>;
}

impl<const I: usize, const O: usize> ParamCount for builder::Dense<I, O> {
    const TRAINABLE: usize = I * O + O;
}

impl<const I: usize, const O: usize> MacCount<1, 1> for builder::Dense<I, O> {
    const MACS: usize = I * O;
}

impl<const I: usize, const O: usize, E: Element, D: Device<E>> BuildOnDevice<D, E>
    for builder::Dense<I, O>
{
    type Built = Dense<I, O, E, D>;
}

/// A fully connected layer with the kernel stored I×O as Keras does (unlike dfdx's `Linear`,
/// which stores O×I and initialises like PyTorch): Glorot-uniform kernel, zero bias.
#[derive(Debug, Clone)]
pub struct Dense<const I: usize, const O: usize, E: Dtype, D: Storage<E>> {
    /// Kernel, I×O.
    pub weight: Tensor<Rank2<I, O>, E, D>,
    /// Bias.
    pub bias: Tensor<Rank1<O>, E, D>,
}

impl<const I: usize, const O: usize, E: Element, D: Device<E>> TensorCollection<E, D>
    for Dense<I, O, E, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Dense<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(init::dense_kernel),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
            ),
            |(weight, bias)| Dense { weight, bias },
        )
    }
}

impl<const I: usize, const O: usize, E: Element, D: Device<E>, B: Dim, T: Tape<E, D>>
    Module<Tensor<(B, Const<I>), E, D, T>> for Dense<I, O, E, D>
{
    type Output = Tensor<(B, Const<O>), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<I>), E, D, T>) -> Result<Self::Output, D::Err> {
        let y = x.try_matmul(self.weight.retaped::<T>())?;
        let shape = *y.shape();
        y.try_add(self.bias.retaped::<T>().try_broadcast_like(&shape)?)
    }
}

impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>> NonMutableModule
    for Dense<I, O, E, D>
{
}
