//! The forward pass, written out layer by layer with every intermediate shape spelled as a
//! type, so the model is statically shaped and the compiler checks the macro's inference.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::types::{batch_shape, Paths};
use crate::checks::Checked;
use crate::model::LayerKind;

/// Inference (moving statistics, no tape) or training (batch statistics, taped).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `&self`, `NoneTape`.
    Infer,
    /// `&mut self`, `OwnedTape`.
    Train,
}

/// Statements that turn `x` into the chain's output, also named `x`. A final `softmax` is left
/// out: these compute scores, and `Module::forward` applies it.
pub fn chain(p: &Paths, layers: &[Checked], mode: Mode) -> TokenStream {
    let steps = layers.iter().map(|layer| step(p, layer, mode));
    quote!(#(#steps)*)
}

fn step(p: &Paths, layer: &Checked, mode: Mode) -> TokenStream {
    let dfdx = &p.dfdx;
    let private = &p.private;
    let tape = match mode {
        Mode::Infer => quote!(#dfdx::tensor::NoneTape),
        Mode::Train => quote!(#dfdx::tensor::OwnedTape<E, D>),
    };
    let shape = batch_shape(p, &layer.output);
    let out = quote!(#dfdx::tensor::Tensor<#shape, E, D, #tape>);
    let field = Ident::new(&layer.name, Span::call_site());
    match &layer.layer.kind {
        LayerKind::Conv(_) | LayerKind::SeparableConv(_) | LayerKind::LightConv { .. } => {
            quote!(let x: #out = self.#field.try_forward_to(x)?;)
        }
        LayerKind::BatchNorm => match mode {
            Mode::Infer => quote!(let x: #out = #dfdx::nn::Module::try_forward(&self.#field, x)?;),
            Mode::Train => {
                quote!(let x: #out = #dfdx::nn::ModuleMut::try_forward_mut(&mut self.#field, x)?;)
            }
        },
        LayerKind::Dense { .. } | LayerKind::LightDense { .. } => {
            quote!(let x: #out = #dfdx::nn::Module::try_forward(&self.#field, x)?;)
        }
        LayerKind::Relu => quote!(let x: #out = x.try_relu()?;),
        LayerKind::Softmax => quote!(),
        LayerKind::MaxPool { size } => {
            let size = size.value;
            quote!(let x: #out = #private::layers::MaxPool2D::<#size>.try_forward_to(x)?;)
        }
        LayerKind::GlobalAvgPool => quote! {
            let x: #out = #dfdx::tensor_ops::MeanTo::try_mean::<_, #dfdx::shapes::Axes2<2, 3>>(x)?;
        },
        LayerKind::Flatten => {
            let n = layer.output.channels().const_type(dfdx);
            quote! {
                let x: #out = {
                    let batch = #dfdx::shapes::HasShape::shape(&x).0;
                    #dfdx::tensor_ops::ReshapeTo::try_reshape_like(x, &(batch, <#n as ::core::default::Default>::default()))?
                };
            }
        }
        LayerKind::Residual { .. } => {
            let main = chain(p, &layer.main, mode);
            let shortcut = chain(p, &layer.shortcut, mode);
            quote! {
                let x: #out = {
                    let main = #dfdx::tensor::WithEmptyTape::with_empty_tape(&x);
                    let main = { let x = main; #main x };
                    let shortcut = { #shortcut x };
                    #dfdx::tensor_ops::TryAdd::try_add(main, shortcut)?
                };
            }
        }
    }
}
