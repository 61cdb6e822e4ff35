//! `light_conv(F, k = R, kernel = K)`: the paper's LightConv2D, as its authors' code runs it.

use std::marker::PhantomData;

use dfdx::prelude::*;

use super::init;
use super::mac_count::{conv_output, MacCount};
use super::padding::{PaddingMode, Same};
use super::param_count::ParamCount;
use crate::ops::pipeline::{dyn_view, ConvStage, Stage};
use crate::ops::{self, Backend, Conv2dSpec};
use crate::Element;

/// The authors' L2 factor on both kernels (Keras `regularizers.l2(1e-4)`: adds
/// 1e-4 · Σw² to the loss).
pub const LIGHT_CONV_L2: f64 = 1e-4;

/// Zero-sized builders, as dfdx's `nn::builders`.
pub mod builder {
    use std::marker::PhantomData;

    /// Builds a [`super::LightConv2D`]: `C` input channels, `F` filters, rank `R`, `KS`×`KS`
    /// kernels, stride `S` (on the first convolution), padding `P`.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct LightConv2D<
        const C: usize,
        const F: usize,
        const R: usize,
        const KS: usize = 3,
        const S: usize = 1,
        P = super::Same,
    >(PhantomData<P>);
}

impl<const C: usize, const F: usize, const R: usize, const KS: usize, const S: usize, P> ParamCount
    for builder::LightConv2D<C, F, R, KS, S, P>
{
    const TRAINABLE: usize = KS * KS * C * R + R + KS * KS * R * F + F;
}

/// Both convolutions, each at its output resolution: C → R with the stride, then R → F.
impl<
        const H: usize,
        const W: usize,
        const C: usize,
        const F: usize,
        const R: usize,
        const KS: usize,
        const S: usize,
        P,
    > MacCount<H, W> for builder::LightConv2D<C, F, R, KS, S, P>
where
    P: PaddingMode,
{
    const MACS: usize = {
        let (h1, w1) = conv_output(H, W, KS, S, P::PADDING);
        let (h2, w2) = conv_output(h1, w1, KS, 1, P::PADDING);
        KS * KS * C * R * h1 * w1 + KS * KS * R * F * h2 * w2
    };
}

impl<const C: usize, const F: usize, const R: usize, const KS: usize, const S: usize, P, E, D>
    BuildOnDevice<D, E> for builder::LightConv2D<C, F, R, KS, S, P>
where
    P: PaddingMode,
    E: Element,
    D: Device<E>,
{
    type Built = LightConv2D<C, F, R, KS, S, P, E, D>;
}

/// Rank-`R` factorised convolution: K×K conv C → R with bias, ReLU, K×K conv R → F with
/// bias. With R much smaller than C and F this needs K²·R·(C + F) weights instead of K²·C·F.
#[derive(Debug, Clone)]
pub struct LightConv2D<
    const C: usize,
    const F: usize,
    const R: usize,
    const KS: usize,
    const S: usize,
    P,
    E,
    D,
> where
    E: Dtype,
    D: Storage<E>,
{
    /// First kernel, R×C×K×K.
    pub w1: Tensor<Rank4<R, C, KS, KS>, E, D>,
    /// First bias.
    pub b1: Tensor<Rank1<R>, E, D>,
    /// Second kernel, F×R×K×K.
    pub w2: Tensor<Rank4<F, R, KS, KS>, E, D>,
    /// Second bias.
    pub b2: Tensor<Rank1<F>, E, D>,
    /// L2 factor on both kernels ([`LIGHT_CONV_L2`] by default; 0 turns the penalty off).
    pub l2: f64,
    padding: PhantomData<P>,
}

impl<const C: usize, const F: usize, const R: usize, const KS: usize, const S: usize, P, E, D>
    TensorCollection<E, D> for LightConv2D<C, F, R, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Device<E>,
{
    type To<E2: Dtype, D2: Device<E2>> = LightConv2D<C, F, R, KS, S, P, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "w1",
                    |s| &s.w1,
                    |s| &mut s.w1,
                    TensorOptions::reset_with(init::conv_kernel),
                ),
                Self::tensor(
                    "b1",
                    |s| &s.b1,
                    |s| &mut s.b1,
                    TensorOptions::reset_to_zeros(),
                ),
                Self::tensor(
                    "w2",
                    |s| &s.w2,
                    |s| &mut s.w2,
                    TensorOptions::reset_with(init::conv_kernel),
                ),
                Self::tensor(
                    "b2",
                    |s| &s.b2,
                    |s| &mut s.b2,
                    TensorOptions::reset_to_zeros(),
                ),
                Self::scalar(
                    "l2",
                    |s| &s.l2,
                    |s| &mut s.l2,
                    ScalarOptions::from_default(LIGHT_CONV_L2),
                ),
            ),
            |(w1, b1, w2, b2, l2)| LightConv2D {
                w1,
                b1,
                w2,
                b2,
                l2,
                padding: PhantomData,
            },
        )
    }
}

impl<const C: usize, const F: usize, const R: usize, const KS: usize, const S: usize, P, E, D>
    LightConv2D<C, F, R, KS, S, P, E, D>
where
    P: PaddingMode,
    E: Element,
    D: Backend<E>,
{
    /// Settings of the first convolution (with the fused ReLU); the second has stride 1.
    pub const FIRST_SPEC: Conv2dSpec = Conv2dSpec::same()
        .with_stride(S)
        .with_padding(P::PADDING)
        .with_relu(true);
    /// Settings of the second convolution.
    pub const SECOND_SPEC: Conv2dSpec = Conv2dSpec::same().with_padding(P::PADDING);

    /// Forward with the output's spatial dims chosen by the caller.
    #[allow(clippy::type_complexity)]
    pub fn try_forward_to<B: Dim, H: Dim, W: Dim, Ho: Dim, Wo: Dim, T: Tape<E, D>>(
        &self,
        x: Tensor<(B, Const<C>, H, W), E, D, T>,
    ) -> Result<Tensor<(B, Const<F>, Ho, Wo), E, D, T>, D::Err> {
        let hidden: Tensor<(B, Const<R>, usize, usize), E, D, T> =
            ops::conv2d(x, &self.w1, Some(&self.b1), Self::FIRST_SPEC)?;
        ops::conv2d(hidden, &self.w2, Some(&self.b2), Self::SECOND_SPEC)
    }

    /// Appends this layer to a pipeline (both convolutions, the ReLU fused into the first).
    pub fn push_stages(&self, stages: &mut Vec<Stage<'_, E, D>>) {
        stages.push(Stage::Conv(ConvStage {
            weight: dyn_view(&self.w1, (R, C, KS, KS)),
            bias: Some(dyn_view(&self.b1, (R,))),
            spec: Self::FIRST_SPEC,
        }));
        stages.push(Stage::Conv(ConvStage {
            weight: dyn_view(&self.w2, (F, R, KS, KS)),
            bias: Some(dyn_view(&self.b2, (F,))),
            spec: Self::SECOND_SPEC,
        }));
    }

    /// `l2 · (Σw1² + Σw2²)`, on a tape of its own (add it to the loss), or `None` when off.
    pub fn try_penalty(&self) -> Result<crate::network::Penalty<E, D>, D::Err> {
        if self.l2 == 0.0 {
            return Ok(None);
        }
        let sum1 = self
            .w1
            .retaped::<OwnedTape<E, D>>()
            .try_square()?
            .try_sum()?;
        let sum2 = self
            .w2
            .retaped::<OwnedTape<E, D>>()
            .try_square()?
            .try_sum()?;
        Ok(Some(sum1.try_add(sum2)?.try_mul(E::of(self.l2))?))
    }
}

impl<
        const C: usize,
        const F: usize,
        const R: usize,
        const KS: usize,
        const S: usize,
        P,
        E,
        D,
        B,
        H,
        W,
        T,
    > Module<Tensor<(B, Const<C>, H, W), E, D, T>> for LightConv2D<C, F, R, KS, S, P, E, D>
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

impl<const C: usize, const F: usize, const R: usize, const KS: usize, const S: usize, P, E, D>
    NonMutableModule for LightConv2D<C, F, R, KS, S, P, E, D>
where
    E: Dtype,
    D: Storage<E>,
{
}
