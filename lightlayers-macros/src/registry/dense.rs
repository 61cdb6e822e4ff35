//! `dense` and `light_dense`: the classifier heads.

use proc_macro2::TokenStream;
use quote::quote;

use super::{LayerDef, NONE};
use crate::checks::{Checked, Shape, ShapeCx};
use crate::expand::{Forward, Paths};
use crate::model::{Layer, Param, ParamKind, Signature};

const LIGHT_DENSE_SIGNATURE: Signature = Signature {
    layer: "light_dense",
    params: &[
        Param::positional("units", ParamKind::Size, "the number of outputs")
            .required("needs the number of outputs, e.g. `light_dense(10, k = 8)`"),
        // the paper always uses 8
        Param::named("k", ParamKind::Size, "the rank `k`").default("8"),
    ],
    factorized: None,
};

/// `dense(N)`: Keras's Dense (kernel stored I×N).
pub const DENSE: LayerDef = LayerDef {
    signature: Signature {
        layer: "dense",
        params: &[
            Param::positional("units", ParamKind::Size, "the number of outputs")
                .required("needs the number of outputs, e.g. `dense(10)`"),
        ],
        factorized: Some(&LIGHT_DENSE_SIGNATURE),
    },
    aliases: &["linear", "fc", "fullyconnected"],
    kind: "Dense",
    row: "dense",
    shape: dense_shape,
    generics: Some(dense_generics),
    step: Some(forward),
    ..NONE
};

/// `light_dense(N, k = 8)`: the paper's LightDense, I×k then k×N.
pub const LIGHT_DENSE: LayerDef = LayerDef {
    signature: LIGHT_DENSE_SIGNATURE,
    aliases: &[],
    kind: "LightDense",
    row: "light_dense",
    generics: Some(light_dense_generics),
    ..DENSE
};

fn dense_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    cx.vector(layer, input)?;
    Some(Shape::Vector {
        n: layer.args.size("units").clone(),
    })
}

/// `I, O` of `Dense`.
fn dense_generics(_: &Paths, layer: &Layer, input: &Shape) -> TokenStream {
    let i = input.channels().expr();
    let o = layer.args.size("units").expr();
    quote!(#i, #o)
}

/// `I, O, R` of `LightDense`.
fn light_dense_generics(_: &Paths, layer: &Layer, input: &Shape) -> TokenStream {
    let i = input.channels().expr();
    let o = layer.args.size("units").expr();
    let r = layer.args.size("k").expr();
    quote!(#i, #o, #r)
}

fn forward(f: &Forward, _: &Checked) -> TokenStream {
    let (dfdx, field, out) = (&f.paths.dfdx, &f.field, &f.out);
    quote!(let x: #out = #dfdx::nn::Module::try_forward(&self.#field, x)?;)
}
