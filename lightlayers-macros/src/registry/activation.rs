//! `relu` and `softmax`.

use proc_macro2::TokenStream;
use quote::quote;

use super::{LayerDef, NONE};
use crate::checks::{Checked, Shape, ShapeCx};
use crate::expand::{Forward, Paths};
use crate::model::{Layer, Signature};

/// `relu`.
pub const RELU: LayerDef = LayerDef {
    signature: Signature {
        layer: "relu",
        params: &[],
        factorized: None,
    },
    kind: "ReLU",
    row: "relu",
    stage: Some(relu_stage),
    step: Some(relu_step),
    ..NONE
};

/// `softmax`: the last layer; `forward` returns probabilities, training works on the scores.
pub const SOFTMAX: LayerDef = LayerDef {
    signature: Signature {
        layer: "softmax",
        params: &[],
        factorized: None,
    },
    kind: "Softmax",
    row: "softmax",
    shape: softmax_shape,
    step: Some(scores),
    finish: Some(softmax),
    ..NONE
};

fn relu_stage(f: &Forward, _: &Checked) -> TokenStream {
    let stage = f.paths.stage();
    quote!(stages.push(#stage::Relu);)
}

fn relu_step(f: &Forward, _: &Checked) -> TokenStream {
    let out = &f.out;
    quote!(let x: #out = x.try_relu()?;)
}

/// Nothing: the chain computes scores, and `forward` applies [`softmax`] to them.
fn scores(_: &Forward, _: &Checked) -> TokenStream {
    TokenStream::new()
}

fn softmax_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    cx.vector(layer, input)?;
    if !cx.last {
        return cx.fail(
            layer,
            "`softmax` must be the network's last layer (training works on the scores before it)",
        );
    }
    Some(input.clone())
}

fn softmax(p: &Paths) -> TokenStream {
    let dfdx = &p.dfdx;
    quote!(x.try_softmax::<#dfdx::shapes::Axis<1>>())
}
