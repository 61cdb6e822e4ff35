//! `separable_conv(F, kernel = K)`: depthwise K×K then pointwise 1×1 (Keras `SeparableConv2D`).

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

    /// Builds a [`super::SeparableConv2D`]: `C` input channels, `F` filters, `KS`×`KS` depthwise
    /// kernel, stride `S`, padding `P`.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct SeparableConv2D<
        const C: usize,
        const F: usize,
        const KS: usize,
        const S: usize = 1,
        P = super::Same,
    >(PhantomData<P>);
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P> ParamCount
    for builder::SeparableConv2D<C, F, KS, S, P>
{
    const TRAINABLE: usize = KS * KS * C + C * F + F;
}

/// The depthwise K×K convolution (one filter per channel) and the pointwise 1×1 one, both at
/// the output resolution (the stride is the depthwise convolution's).
impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const F: usize,
        const KS: usize,
        const S: usize,
        P,
    > MacCount<H, W> for builder::SeparableConv2D<C, F, KS, S, P>
where
    P: PaddingMode,
{
    const MACS: usize = {
        let (oh, ow) = conv_output(H, W, KS, S, P::PADDING);
        (KS * KS * C + C * F) * oh * ow
    };
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D> BuildOnDevice<D, E>
    for builder::SeparableConv2D<C, F, KS, S, P>
where
    P: PaddingMode,
    E: Element,
    D: Device<E>,
{
    type Built = SeparableConv2D<C, F, KS, S, P, E, D>;
}

/// One K×K filter per input channel (no bias), then a 1×1 convolution C → F with bias.
#[derive(Debug, Clone)]
pub struct SeparableConv2D<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
    /// Depthwise kernel, C×1×K×K.
    pub depthwise: Tensor<Rank4<C, 1, KS, KS>, E, D>,
    /// Pointwise kernel, F×C×1×1.
    pub pointwise: Tensor<Rank4<F, C, 1, 1>, E, D>,
    /// Bias of the pointwise convolution.
    pub bias: Tensor<Rank1<F>, E, D>,
    padding: PhantomData<P>,
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D>
    TensorCollection<E, D> for SeparableConv2D<C, F, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = SeparableConv2D<C, F, KS, S, P, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "depthwise",
                    |s| &s.depthwise,
                    |s| &mut s.depthwise,
                    TensorOptions::reset_with(init::depthwise_kernel),
                ),
                Self::tensor(
                    "pointwise",
                    |s| &s.pointwise,
                    |s| &mut s.pointwise,
                    TensorOptions::reset_with(init::conv_kernel),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
            ),
            |(depthwise, pointwise, bias)| SeparableConv2D {
                depthwise,
                pointwise,
                bias,
                padding: PhantomData,
            },
        )
    }
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D>
    SeparableConv2D<C, F, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Backend<E>,
{
    /// Settings of the depthwise step (the pointwise one is a plain 1×1 convolution).
    pub const DEPTHWISE_SPEC: Conv2dSpec = Conv2dSpec::same()
        .with_stride(S)
        .with_padding(P::PADDING)
        .with_groups(C);

    /// Forward with the output's spatial dims chosen by the caller.
    #[allow(clippy::type_complexity)]
    pub fn try_forward_to<B: Dim, H: Dim, W: Dim, Ho: Dim, Wo: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<(B, Const<C>, H, W), E, D, T>,
    ) -> Result<Tensor<(B, Const<F>, Ho, Wo), E, D, T>, D::Err> {
        let filtered: Tensor<(B, Const<C>, Ho, Wo), E, D, T> =
            ops::conv2d(x, &self.depthwise, None, Self::DEPTHWISE_SPEC)?;
        ops::conv2d(
            filtered,
            &self.pointwise,
            Some(&self.bias),
            Conv2dSpec::same(),
        )
    }

    /// Appends this layer to a pipeline (depthwise, then pointwise).
    pub fn push_stages(&self, stages: &mut Vec<Stage<'_, E, D>>) {
        stages.push(Stage::Conv(ConvStage {
            weight: dyn_view(&self.depthwise, (C, 1, KS, KS)),
            bias: None,
            spec: Self::DEPTHWISE_SPEC,
        }));
        stages.push(Stage::Conv(ConvStage {
            weight: dyn_view(&self.pointwise, (F, C, 1, 1)),
            bias: Some(dyn_view(&self.bias, (F,))),
            spec: Conv2dSpec::same(),
        }));
    }
}

impl<const C: usize, const F: usize, const KS: usize, const S: usize, P, E, D, B, H, W, T>
    Module<Tensor<(B, Const<C>, H, W), E, D, T>> for SeparableConv2D<C, F, KS, S, P, E, D>
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
    for SeparableConv2D<C, F, KS, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
}
