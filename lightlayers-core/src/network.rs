//! What the `network!` macro produces, as traits: a network type (zero-sized, carrying its
//! hyper-parameters) and the model it builds on a device.

use dfdx::prelude::*;

use crate::ops::Backend;
use crate::summary::Summary;
use crate::Element;

/// A batch of input images of network `N`: `(batch, C, H, W)`.
pub type Images<N, E, D, T = NoneTape> = Tensor<
    (
        usize,
        <N as Network>::Channels,
        <N as Network>::Height,
        <N as Network>::Width,
    ),
    E,
    D,
    T,
>;

/// A batch of class scores of network `N`: `(batch, classes)`.
pub type Logits<N, E, D, T = NoneTape> = Tensor<(usize, <N as Network>::Classes), E, D, T>;

/// A weight penalty to add to the loss, on a tape of its own; `None` when there is none.
pub type Penalty<E, D> = Option<Tensor<Rank0, E, D, OwnedTape<E, D>>>;

/// Training-mode logits of network `N`, recorded on the tape.
pub type TrainLogits<N, E, D> = Logits<N, E, D, OwnedTape<E, D>>;

/// A network declared with `network!`: a zero-sized type whose constants describe it and
/// whose [`Network::Model`] is the dfdx module it builds.
///
/// The constants are computed by the compiler from the layers' [`crate::layers::ParamCount`]
/// and [`crate::layers::MacCount`], so they can be used in `const` assertions.
pub trait Network: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// Input channels, as a dfdx dimension.
    type Channels: ConstDim;
    /// Input height.
    type Height: ConstDim;
    /// Input width.
    type Width: ConstDim;
    /// Number of classes (width of the output).
    type Classes: ConstDim;

    /// The dfdx module this network builds on device `D` with element type `E`.
    type Model<E: Element, D: Backend<E>>: NetworkModel<Self, E, D>;

    /// The name given in `network!`.
    const NAME: &'static str;
    /// Input shape (channels, height, width).
    const INPUT_SHAPE: [usize; 3];
    /// Number of classes.
    const CLASSES: usize;
    /// Parameters updated by training.
    const TRAINABLE_PARAMS: usize;
    /// Batch-norm moving statistics (Keras counts them, nobody trains them).
    const NON_TRAINABLE_PARAMS: usize;
    /// All parameters, as Keras's `count_params()` and the paper's tables count them.
    const PARAMS: usize = Self::TRAINABLE_PARAMS + Self::NON_TRAINABLE_PARAMS;
    /// Multiply–accumulates of the forward pass for one image: those of the convolutions
    /// (depthwise and 1×1 included) and dense layers, each at its output resolution; bias,
    /// batch norm, activations, pooling and residual additions are not counted (the
    /// "Mult-Adds" of the MobileNet papers). A LightConv2D counts both of its convolutions, a
    /// LightDense both factors.
    const MACS: usize;

    /// Layer-by-layer description, like Keras's `model.summary()`; its `Display` prints the
    /// table.
    fn summary() -> Summary;

    /// Builds the model with freshly initialised weights (Glorot-uniform kernels, zero biases)
    /// drawn from the device's random generator.
    fn try_build<E: Element, D: Backend<E>>(device: &D) -> Result<Self::Model<E, D>, D::Err> {
        <Self::Model<E, D> as BuildModule<D, E>>::try_build(device)
    }
}

/// The operations a trainer needs from a built network. The generated models also implement
/// dfdx's `Module` (inference, untaped input) and `ModuleMut` (training) for any batch
/// dimension; those return probabilities when the network ends in `softmax`.
pub trait NetworkModel<N: Network, E: Element, D: Backend<E>>:
    TensorCollection<E, D> + BuildModule<D, E> + Clone + std::fmt::Debug
{
    /// Inference: class scores before any final `softmax`, batch norm on moving statistics.
    fn try_logits(&self, x: Images<N, E, D>) -> Result<Logits<N, E, D>, D::Err>;

    /// Training: class scores before any final `softmax`, batch norm on batch statistics
    /// (updating the moving ones), recorded on the tape. The images are data: the gradient
    /// with respect to them is not computed where that saves work (it stays zero; dfdx's
    /// `ModuleMut`, which the models also implement, computes it).
    fn try_logits_train(
        &mut self,
        x: Images<N, E, D, OwnedTape<E, D>>,
    ) -> Result<TrainLogits<N, E, D>, D::Err>;

    /// The layers' weight penalties (the L2 of `light_conv`) on a tape of their own, to add
    /// to the loss; `None` when no layer has one.
    fn try_penalty(&self) -> Result<Penalty<E, D>, D::Err>;
}

/// Adds two optional penalties (what generated code folds the layers' penalties with).
pub fn add_penalty<E: Element, D: Backend<E>>(
    total: Penalty<E, D>,
    term: Penalty<E, D>,
) -> Result<Penalty<E, D>, D::Err> {
    Ok(match (total, term) {
        (Some(a), Some(b)) => Some(a.try_add(b)?),
        (a, None) => a,
        (None, b) => b,
    })
}
