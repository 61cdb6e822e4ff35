//! The Rust types a checked layer maps to: its built module, its builder, its shapes.

use proc_macro2::TokenStream;
use quote::quote;

use crate::checks::{Checked, Shape};
use crate::model::{ConvArgs, LayerKind, Padding};

/// Paths into the facade crate's private re-exports.
pub struct Paths {
    /// `::lightlayers::__private`
    pub private: TokenStream,
    /// `::lightlayers::__private::dfdx`
    pub dfdx: TokenStream,
}

impl Paths {
    pub fn new() -> Self {
        let private = quote!(::lightlayers::__private);
        let dfdx = quote!(#private::dfdx);
        Paths { private, dfdx }
    }
}

fn padding(p: &Paths, padding: Padding) -> TokenStream {
    let private = &p.private;
    match padding {
        Padding::Same => quote!(#private::Same),
        Padding::Valid => quote!(#private::Valid),
    }
}

fn conv_generics(
    p: &Paths,
    input_channels: &TokenStream,
    conv: &ConvArgs,
) -> (TokenStream, TokenStream) {
    let f = conv.filters.expr();
    let k = conv.kernel.value;
    let s = conv.stride.value;
    let pad = padding(p, conv.padding);
    (quote!(#input_channels, #f), quote!(#k, #s, #pad))
}

/// The built module type of a layer with parameters (`None` for stateless layers).
pub fn module_type(p: &Paths, layer: &Checked) -> Option<TokenStream> {
    let layers = {
        let private = &p.private;
        quote!(#private::layers)
    };
    let c = layer.input.channels().expr();
    Some(match &layer.layer.kind {
        LayerKind::Conv(conv) => {
            let (io, rest) = conv_generics(p, &c, conv);
            quote!(#layers::Conv2D<#io, #rest, E, D>)
        }
        LayerKind::SeparableConv(conv) => {
            let (io, rest) = conv_generics(p, &c, conv);
            quote!(#layers::SeparableConv2D<#io, #rest, E, D>)
        }
        LayerKind::LightConv { conv, rank, .. } => {
            let (io, rest) = conv_generics(p, &c, conv);
            let r = rank.expr();
            quote!(#layers::LightConv2D<#io, #r, #rest, E, D>)
        }
        LayerKind::Dense { units } => {
            let n = units.expr();
            quote!(#layers::Dense<#c, #n, E, D>)
        }
        LayerKind::LightDense { units, rank } => {
            let (n, r) = (units.expr(), rank.expr());
            quote!(#layers::LightDense<#c, #n, #r, E, D>)
        }
        LayerKind::BatchNorm => quote!(#layers::BatchNorm<#c, E, D>),
        _ => return None,
    })
}

/// The zero-sized builder type of a layer with parameters (what `ParamCount` is read from).
pub fn builder_type(p: &Paths, layer: &Checked) -> Option<TokenStream> {
    let builder = {
        let private = &p.private;
        quote!(#private::builder)
    };
    let c = layer.input.channels().expr();
    Some(match &layer.layer.kind {
        LayerKind::Conv(conv) => {
            let (io, rest) = conv_generics(p, &c, conv);
            quote!(#builder::Conv2D<#io, #rest>)
        }
        LayerKind::SeparableConv(conv) => {
            let (io, rest) = conv_generics(p, &c, conv);
            quote!(#builder::SeparableConv2D<#io, #rest>)
        }
        LayerKind::LightConv { conv, rank, .. } => {
            let (io, rest) = conv_generics(p, &c, conv);
            let r = rank.expr();
            quote!(#builder::LightConv2D<#io, #r, #rest>)
        }
        LayerKind::Dense { units } => {
            let n = units.expr();
            quote!(#builder::Dense<#c, #n>)
        }
        LayerKind::LightDense { units, rank } => {
            let (n, r) = (units.expr(), rank.expr());
            quote!(#builder::LightDense<#c, #n, #r>)
        }
        LayerKind::BatchNorm => quote!(#builder::BatchNorm<#c>),
        _ => return None,
    })
}

/// The dfdx shape of a batch of `shape`, batch dimension `B`.
pub fn batch_shape(p: &Paths, shape: &Shape) -> TokenStream {
    let dfdx = &p.dfdx;
    match shape {
        Shape::Map { c, h, w } => {
            let c = c.const_type(dfdx);
            quote!((B, #c, #dfdx::shapes::Const<#h>, #dfdx::shapes::Const<#w>))
        }
        Shape::Vector { n } => {
            let n = n.const_type(dfdx);
            quote!((B, #n))
        }
    }
}

/// The shape without the batch dimension, as numbers for the summary.
pub fn dims(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Map { c, h, w } => {
            let c = c.expr();
            quote!(&[#c, #h, #w])
        }
        Shape::Vector { n } => {
            let n = n.expr();
            quote!(&[#n])
        }
    }
}

/// The type name shown in the summary.
pub fn kind_name(layer: &Checked) -> &'static str {
    match layer.layer.kind {
        LayerKind::Conv(_) => "Conv2D",
        LayerKind::SeparableConv(_) => "SeparableConv2D",
        LayerKind::LightConv { .. } => "LightConv2D",
        LayerKind::Dense { .. } => "Dense",
        LayerKind::LightDense { .. } => "LightDense",
        LayerKind::BatchNorm => "BatchNorm",
        LayerKind::Relu => "ReLU",
        LayerKind::Softmax => "Softmax",
        LayerKind::MaxPool { .. } => "MaxPool2D",
        LayerKind::GlobalAvgPool => "GlobalAvgPool2D",
        LayerKind::Flatten => "Flatten",
        LayerKind::Residual { .. } => "Add",
    }
}
