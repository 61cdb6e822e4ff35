//! `bn`: batch normalisation as Keras does it, on feature maps or vectors.

use proc_macro2::TokenStream;
use quote::quote;

use super::{LayerDef, NONE};
use crate::checks::{Checked, Shape};
use crate::expand::{Forward, Mode, Paths};
use crate::model::{Layer, Signature};

/// `bn`: Keras's BatchNormalization.
pub const BATCH_NORM: LayerDef = LayerDef {
    signature: Signature {
        layer: "bn",
        params: &[],
        factorized: None,
    },
    aliases: &["batchnorm", "batchnormalization"],
    kind: "BatchNorm",
    row: "bn",
    generics: Some(channels),
    stage: Some(stage),
    step: Some(step),
    ..NONE
};

/// `C` of `BatchNorm`.
fn channels(_: &Paths, _: &Layer, input: &Shape) -> TokenStream {
    input.channels().expr()
}

/// Batch statistics while training, moving ones for inference.
fn stage(f: &Forward, _: &Checked) -> TokenStream {
    let field = &f.field;
    match f.mode {
        Mode::Infer => quote!(stages.push(self.#field.infer_stage());),
        Mode::Train => quote!(stages.push(self.#field.train_stage());),
    }
}

fn step(f: &Forward, _: &Checked) -> TokenStream {
    let (dfdx, field, out) = (&f.paths.dfdx, &f.field, &f.out);
    match f.mode {
        Mode::Infer => quote!(let x: #out = #dfdx::nn::Module::try_forward(&self.#field, x)?;),
        Mode::Train => {
            quote!(let x: #out = #dfdx::nn::ModuleMut::try_forward_mut(&mut self.#field, x)?;)
        }
    }
}
