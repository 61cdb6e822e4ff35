//! The forward pass. Runs of spatial layers (convolutions, batch norms, ReLUs, pools,
//! residuals) become one `Backend::try_pipeline` call each, so the CPU executes them fused;
//! the rest (pooling to vectors, dense layers) are called layer by layer. Every intermediate
//! shape is spelled as a type, so the model is statically shaped and the compiler checks the
//! macro's inference.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::types::{batch_shape, Paths};
use crate::checks::{Checked, Shape};
use crate::model::LayerKind;

/// Inference (moving statistics, no tape) or training (batch statistics, taped).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `&self`, `NoneTape`.
    Infer,
    /// `&mut self`, `OwnedTape`.
    Train,
}

/// Whether a layer can run inside a pipeline (it maps feature maps to feature maps).
fn pipelined(layer: &Checked) -> bool {
    let maps =
        matches!(layer.input, Shape::Map { .. }) && matches!(layer.output, Shape::Map { .. });
    maps && !matches!(
        layer.layer.kind,
        LayerKind::Dense { .. }
            | LayerKind::LightDense { .. }
            | LayerKind::Softmax
            | LayerKind::GlobalAvgPool
            | LayerKind::Flatten
    )
}

/// Statements that turn `x` into the chain's output, also named `x`. A final `softmax` is left
/// out: these compute scores, and `Module::forward` applies it.
pub fn chain(p: &Paths, layers: &[Checked], mode: Mode) -> TokenStream {
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < layers.len() {
        if pipelined(&layers[i]) {
            let end = (i..layers.len())
                .find(|&j| !pipelined(&layers[j]))
                .unwrap_or(layers.len());
            out.extend(pipeline(p, &layers[i..end], mode));
            i = end;
        } else {
            out.extend(step(p, &layers[i], mode));
            i += 1;
        }
    }
    out
}

fn tape(p: &Paths, mode: Mode) -> TokenStream {
    let dfdx = &p.dfdx;
    match mode {
        Mode::Infer => quote!(#dfdx::tensor::NoneTape),
        Mode::Train => quote!(#dfdx::tensor::OwnedTape<E, D>),
    }
}

/// One pipeline call for a run of spatial layers.
fn pipeline(p: &Paths, layers: &[Checked], mode: Mode) -> TokenStream {
    let dfdx = &p.dfdx;
    let private = &p.private;
    let tape = tape(p, mode);
    let shape = batch_shape(p, &layers.last().expect("non-empty run").output);
    let (c, h, w) = match &layers.last().expect("non-empty run").output {
        Shape::Map { c, h, w } => (c.const_type(dfdx), *h, *w),
        Shape::Vector { .. } => unreachable!("pipelines end on feature maps"),
    };
    let pushes = stages(p, layers, mode);
    quote! {
        let x: #dfdx::tensor::Tensor<#shape, E, D, #tape> = {
            let batch = #dfdx::shapes::HasShape::shape(&x).0;
            let [b, c, h, w] = #dfdx::shapes::Shape::concrete(#dfdx::shapes::HasShape::shape(&x));
            let x = #dfdx::tensor_ops::ReshapeTo::try_reshape_like(x, &(b, c, h, w))?;
            let mut stages = #private::vec![];
            #pushes
            let y = <D as #private::Backend<E>>::try_pipeline(x, &mut stages)?;
            ::core::mem::drop(stages);
            let dims = (
                batch,
                <#c as ::core::default::Default>::default(),
                #dfdx::shapes::Const::<#h>,
                #dfdx::shapes::Const::<#w>,
            );
            #dfdx::tensor_ops::ReshapeTo::try_reshape_like(y, &dims)?
        };
    }
}

/// Statements pushing the stages of `layers` onto `stages`.
fn stages(p: &Paths, layers: &[Checked], mode: Mode) -> TokenStream {
    let private = &p.private;
    let stage = quote!(#private::lightlayers_core::ops::pipeline::Stage);
    let pushes = layers.iter().map(|layer| {
        let field = Ident::new(&layer.name, Span::call_site());
        match &layer.layer.kind {
            LayerKind::Conv(_) | LayerKind::SeparableConv(_) | LayerKind::LightConv { .. } => {
                quote!(self.#field.push_stages(&mut stages);)
            }
            LayerKind::BatchNorm => match mode {
                Mode::Infer => quote!(stages.push(self.#field.infer_stage());),
                Mode::Train => quote!(stages.push(self.#field.train_stage());),
            },
            LayerKind::Relu => quote!(stages.push(#stage::Relu);),
            LayerKind::MaxPool { size } => {
                let size = size.value;
                quote!(stages.push(#stage::MaxPool(#size));)
            }
            LayerKind::Residual { .. } => {
                let main = stages(p, &layer.main, mode);
                let shortcut = stages(p, &layer.shortcut, mode);
                quote! {
                    stages.push(#stage::Residual {
                        main: { let mut stages = #private::vec![]; #main stages },
                        shortcut: { let mut stages = #private::vec![]; #shortcut stages },
                    });
                }
            }
            _ => unreachable!("only spatial layers are pipelined"),
        }
    });
    quote!(#(#pushes)*)
}

/// One layer outside a pipeline.
fn step(p: &Paths, layer: &Checked, mode: Mode) -> TokenStream {
    let dfdx = &p.dfdx;
    let tape = tape(p, mode);
    let shape = batch_shape(p, &layer.output);
    let out = quote!(#dfdx::tensor::Tensor<#shape, E, D, #tape>);
    let field = Ident::new(&layer.name, Span::call_site());
    match &layer.layer.kind {
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
        _ => unreachable!("spatial layers run in pipelines"),
    }
}
