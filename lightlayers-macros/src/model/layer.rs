//! The network as a list of resolved layers: names checked, arguments typed, blocks inlined.

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use super::value::Dim;

/// How a convolution pads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Keras `same`.
    Same,
    /// Keras `valid`.
    Valid,
}

/// A number together with where it was written.
#[derive(Clone, Copy)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its source location.
    pub span: Span,
}

/// Arguments shared by the three convolution layers.
#[derive(Clone)]
pub struct ConvArgs {
    /// Output channels.
    pub filters: Dim,
    /// Kernel side.
    pub kernel: Spanned<usize>,
    /// Stride.
    pub stride: Spanned<usize>,
    /// Padding mode.
    pub padding: Padding,
}

/// What a layer is, with its arguments.
#[derive(Clone)]
pub enum LayerKind {
    /// `conv`
    Conv(ConvArgs),
    /// `separable_conv`
    SeparableConv(ConvArgs),
    /// `light_conv`
    LightConv {
        /// Shared convolution arguments.
        conv: ConvArgs,
        /// The rank `k`.
        rank: Dim,
        /// An explicit L2 factor, when given.
        l2: Option<f64>,
    },
    /// `dense`
    Dense {
        /// Output features.
        units: Dim,
    },
    /// `light_dense`
    LightDense {
        /// Output features.
        units: Dim,
        /// The rank `k`.
        rank: Dim,
    },
    /// `bn`
    BatchNorm,
    /// `relu`
    Relu,
    /// `softmax`
    Softmax,
    /// `max_pool`
    MaxPool {
        /// Window side and stride.
        size: Spanned<usize>,
    },
    /// `global_avg_pool`
    GlobalAvgPool,
    /// `flatten`
    Flatten,
    /// `residual(main, shortcut: ...)`; an empty shortcut is the identity.
    Residual {
        /// The main branch.
        main: Vec<Layer>,
        /// The shortcut branch (empty: identity).
        shortcut: Vec<Layer>,
    },
}

/// One layer and where it came from.
#[derive(Clone)]
pub struct Layer {
    /// What it is.
    pub kind: LayerKind,
    /// The layer's name in the source.
    pub span: Span,
    /// The blocks it was expanded from, innermost first: (block name, call site).
    pub origin: Vec<(String, Span)>,
}

/// The network's declared input.
#[derive(Clone)]
pub struct Input {
    /// Channels.
    pub channels: Dim,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

/// A network after resolution.
pub struct Network {
    /// Attributes to forward.
    pub attrs: Vec<Attribute>,
    /// Visibility.
    pub vis: Visibility,
    /// Name.
    pub name: Ident,
    /// The const parameters, in order.
    pub const_params: Vec<Ident>,
    /// The input.
    pub input: Input,
    /// The layers after the input.
    pub layers: Vec<Layer>,
}

impl Layer {
    /// The name written in the DSL (also the base of generated field names).
    pub fn dsl_name(&self) -> &'static str {
        match &self.kind {
            LayerKind::Conv(_) => "conv",
            LayerKind::SeparableConv(_) => "separable_conv",
            LayerKind::LightConv { .. } => "light_conv",
            LayerKind::Dense { .. } => "dense",
            LayerKind::LightDense { .. } => "light_dense",
            LayerKind::BatchNorm => "bn",
            LayerKind::Relu => "relu",
            LayerKind::Softmax => "softmax",
            LayerKind::MaxPool { .. } => "max_pool",
            LayerKind::GlobalAvgPool => "global_avg_pool",
            LayerKind::Flatten => "flatten",
            LayerKind::Residual { .. } => "residual",
        }
    }

    /// An error at this layer, with a note per block it was expanded from.
    pub fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        error_with_origin(self.span, &self.origin, message)
    }
}

/// An error at `span`; when the code came from blocks, one note per call site follows.
pub fn error_with_origin(
    span: Span,
    origin: &[(String, Span)],
    message: impl std::fmt::Display,
) -> syn::Error {
    let mut err = syn::Error::new(span, message);
    for (block, site) in origin {
        err.combine(syn::Error::new(
            *site,
            format!("note: in block `{block}` used here"),
        ));
    }
    err
}
