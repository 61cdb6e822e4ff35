//! `max_pool(P)`: P×P max pooling with stride P (Keras `MaxPool2D(P)`).

use dfdx::prelude::*;

use super::param_count::ParamCount;
use crate::ops::{self, Backend};
use crate::Element;

/// P×P max pooling with stride P; rows and columns that do not fill a window are dropped
/// (7×7 → 3×3 for P = 2). Zero-sized: it is its own builder.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaxPool2D<const P: usize>;

impl<const P: usize> ParamCount for MaxPool2D<P> {
    const TRAINABLE: usize = 0;
}

impl<const P: usize> ZeroSizedModule for MaxPool2D<P> {}
impl<const P: usize> NonMutableModule for MaxPool2D<P> {}

impl<const P: usize> MaxPool2D<P> {
    /// Forward with the output's spatial dims chosen by the caller.
    #[allow(clippy::type_complexity)]
    pub fn try_forward_to<B, C, H, W, Ho, Wo, E, D, T>(
        &self,
        x: Tensor<(B, C, H, W), E, D, T>,
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
        ops::max_pool2d(x, P)
    }
}

impl<const P: usize, B, C, H, W, E, D, T> Module<Tensor<(B, C, H, W), E, D, T>> for MaxPool2D<P>
where
    B: Dim,
    C: Dim,
    H: Dim,
    W: Dim,
    E: Element,
    D: Backend<E>,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, C, usize, usize), E, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, C, H, W), E, D, T>) -> Result<Self::Output, D::Err> {
        self.try_forward_to(x)
    }
}
