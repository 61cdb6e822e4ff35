//! `conv(F, kernel = K)`: a plain 2-D convolution with bias (Keras `Conv2D`).

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::init;
use super::mac_count::{conv_output, MacCount};
use super::padding::{PaddingMode, Same};
use super::param_count::ParamCount;
use crate::ops::pipeline::{dyn_view, ConvStage, Stage};
use crate::ops::{self, Backend, Conv2dSpec};
use crate::Element;

/// Zero-sized builders, as dfdx's `nn::builders`.
pub mod builder {
    use std::marker::PhantomData;

    /// Builds a [`super::Conv2D`]: `C` input channels, `F` filters, `KS`×`KS` kernel, stride `S`,
    /// padding `P`.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Conv2D<
        const C: usize,
        const F: usize,
        const KS: usize,
        const S: usize = 1,
        P = super::Same,
    >(PhantomData<P>);
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P> ParamCount
    for builder::Conv2D<C, F, KS, S, P>
{
    const TRAINABLE: usize = KS * KS * C * F + F;
}

impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const F: usize,
        const KS: usize,
        const S: usize,
        P,
    > MacCount<H, W> for builder::Conv2D<C, F, KS, S, P>
where
    P: PaddingMode,
{
    const MACS: usize = {
        let (oh, ow) = conv_output(H, W, KS, S, P::PADDING);
        KS * KS * C * F * oh * ow
    };
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D> BuildOnDevice<D, E>
    for builder::Conv2D<C, F, KS, S, P>
where
    P: PaddingMode,
    E: Element,
    D: Device<E>,
{
    type Built = Conv2D<C, F, KS, S, P, E, D>;
}

/// A K×K convolution C → F with bias; kernel Glorot-uniform, bias zero.
#[derive(Debug, Clone)]
pub struct Conv2D<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    /// Kernel, F×C×K×K.
    pub weight: Tensor<Rank4<F, C, KS, KS>, E, D>,
    /// Bias, one per filter.
    pub bias: Tensor<Rank1<F>, E, D>,
    padding: PhantomData<P>,
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D>
    TensorCollection<E, D> for Conv2D<C, F, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = Conv2D<C, F, KS, S, P, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(init::conv_kernel),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
            ),
            |(weight, bias)| Conv2D {
                weight,
                bias,
                padding: PhantomData,
            },
        )
    }
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D>
    Conv2D<C, F, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Backend<E>,
{
    /// The op's settings for this layer.
    pub const SPEC: Conv2dSpec = Conv2dSpec::same().with_stride(S).with_padding(P::PADDING);

    /// Forward with the output's spatial dims chosen by the caller (`Const` sizes keep a
    /// network statically shaped; the sizes must be the right ones).
    #[allow(clippy::type_complexity)]
    pub fn try_forward_to<B: Dim, H: Dim, W: Dim, Ho: Dim, Wo: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<(B, Const<C>, H, W), E, D, T>,
    ) -> Result<Tensor<(B, Const<F>, Ho, Wo), E, D, T>, D::Err> {
        ops::conv2d(x, &self.weight, Some(&self.bias), Self::SPEC)
    }

    /// Appends this layer to a pipeline.
    pub fn push_stages(&self, stages: &mut Vec<Stage<'_, E, D>>) {
        stages.push(Stage::Conv(ConvStage {
            weight: dyn_view(&self.weight, (F, C, KS, KS)),
            bias: Some(dyn_view(&self.bias, (F,))),
            spec: Self::SPEC,
        }));
    }
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D, B, H, W, T>
    Module<Tensor<(B, Const<C>, H, W), E, D, T>> for Conv2D<C, F, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Backend<E>,
    B: Dim,
    H: Dim,
    W: Dim,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<F>, usize, usize), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<C>, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        self.try_forward_to(x)
    }
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D> NonMutableModule
    for Conv2D<C, F, KS, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
}
