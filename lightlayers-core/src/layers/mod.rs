//! The layers of the LightLayers paper as dfdx modules, one per file.
//!
//! Each comes as dfdx does it: a zero-sized *builder* in [`builder`] (what a network type names,
//! carrying channels, rank and kernel as const generics, with its [`ParamCount`] and
//! [`MacCount`]) and the built
//! module holding tensors, which implements dfdx's `TensorCollection` so optimizers, parameter
//! counting, gradient zeroing and safetensors work on it unchanged.

mod batch_norm;
mod conv;
mod dense;
mod init;
mod light_conv;
mod light_dense;
mod mac_count;
mod max_pool;
mod padding;
mod param_count;
mod separable_conv;

pub use batch_norm::{BatchNorm, KERAS_BN_EPSILON, KERAS_BN_MOMENTUM};
pub use conv::Conv2D;
pub use dense::Dense;
pub use light_conv::{LightConv2D, LIGHT_CONV_L2};
pub use light_dense::LightDense;
pub use mac_count::MacCount;
pub use max_pool::MaxPool2D;
pub use padding::{PaddingMode, Same, Valid};
pub use param_count::ParamCount;
pub use separable_conv::SeparableConv2D;

/// `global_avg_pool`: mean over height and width (dfdx's `AvgPoolGlobal`).
pub use dfdx::nn::modules::AvgPoolGlobal as GlobalAvgPool2D;
/// `residual(MAIN, shortcut: SHORTCUT)`: MAIN(x) + SHORTCUT(x) (dfdx's `GeneralizedResidual`,
/// fields `f` = main branch, `r` = shortcut).
pub use dfdx::nn::modules::GeneralizedResidual as Residual;
/// `relu` (dfdx's own).
pub use dfdx::nn::modules::ReLU;
/// `softmax` over the last axis (dfdx's own).
pub use dfdx::nn::modules::Softmax;

/// Zero-sized builders of the layers with parameters, named as the layers.
pub mod builder {
    pub use super::batch_norm::builder::BatchNorm;
    pub use super::conv::builder::Conv2D;
    pub use super::dense::builder::Dense;
    pub use super::light_conv::builder::LightConv2D;
    pub use super::light_dense::builder::LightDense;
    pub use super::separable_conv::builder::SeparableConv2D;
    pub use super::{GlobalAvgPool2D, MaxPool2D, ReLU, Residual, Softmax};
}
