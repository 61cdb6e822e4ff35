//! Values written in a network: sizes, rates and keywords.

use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::{Ident, LitInt};

/// An argument after block parameters have been substituted.
#[derive(Clone)]
pub enum Value {
    /// An integer literal.
    Int(usize, Span),
    /// A float literal.
    Float(f64, Span),
    /// A name: a const parameter of the network, or a keyword such as `same`.
    Ident(Ident),
}

impl Value {
    /// Where the value was written.
    pub fn span(&self) -> Span {
        match self {
            Value::Int(_, s) | Value::Float(_, s) => *s,
            Value::Ident(i) => i.span(),
        }
    }
}

/// A size that is either a literal or one of the network's const parameters, such as the
/// number of filters or the rank `k`.
#[derive(Clone)]
pub enum Dim {
    /// A number known while expanding.
    Lit(usize, Span),
    /// A `const X: usize` of the network, known only once the type is instantiated.
    Param(Ident),
}

impl Dim {
    /// The number, if it is a literal.
    pub fn literal(&self) -> Option<usize> {
        match self {
            Dim::Lit(n, _) => Some(*n),
            Dim::Param(_) => None,
        }
    }

    /// Where it was written.
    pub fn span(&self) -> Span {
        match self {
            Dim::Lit(_, s) => *s,
            Dim::Param(i) => i.span(),
        }
    }

    /// True when both are provably the same size (same literal, or same parameter).
    pub fn same_as(&self, other: &Dim) -> bool {
        match (self, other) {
            (Dim::Lit(a, _), Dim::Lit(b, _)) => a == b,
            (Dim::Param(a), Dim::Param(b)) => a == b,
            _ => false,
        }
    }

    /// The size as Rust code: the literal, or the parameter's name.
    pub fn expr(&self) -> TokenStream {
        match self {
            Dim::Lit(n, span) => LitInt::new(&n.to_string(), *span).into_token_stream(),
            Dim::Param(i) => i.to_token_stream(),
        }
    }

    /// The size as a dfdx dimension type: `Const<8>` or `Const<K>`.
    pub fn const_type(&self, dfdx: &TokenStream) -> TokenStream {
        let expr = self.expr();
        quote_spanned!(self.span()=> #dfdx::shapes::Const<#expr>)
    }
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Lit(n, _) => write!(f, "{n}"),
            Dim::Param(i) => write!(f, "{i}"),
        }
    }
}
