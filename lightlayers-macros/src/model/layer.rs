//! The network as a list of resolved layers: each names its entry in the registry and carries
//! its arguments, typed, with blocks inlined.

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use super::value::Dim;
use crate::registry::LayerDef;

/// How a convolution pads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Keras `same`.
    Same,
    /// Keras `valid`.
    Valid,
}

/// A number together with where it was written.
#[derive(Clone, Copy)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its source location.
    pub span: Span,
}

/// One typed argument value.
#[derive(Clone)]
pub enum ArgValue {
    /// [`crate::model::ParamKind::Size`].
    Size(Dim),
    /// [`crate::model::ParamKind::Literal`].
    Literal(Spanned<usize>),
    /// [`crate::model::ParamKind::Padding`].
    Padding(Padding),
    /// [`crate::model::ParamKind::Float`].
    Float(f64),
    /// [`crate::model::ParamKind::Chain`].
    Chain(Vec<Layer>),
}

/// A layer's arguments after resolution, defaults filled in. The accessors expect what the
/// layer's signature guarantees (a required or defaulted argument of the asked kind): asking
/// for anything else is a mistake in the registry, which the macro's tests exercise.
#[derive(Clone, Default)]
pub struct Args {
    values: Vec<(&'static str, ArgValue)>,
}

impl Args {
    /// Records `name`'s value.
    pub fn insert(&mut self, name: &'static str, value: ArgValue) {
        self.values.push((name, value));
    }

    fn get(&self, name: &str) -> Option<&ArgValue> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn missing(name: &str) -> ! {
        panic!("the registry asks for argument `{name}`, which its signature does not guarantee")
    }

    /// A size argument.
    pub fn size(&self, name: &str) -> &Dim {
        match self.get(name) {
            Some(ArgValue::Size(d)) => d,
            _ => Self::missing(name),
        }
    }

    /// A literal argument.
    pub fn literal(&self, name: &str) -> Spanned<usize> {
        match self.get(name) {
            Some(ArgValue::Literal(n)) => *n,
            _ => Self::missing(name),
        }
    }

    /// A padding argument.
    pub fn padding(&self, name: &str) -> Padding {
        match self.get(name) {
            Some(ArgValue::Padding(p)) => *p,
            _ => Self::missing(name),
        }
    }

    /// An optional number, `None` when the call left it out.
    pub fn float(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            Some(ArgValue::Float(f)) => Some(*f),
            None => None,
            Some(_) => Self::missing(name),
        }
    }

    /// A branch; empty when the call left it out.
    pub fn chain(&self, name: &str) -> &[Layer] {
        match self.get(name) {
            Some(ArgValue::Chain(c)) => c,
            None => &[],
            Some(_) => Self::missing(name),
        }
    }
}

/// One layer and where it came from.
#[derive(Clone)]
pub struct Layer {
    /// What it is.
    pub def: &'static LayerDef,
    /// Its arguments.
    pub args: Args,
    /// The layer's name in the source.
    pub span: Span,
    /// The blocks it was expanded from, innermost first: (block name, call site).
    pub origin: Vec<(String, Span)>,
}

/// The network's declared input.
#[derive(Clone)]
pub struct Input {
    /// Channels.
    pub channels: Dim,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

/// A network after resolution.
pub struct Network {
    /// Attributes to forward.
    pub attrs: Vec<Attribute>,
    /// Visibility.
    pub vis: Visibility,
    /// Name.
    pub name: Ident,
    /// The const parameters, in order.
    pub const_params: Vec<Ident>,
    /// The input.
    pub input: Input,
    /// The layers after the input.
    pub layers: Vec<Layer>,
}

impl Layer {
    /// The name written in the DSL.
    pub fn dsl_name(&self) -> &'static str {
        self.def.signature.layer
    }

    /// An error at this layer, with a note per block it was expanded from.
    pub fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        error_with_origin(self.span, &self.origin, message)
    }
}

/// An error at `span`; when the code came from blocks, one note per call site follows.
pub fn error_with_origin(
    span: Span,
    origin: &[(String, Span)],
    message: impl std::fmt::Display,
) -> syn::Error {
    let mut err = syn::Error::new(span, message);
    for (block, site) in origin {
        err.combine(syn::Error::new(
            *site,
            format!("note: in block `{block}` used here"),
        ));
    }
    err
}
