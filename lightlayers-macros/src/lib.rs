//! The `network!` procedural macro of lightlayers, in four stages as in serde_derive, one
//! module each: `parse` (syntax with spans) → `model` (layers resolved, blocks inlined) →
//! `checks` (shape inference, errors on the offending layer) → `expand` (code). Every layer is
//! described once, in `registry`; every stage reports into one `errors::Errors`.
//!
//! Use it through the `lightlayers` crate, whose documentation describes the language.

mod checks;
mod errors;
mod expand;
mod model;
mod parse;
mod registry;

use std::collections::HashMap;

use proc_macro::TokenStream;

use crate::errors::Errors;

/// Declares networks as chains of layers and expands each into a statically shaped dfdx model.
///
/// ```text
/// network! {
///     /// Optional reusable sub-chains with value parameters:
///     block light_block(f) = light_conv(f, k = K) -> bn -> relu -> max_pool(2);
///
///     /// One or more networks:
///     pub Name<const K: usize> = input(1, 28, 28) -> light_block(8) -> light_block(16)
///         -> global_avg_pool -> light_dense(10, k = 8) -> softmax
/// }
/// ```
///
/// Layers: `conv(F, kernel = 3, stride = 1, padding = same)`, `separable_conv(F, ...)`,
/// `light_conv(F, k = R, kernel = 3, stride = 1, padding = same, l2 = 1e-4)`, `dense(N)`,
/// `light_dense(N, k = 8)`, `bn`, `relu`, `max_pool(2)`, `global_avg_pool`, `flatten`,
/// `residual(MAIN, shortcut: SHORTCUT)` (no shortcut: identity) and a final `softmax`.
///
/// For a network `Name` it generates the zero-sized type `Name` (implementing
/// `lightlayers::Network` and dfdx's `BuildOnDevice`) and the module `NameModel<.., E, D>`
/// (dfdx `Module` for inference, `ModuleMut` for training, `TensorCollection`).
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    let invocation = syn::parse_macro_input!(input as parse::Invocation);
    let errors = Errors::default();
    let mut out = proc_macro2::TokenStream::new();
    let blocks = blocks(&invocation, &errors);
    let networks: Vec<&parse::NetworkDef> = invocation
        .items
        .iter()
        .filter_map(|item| match item {
            parse::Item::Network(def) => Some(def),
            parse::Item::Block(_) => None,
        })
        .collect();
    if networks.is_empty() {
        // point at the blocks that were written, if any: they are what lacks a network
        let (span, advice) = match invocation.items.first() {
            Some(parse::Item::Block(block)) => (block.name.span(), "after the blocks, write"),
            _ => (proc_macro2::Span::call_site(), "write"),
        };
        errors.at(span, format!(
            "network! declares no network: {advice} `pub Name = input(channels, height, width) -> layer -> ...`"
        ));
    }
    for def in networks {
        // a network with errors expands to nothing; the others still expand, so that their
        // uses raise no errors of their own
        let checked = model::resolve(def, &blocks, &errors).and_then(|n| checks::check(n, &errors));
        if let Some(checked) = checked {
            out.extend(expand::expand(&checked));
        }
    }
    out.extend(errors.into_compile_errors());
    out.into()
}

/// The invocation's blocks by name; reports a name defined twice.
fn blocks<'a>(
    invocation: &'a parse::Invocation,
    errors: &Errors,
) -> HashMap<String, &'a parse::BlockDef> {
    let mut blocks: HashMap<String, &parse::BlockDef> = HashMap::new();
    for item in &invocation.items {
        if let parse::Item::Block(block) = item {
            if let Some(first) = blocks.insert(block.name.to_string(), block) {
                let mut e = syn::Error::new(
                    block.name.span(),
                    format!("block `{}` is defined twice", block.name),
                );
                e.combine(syn::Error::new(
                    first.name.span(),
                    "note: first defined here",
                ));
                errors.push(e);
            }
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages `network! { src }` reports before expansion (notes left out).
    pub fn messages(src: &str) -> Vec<String> {
        let invocation: parse::Invocation = syn::parse_str(src).expect("parses");
        let errors = Errors::default();
        let blocks = blocks(&invocation, &errors);
        for item in &invocation.items {
            if let parse::Item::Network(def) = item {
                if let Some(network) = model::resolve(def, &blocks, &errors) {
                    checks::check(network, &errors);
                }
            }
        }
        errors.messages()
    }

    #[test]
    fn residual_branches_need_feature_maps() {
        assert_eq!(
            messages("Net = input(1, 8, 8) -> global_avg_pool -> residual(dense(1)) -> dense(2)"),
            ["`residual` needs feature maps, but its input is a vector of 1: convolutions and pooling go before `global_avg_pool` (or `flatten`)"]
        );
    }

    #[test]
    fn reports_every_network_once_in_order() {
        assert_eq!(
            messages(
                "A = input(1, 8, 8) -> conv(0) -> dense(2)
                 B = input(1, 8, 8) -> conv(4) -> global_avg_pool -> dense(2)
                 C = input(1, 8, 8) -> dense(2)"
            ),
            [
                "the number of filters must be at least 1",
                "`dense` needs a vector, but its input is 1×8×8 feature maps: pool the spatial dimensions first with `global_avg_pool` (or `flatten`)",
            ]
        );
    }
}
