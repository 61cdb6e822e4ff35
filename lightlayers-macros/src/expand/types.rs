//! The Rust types a checked layer maps to: its built module, its builder, its shapes.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::checks::{Checked, Shape};

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

    /// The fused pipeline's stage type.
    pub fn stage(&self) -> TokenStream {
        let private = &self.private;
        quote!(#private::lightlayers_core::ops::pipeline::Stage)
    }

    /// The pipeline's `InputGradient` type.
    pub fn input_gradient(&self) -> TokenStream {
        let private = &self.private;
        quote!(#private::lightlayers_core::ops::pipeline::InputGradient)
    }
}

/// The layer's type name and const generics, for a layer with weights.
fn named_generics(p: &Paths, layer: &Checked) -> Option<(Ident, TokenStream)> {
    let def = layer.layer.def;
    let generics = (def.generics?)(p, &layer.layer, &layer.input);
    Some((Ident::new(def.kind, Span::call_site()), generics))
}

/// The built module type of a layer with weights (`None` for the others).
pub fn module_type(p: &Paths, layer: &Checked) -> Option<TokenStream> {
    let private = &p.private;
    let (name, generics) = named_generics(p, layer)?;
    Some(quote!(#private::layers::#name<#generics, E, D>))
}

/// The zero-sized builder type of a layer with weights (what `ParamCount` and `MacCount` are
/// read from).
pub fn builder_type(p: &Paths, layer: &Checked) -> Option<TokenStream> {
    let private = &p.private;
    let (name, generics) = named_generics(p, layer)?;
    Some(quote!(#private::builder::#name<#generics>))
}

/// The multiply–accumulates of a layer with weights, for the input it gets (a vector counts as
/// a 1×1 input), read from its builder's `MacCount`.
pub fn mac_count(p: &Paths, layer: &Checked) -> Option<TokenStream> {
    let private = &p.private;
    let builder = builder_type(p, layer)?;
    let (h, w) = match layer.input {
        Shape::Map { h, w, .. } => (h, w),
        Shape::Vector { .. } => (1, 1),
    };
    Some(quote!(<#builder as #private::MacCount<#h, #w>>::MACS))
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
