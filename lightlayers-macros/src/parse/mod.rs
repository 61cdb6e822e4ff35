//! Syntax of a `network!` invocation, parsed with syn and kept close to the source (every node
//! carries its span so later stages can point at it).
//!
//! ```text
//! invocation := item*
//! item       := block | network
//! block      := "block" IDENT ("(" IDENT,* ")")? "=" chain ";"
//! network    := attribute* visibility IDENT generics? "=" chain ";"?
//! chain      := layer ("->" layer)*
//! layer      := IDENT ("(" arg,* ")")? | INTEGER | FLOAT
//! arg        := IDENT "=" chain | IDENT ":" chain | chain
//! ```
//! A network's chain starts with `input(C, H, W)`. Arguments are parsed as chains so that
//! `residual(main -> chain, shortcut: other -> chain)` needs no special syntax; later stages
//! insist that ordinary arguments are single values (one rule for positional and named ones,
//! so that `conv(filters = 8)` means `conv(8)`).

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    braced, parenthesized, token, Attribute, Generics, Ident, LitFloat, LitInt, LitStr, Token,
    Visibility,
};

/// The error for a negative number (syn reads `-1` as one literal, `-K` as `-` and a name).
pub const NEGATIVE: &str = "expected a positive number: sizes, strides and `l2` cannot be negative";

/// Everything between the macro's braces.
pub struct Invocation {
    /// Blocks and networks in source order.
    pub items: Vec<Item>,
}

/// A top-level definition.
pub enum Item {
    /// `block name(params) = chain;`
    Block(BlockDef),
    /// `pub Name<const K: usize> = input(...) -> ...`
    Network(NetworkDef),
}

/// A reusable sub-chain with value parameters.
pub struct BlockDef {
    /// The block's name, as used in chains.
    pub name: Ident,
    /// Parameter names, substituted by the call's arguments.
    pub params: Vec<Ident>,
    /// The layers.
    pub body: Chain,
}

/// A network definition.
pub struct NetworkDef {
    /// Outer attributes (doc comments, `#[allow]`...), forwarded to the generated type.
    pub attrs: Vec<Attribute>,
    /// Visibility of the generated types.
    pub vis: Visibility,
    /// The network's name.
    pub name: Ident,
    /// Its generic parameters (only `const X: usize` are accepted, checked later).
    pub generics: Generics,
    /// `input(...) -> layer -> ...`
    pub chain: Chain,
}

/// Layers joined by `->`.
#[derive(Clone)]
pub struct Chain {
    /// The layers in order.
    pub layers: Vec<Layer>,
    /// Span of the whole chain (its first token), for errors about the chain itself.
    pub span: Span,
}

/// One element of a chain: a layer call, or a bare value (meaningful only as an argument).
#[derive(Clone)]
pub enum Layer {
    /// `name` or `name(args)`.
    Call(Call),
    /// An integer literal.
    Int(LitInt),
    /// A float literal.
    Float(LitFloat),
}

/// `name(args)`.
#[derive(Clone)]
pub struct Call {
    /// The layer (or block) name.
    pub name: Ident,
    /// The arguments, if parentheses were written.
    pub args: Option<Vec<Arg>>,
    /// Span of the parentheses (or of the name when there are none).
    pub args_span: Span,
}

/// One argument of a call.
#[derive(Clone)]
pub enum Arg {
    /// A positional argument.
    Positional(Chain),
    /// `name = value`.
    Named(Ident, Chain),
    /// `name: chain` (the residual's `shortcut:`).
    Labelled(Ident, Chain),
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
        }
        Ok(Invocation { items })
    }
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident)
            && input.fork().parse::<Ident>().is_ok_and(|i| i == "block")
            && input.peek2(Ident)
        {
            let _block: Ident = input.parse()?;
            let name: Ident = input.parse()?;
            let mut params = Vec::new();
            if input.peek(token::Paren) {
                let content;
                parenthesized!(content in input);
                params = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?
                    .into_iter()
                    .collect();
            }
            input.parse::<Token![=]>()?;
            let body: Chain = input.parse()?;
            input.parse::<Token![;]>()?;
            return Ok(Item::Block(BlockDef { name, params, body }));
        }
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse()?;
        let generics: Generics = input.parse()?;
        if input.peek(token::Brace) {
            // a common slip: `struct`-like braces instead of `=`
            let content;
            braced!(content in input);
            let _ = content;
            return Err(syn::Error::new(
                name.span(),
                "expected `=` and a chain of layers after the network's name",
            ));
        }
        input.parse::<Token![=]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `=` and a chain of layers, e.g. `= input(1, 28, 28) -> conv(8) -> ...`",
            )
        })?;
        let chain: Chain = input.parse()?;
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
        }
        Ok(Item::Network(NetworkDef {
            attrs,
            vis,
            name,
            generics,
            chain,
        }))
    }
}

impl Parse for Chain {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let span = input.span();
        let mut layers = vec![input.parse::<Layer>()?];
        while input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            layers.push(input.parse()?);
        }
        Ok(Chain { layers, span })
    }
}

impl Parse for Layer {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitInt) {
            return Ok(Layer::Int(input.parse()?));
        }
        if input.peek(LitFloat) {
            return Ok(Layer::Float(input.parse()?));
        }
        if input.peek(LitStr) {
            // Keras writes `padding="valid"`; here keywords are bare names
            let lit: LitStr = input.parse()?;
            return Err(syn::Error::new(
                lit.span(),
                format!("write `{}` without quotes", lit.value()),
            ));
        }
        if input.peek(Token![-]) && !input.peek(Token![->]) {
            return Err(input.error(NEGATIVE));
        }
        if !input.peek(Ident) {
            return Err(input.error("expected a layer, such as `conv(8)`, `bn` or `relu`"));
        }
        let name: Ident = input.parse()?;
        if input.peek(token::Paren) {
            let content;
            let parens = parenthesized!(content in input);
            let args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?
                .into_iter()
                .collect();
            Ok(Layer::Call(Call {
                name,
                args: Some(args),
                args_span: parens.span.join(),
            }))
        } else {
            let args_span = name.span();
            Ok(Layer::Call(Call {
                name,
                args: None,
                args_span,
            }))
        }
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![=>]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Arg::Named(name, input.parse()?));
        }
        if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            return Ok(Arg::Labelled(name, input.parse()?));
        }
        Ok(Arg::Positional(input.parse()?))
    }
}

impl Layer {
    /// True for a negative number, which syn reads as one literal.
    pub fn is_negative(&self) -> bool {
        match self {
            Layer::Call(_) => false,
            Layer::Int(i) => i.base10_digits().starts_with('-'),
            Layer::Float(f) => f.base10_digits().starts_with('-'),
        }
    }

    /// Where this element starts.
    pub fn span(&self) -> Span {
        match self {
            Layer::Call(c) => c.name.span(),
            Layer::Int(i) => i.span(),
            Layer::Float(f) => f.span(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(src: &str) -> String {
        match syn::parse_str::<Chain>(src) {
            Ok(_) => panic!("`{src}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn explains_values_it_cannot_parse() {
        assert_eq!(
            error("conv(8, padding = \"same\")"),
            "write `same` without quotes"
        );
        assert_eq!(error("conv(K, stride = -K)"), NEGATIVE);
        assert!(error("conv(8) -> -> relu").starts_with("expected a layer"));
    }

    #[test]
    fn named_arguments_take_chains() {
        let chain = syn::parse_str::<Chain>("conv(filters = 8)").expect("parses");
        let Layer::Call(call) = &chain.layers[0] else {
            panic!("not a call");
        };
        assert!(
            matches!(&call.args.as_deref(), Some([Arg::Named(n, c)]) if n == "filters" && c.layers.len() == 1)
        );
    }
}
