//! Every layer the DSL knows, each described once: its name, other libraries' names for it,
//! the arguments it accepts, its shape rule, the core types it expands to (which carry its
//! parameter and cost formulas) and its forward code. Parsing, checks and expansion iterate
//! over this table and call these hooks; adding a layer is adding an entry here.

mod activation;
mod batch_norm;
mod conv;
mod dense;
mod pooling;
mod residual;

use proc_macro2::TokenStream;

use crate::checks::{Checked, Shape, ShapeCx};
use crate::expand::{Forward, Paths};
use crate::model::{Layer, Signature};

/// One layer of the DSL.
pub struct LayerDef {
    /// Its name in the DSL and the arguments it accepts.
    pub signature: Signature,
    /// Other libraries' names for it, normalized as `model::aliases` compares them
    /// (`batchnormalization`), for "did you mean" hints.
    pub aliases: &'static [&'static str],
    /// Its type in the summary; for a layer with weights also the name of its builder (in
    /// `lightlayers_core::layers::builder`) and module (in `lightlayers_core::layers`).
    pub kind: &'static str,
    /// The base of its names in the model and summary: `conv` gives `conv_1`, `conv_2`...
    pub row: &'static str,
    /// Its output shape for `input`; reports through the context and gives `None` when the
    /// layer cannot take that input.
    pub shape: fn(&mut ShapeCx, &Layer, &Shape) -> Option<Shape>,
    /// The const generics of its builder and module (for the input it gets); `None` for a
    /// layer without weights. The builder's `ParamCount` and `MacCount` give its costs: the
    /// formulas live beside the layer, in `lightlayers_core::layers`.
    pub generics: Option<fn(&Paths, &Layer, &Shape) -> TokenStream>,
    /// Statements pushing its stages, when it runs inside a fused pipeline (feature maps in and
    /// out).
    pub stage: Option<fn(&Forward, &Checked) -> TokenStream>,
    /// The statement computing its output `x` from `x`, when it runs on its own.
    pub step: Option<fn(&Forward, &Checked) -> TokenStream>,
    /// What `forward` applies to the scores when the network ends with this layer (the
    /// trainer works on the scores before it).
    pub finish: Option<fn(&Paths) -> TokenStream>,
    /// Its module has a weight penalty to add to the loss (`try_penalty`).
    pub penalty: bool,
    /// Statements adjusting its freshly built module (`model.<field>`), such as an explicit L2.
    pub configure: Option<fn(&Layer, &TokenStream) -> TokenStream>,
}

/// The layers, in the order messages list them.
pub const LAYERS: &[&LayerDef] = &[
    &conv::CONV,
    &conv::SEPARABLE_CONV,
    &conv::LIGHT_CONV,
    &dense::DENSE,
    &dense::LIGHT_DENSE,
    &batch_norm::BATCH_NORM,
    &activation::RELU,
    &activation::SOFTMAX,
    &pooling::MAX_POOL,
    &pooling::GLOBAL_AVG_POOL,
    &pooling::FLATTEN,
    &residual::RESIDUAL,
];

/// The layer called `name` in the DSL.
pub fn find(name: &str) -> Option<&'static LayerDef> {
    LAYERS.iter().copied().find(|d| d.signature.layer == name)
}

/// The DSL's layer names.
pub fn names() -> impl Iterator<Item = &'static str> {
    LAYERS.iter().map(|d| d.signature.layer)
}

/// What an entry says unless it says otherwise (`..NONE`): no arguments, the shape unchanged,
/// no weights, no forward code.
const NONE: LayerDef = LayerDef {
    signature: Signature {
        layer: "",
        params: &[],
        factorized: None,
    },
    aliases: &[],
    kind: "",
    row: "",
    shape: unchanged,
    generics: None,
    stage: None,
    step: None,
    finish: None,
    penalty: false,
    configure: None,
};

/// The shape rule of a layer that keeps its input's shape.
fn unchanged(_: &mut ShapeCx, _: &Layer, input: &Shape) -> Option<Shape> {
    Some(input.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::model::normalize;

    #[test]
    fn names_and_aliases_are_unique_and_normalized() {
        let mut seen = HashSet::new();
        for def in LAYERS {
            let name = def.signature.layer;
            assert!(!name.is_empty() && !def.kind.is_empty() && !def.row.is_empty());
            assert!(seen.insert(normalize(name)), "`{name}` twice");
            for alias in def.aliases {
                assert_eq!(normalize(alias), *alias, "alias of `{name}`");
                assert!(seen.insert(alias.to_string()), "alias `{alias}` twice");
            }
        }
    }

    #[test]
    fn every_layer_runs_somewhere() {
        for def in LAYERS {
            assert!(
                def.stage.is_some() || def.step.is_some(),
                "`{}` has no forward code",
                def.signature.layer
            );
        }
    }
}
