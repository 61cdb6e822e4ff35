//! The `network!` procedural macro of lightlayers, in four stages as in serde_derive:
//! [`parse`] (syntax with spans) → [`model`] (layers resolved, blocks inlined) →
//! [`checks`] (shape inference, errors on the offending layer) → [`expand`] (code).
//!
//! Use it through the `lightlayers` crate, whose documentation describes the language.

mod checks;
mod expand;
mod model;
mod parse;

use std::collections::HashMap;

use proc_macro::TokenStream;

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
    let mut blocks: HashMap<String, &parse::BlockDef> = HashMap::new();
    let mut out = proc_macro2::TokenStream::new();
    let mut any_network = false;
    for item in &invocation.items {
        match item {
            parse::Item::Block(block) => {
                if let Some(first) = blocks.insert(block.name.to_string(), block) {
                    let mut e = syn::Error::new(
                        block.name.span(),
                        format!("block `{}` is defined twice", block.name),
                    );
                    e.combine(syn::Error::new(
                        first.name.span(),
                        "note: first defined here",
                    ));
                    out.extend(e.to_compile_error());
                }
            }
            parse::Item::Network(_) => any_network = true,
        }
    }
    if !any_network {
        // point at the blocks that were written, if any: they are what lacks a network
        let (span, advice) = match invocation.items.first() {
            Some(parse::Item::Block(block)) => (block.name.span(), "after the blocks, write"),
            _ => (proc_macro2::Span::call_site(), "write"),
        };
        let msg = format!(
            "network! declares no network: {advice} `pub Name = input(channels, height, width) -> layer -> ...`"
        );
        out.extend(syn::Error::new(span, msg).to_compile_error());
        return out.into();
    }
    for item in &invocation.items {
        if let parse::Item::Network(def) = item {
            let expanded = model::resolve(def, &blocks)
                .and_then(checks::check)
                .map(|checked| expand::expand(&checked));
            match expanded {
                Ok(tokens) => out.extend(tokens),
                Err(e) => out.extend(e.to_compile_error()),
            }
        }
    }
    out.into()
}
