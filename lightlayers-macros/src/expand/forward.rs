//! The forward pass. Runs of spatial layers (convolutions, batch norms, ReLUs, pools,
//! residuals) become one `Backend::try_pipeline` call each, so the CPU executes them fused;
//! the rest (pooling to vectors, dense layers) are called layer by layer. Every intermediate
//! shape is spelled as a type, so the model is statically shaped and the compiler checks the
//! macro's inference. What each layer contributes is its registry entry's `stage` or `step`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::types::{batch_shape, Paths};
use crate::checks::{Checked, Shape};

/// Inference (moving statistics, no tape) or training (batch statistics, taped).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `&self`, `NoneTape`.
    Infer,
    /// `&mut self`, `OwnedTape`.
    Train,
}

/// What a layer's forward hooks work with.
pub struct Forward<'a> {
    /// Paths into the facade crate.
    pub paths: &'a Paths,
    /// Inference or training.
    pub mode: Mode,
    /// The layer's field in the model (for layers with weights).
    pub field: Ident,
    /// The type of the step's output tensor `x` (for steps).
    pub out: TokenStream,
}

/// Whether a layer runs inside a pipeline: it has a stage and maps feature maps to feature maps.
fn pipelined(layer: &Checked) -> bool {
    let maps =
        matches!(layer.input, Shape::Map { .. }) && matches!(layer.output, Shape::Map { .. });
    maps && layer.layer.def.stage.is_some()
}

/// Statements that turn `x` into the chain's output, also named `x`. A final `softmax` is left
/// out: these compute scores, and `Module::forward` applies it. In training, a pipeline that
/// starts the chain is told whether to compute its input's gradient by the variable
/// `input_gradient` in scope.
pub fn chain(p: &Paths, layers: &[Checked], mode: Mode) -> TokenStream {
    let mut out = TokenStream::new();
    let mut i = 0;
    while i < layers.len() {
        if pipelined(&layers[i]) {
            let end = (i..layers.len())
                .find(|&j| !pipelined(&layers[j]))
                .unwrap_or(layers.len());
            let input_gradient = if i == 0 && mode == Mode::Train {
                quote!(input_gradient)
            } else {
                let ty = p.input_gradient();
                quote!(#ty::Computed)
            };
            out.extend(pipeline(p, &layers[i..end], mode, input_gradient));
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
fn pipeline(p: &Paths, layers: &[Checked], mode: Mode, input_gradient: TokenStream) -> TokenStream {
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
            let y = <D as #private::Backend<E>>::try_pipeline(x, &mut stages, #input_gradient)?;
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
pub fn stages(p: &Paths, layers: &[Checked], mode: Mode) -> TokenStream {
    let pushes = layers.iter().map(|layer| {
        let stage = layer
            .layer
            .def
            .stage
            .expect("only layers with a stage are pipelined");
        let f = Forward {
            paths: p,
            mode,
            field: Ident::new(&layer.name, Span::call_site()),
            out: TokenStream::new(),
        };
        stage(&f, layer)
    });
    quote!(#(#pushes)*)
}

/// One layer outside a pipeline.
fn step(p: &Paths, layer: &Checked, mode: Mode) -> TokenStream {
    let dfdx = &p.dfdx;
    let tape = tape(p, mode);
    let shape = batch_shape(p, &layer.output);
    let step = layer
        .layer
        .def
        .step
        .expect("a layer without a step runs on feature maps, in pipelines");
    let f = Forward {
        paths: p,
        mode,
        field: Ident::new(&layer.name, Span::call_site()),
        out: quote!(#dfdx::tensor::Tensor<#shape, E, D, #tape>),
    };
    step(&f, layer)
}
