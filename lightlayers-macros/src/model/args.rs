//! Matching a call's arguments against what a layer accepts.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::Ident;

use super::suggest::hint;
use crate::parse::{Arg, Call, Chain, Layer as SynLayer};

/// What a layer accepts.
pub struct Signature {
    /// The layer's name.
    pub layer: &'static str,
    /// Positional arguments, in order (each may also be given by name).
    pub positional: &'static [&'static str],
    /// Arguments that may only be named.
    pub named: &'static [&'static str],
    /// Arguments written `name: chain`.
    pub labelled: &'static [&'static str],
}

/// A call's arguments, each under its canonical name.
pub struct Matched<'a> {
    /// Single values and chains, by argument name.
    pub values: HashMap<&'static str, (&'a Chain, Span)>,
    /// Named values (`k = 3`), by argument name.
    pub named: HashMap<&'static str, (&'a SynLayer, Span)>,
}

impl Signature {
    fn all(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.positional
            .iter()
            .chain(self.named)
            .chain(self.labelled)
            .copied()
    }

    fn canonical(&self, name: &Ident) -> Option<&'static str> {
        self.all().find(|n| name == n)
    }

    fn expected(&self) -> String {
        let names: Vec<String> = self.all().map(|n| format!("`{n}`")).collect();
        if names.is_empty() {
            format!("`{}` takes no arguments", self.layer)
        } else {
            format!("`{}` accepts {}", self.layer, names.join(", "))
        }
    }

    /// Sorts the arguments of `call`, rejecting unknown, duplicate and surplus ones.
    pub fn match_call<'a>(&self, call: &'a Call, errors: &mut Vec<syn::Error>) -> Matched<'a> {
        let mut matched = Matched {
            values: HashMap::new(),
            named: HashMap::new(),
        };
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut next_positional = 0;
        let mut seen_named = false;
        for arg in call.args.iter().flatten() {
            let (canonical, span) = match arg {
                Arg::Positional(chain) => {
                    if seen_named {
                        errors.push(syn::Error::new(
                            chain.span,
                            "positional arguments must come before named ones",
                        ));
                        continue;
                    }
                    let Some(&name) = self.positional.get(next_positional) else {
                        errors.push(syn::Error::new(
                            chain.span,
                            format!("too many arguments: {}", self.expected()),
                        ));
                        continue;
                    };
                    next_positional += 1;
                    matched.values.insert(name, (chain, chain.span));
                    (name, chain.span)
                }
                Arg::Named(ident, value) => {
                    seen_named = true;
                    let Some(name) = self.canonical(ident).filter(|n| !self.labelled.contains(n))
                    else {
                        errors.push(self.unknown(ident));
                        continue;
                    };
                    if seen.contains_key(name) {
                        errors.push(syn::Error::new(
                            ident.span(),
                            format!("argument `{name}` given twice"),
                        ));
                        continue;
                    }
                    matched.named.insert(name, (value, ident.span()));
                    (name, ident.span())
                }
                Arg::Labelled(ident, chain) => {
                    seen_named = true;
                    let Some(name) = self.canonical(ident).filter(|n| self.labelled.contains(n))
                    else {
                        errors.push(if self.canonical(ident).is_some() {
                            syn::Error::new(
                                ident.span(),
                                format!("write `{ident} = value`, not `{ident}: value`"),
                            )
                        } else {
                            self.unknown(ident)
                        });
                        continue;
                    };
                    if seen.contains_key(name) {
                        errors.push(syn::Error::new(
                            ident.span(),
                            format!("argument `{name}` given twice"),
                        ));
                        continue;
                    }
                    matched.values.insert(name, (chain, ident.span()));
                    (name, ident.span())
                }
            };
            seen.insert(canonical, span);
        }
        matched
    }

    fn unknown(&self, ident: &Ident) -> syn::Error {
        syn::Error::new(
            ident.span(),
            format!(
                "unknown argument `{ident}`: {}{}",
                self.expected(),
                hint(&ident.to_string(), self.all())
            ),
        )
    }
}
