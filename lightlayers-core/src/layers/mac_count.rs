//! Compute cost as associated constants, so a network's multiply–accumulates are computed by
//! the compiler, like its parameter count.

use crate::ops::{conv_output_side, Padding};

/// Multiply–accumulates of one image's forward pass through a layer whose input is `H`×`W`
/// (a vector counts as a 1×1 input).
///
/// Counted as the MobileNet papers count "Mult-Adds": the products of convolutions (depthwise
/// and 1×1 included) and dense layers, each at its own output resolution; biases, batch norm,
/// activations, pooling and residual additions are left out. A convolution C → F with a K×K
/// kernel costs K²·C·F per output position; a LightConv2D counts both of its convolutions, a
/// LightDense both of its factors.
///
/// Implemented on the layers' builder types, as [`ParamCount`](super::ParamCount), so const
/// generics such as the rank `k` flow into the numbers.
pub trait MacCount<const H: usize, const W: usize> {
    /// Multiply–accumulates for one image.
    const MACS: usize;
}

/// Output height and width of a `kernel`×`kernel` convolution over an `h`×`w` input.
pub(crate) const fn conv_output(
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
) -> (usize, usize) {
    (
        conv_output_side(h, kernel, stride, padding).0,
        conv_output_side(w, kernel, stride, padding).0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{builder, Valid};

    /// `B::MACS` for an `H`×`W` input.
    const fn macs<B: MacCount<H, W>, const H: usize, const W: usize>() -> usize {
        B::MACS
    }

    #[test]
    fn convolutions_count_at_their_output_resolution() {
        // 3×3, 1 → 8 at 28×28
        assert_eq!(macs::<builder::Conv2D<1, 8, 3>, 28, 28>(), 9 * 8 * 28 * 28);
        // stride 2, `same`: 28×28 → 14×14
        assert_eq!(
            macs::<builder::Conv2D<4, 8, 3, 2>, 28, 28>(),
            9 * 4 * 8 * 14 * 14
        );
        // `valid`, 5×5 on 10×12 → 6×8
        assert_eq!(
            macs::<builder::Conv2D<2, 3, 5, 1, Valid>, 10, 12>(),
            25 * 2 * 3 * 6 * 8
        );
        // depthwise 9·4 and pointwise 4·8 per output position, 7×7 → 4×4 with stride 2
        assert_eq!(
            macs::<builder::SeparableConv2D<4, 8, 3, 2>, 7, 7>(),
            (9 * 4 + 4 * 8) * 16
        );
    }

    #[test]
    fn light_conv_counts_both_convolutions() {
        // `same`: both at 28×28
        assert_eq!(
            macs::<builder::LightConv2D<1, 8, 3>, 28, 28>(),
            9 * 3 * (1 + 8) * 28 * 28
        );
        // stride 2, `valid`: 32×32 → 15×15 (first), → 13×13 (second)
        assert_eq!(
            macs::<builder::LightConv2D<3, 8, 2, 3, 2, Valid>, 32, 32>(),
            9 * 3 * 2 * 15 * 15 + 9 * 2 * 8 * 13 * 13
        );
    }

    #[test]
    fn dense_layers_count_their_products_and_batch_norm_nothing() {
        assert_eq!(macs::<builder::Dense<32, 10>, 1, 1>(), 320);
        assert_eq!(
            macs::<builder::LightDense<32, 10, 8>, 1, 1>(),
            32 * 8 + 8 * 10
        );
        assert_eq!(macs::<builder::BatchNorm<8>, 28, 28>(), 0);
    }
}
