//! Parameter counts as associated constants, so a network's totals are computed by the
//! compiler and can be asserted at compile time.

/// Scalars a layer holds, counted the way Keras counts them.
///
/// Implemented on the layers' builder types (the zero-sized types named in a network), so
/// const generics such as the rank `k` flow into the numbers.
pub trait ParamCount {
    /// Parameters the optimizer updates.
    const TRAINABLE: usize;
    /// State Keras counts but does not train: batch norm's moving mean and variance.
    const NON_TRAINABLE: usize = 0;
    /// Everything Keras's `count_params()` reports.
    const TOTAL: usize = Self::TRAINABLE + Self::NON_TRAINABLE;
}

impl ParamCount for dfdx::nn::modules::ReLU {
    const TRAINABLE: usize = 0;
}

impl ParamCount for dfdx::nn::modules::Softmax {
    const TRAINABLE: usize = 0;
}

impl ParamCount for dfdx::nn::modules::AvgPoolGlobal {
    const TRAINABLE: usize = 0;
}

impl<M: ParamCount, S: ParamCount> ParamCount for dfdx::nn::modules::GeneralizedResidual<M, S> {
    const TRAINABLE: usize = M::TRAINABLE + S::TRAINABLE;
    const NON_TRAINABLE: usize = M::NON_TRAINABLE + S::NON_TRAINABLE;
}

macro_rules! tuple_param_count {
    ($($name:ident),+) => {
        impl<$($name: ParamCount),+> ParamCount for ($($name,)+) {
            const TRAINABLE: usize = 0 $(+ $name::TRAINABLE)+;
            const NON_TRAINABLE: usize = 0 $(+ $name::NON_TRAINABLE)+;
        }
    };
}

tuple_param_count!(A);
tuple_param_count!(A, B);
tuple_param_count!(A, B, C);
tuple_param_count!(A, B, C, D);
tuple_param_count!(A, B, C, D, F);
tuple_param_count!(A, B, C, D, F, G);
