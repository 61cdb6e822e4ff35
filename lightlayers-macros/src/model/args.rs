//! Matching a call's arguments against what a layer accepts.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::Ident;

use super::suggest::hint;
use crate::parse::{Arg, Call, Chain};

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
    /// The LightLayers variant of a full-rank layer: `dense(10, k = 8)` most likely meant it.
    pub factorized: Option<&'static Signature>,
}

/// A call's arguments, each under its canonical name: positional, named (`k = 3`) and
/// labelled (`shortcut: chain`) alike, so that lookups need not care how one was written.
pub struct Matched<'a> {
    /// The value (a one-layer chain for ordinary arguments) and the argument's span.
    pub values: HashMap<&'static str, (&'a Chain, Span)>,
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
        let mut values = HashMap::new();
        let mut next_positional = 0;
        let mut seen_named = false;
        for arg in call.args.iter().flatten() {
            let (name, chain, span) = match arg {
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
                    (name, chain, chain.span)
                }
                Arg::Named(ident, chain) => {
                    seen_named = true;
                    match self.canonical(ident) {
                        Some(name) if self.labelled.contains(&name) => {
                            errors.push(syn::Error::new(
                                ident.span(),
                                format!("write `{ident}: ...`, not `{ident} = ...`"),
                            ));
                            continue;
                        }
                        Some(name) => (name, chain, ident.span()),
                        None => {
                            errors.push(self.unknown(ident));
                            continue;
                        }
                    }
                }
                Arg::Labelled(ident, chain) => {
                    seen_named = true;
                    match self.canonical(ident) {
                        Some(name) if self.labelled.contains(&name) => (name, chain, ident.span()),
                        Some(_) => {
                            errors.push(syn::Error::new(
                                ident.span(),
                                format!("write `{ident} = value`, not `{ident}: value`"),
                            ));
                            continue;
                        }
                        None => {
                            errors.push(self.unknown(ident));
                            continue;
                        }
                    }
                }
            };
            if values.contains_key(name) {
                errors.push(syn::Error::new(
                    span,
                    format!("argument `{name}` given twice"),
                ));
                continue;
            }
            values.insert(name, (chain, span));
        }
        Matched { values }
    }

    fn unknown(&self, ident: &Ident) -> syn::Error {
        let word = ident.to_string();
        let help = match self.factorized {
            Some(light) if light.canonical(ident).is_some() => {
                format!("; `{word}` is an argument of `{}`", light.layer)
            }
            _ => hint(&word, self.all()),
        };
        syn::Error::new(
            ident.span(),
            format!("unknown argument `{word}`: {}{help}", self.expected()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Layer;

    const SIG: Signature = Signature {
        layer: "demo",
        positional: &["filters"],
        named: &["kernel"],
        labelled: &["shortcut"],
        factorized: Some(&Signature {
            layer: "light_demo",
            positional: &[],
            named: &["k"],
            labelled: &[],
            factorized: None,
        }),
    };

    /// The argument names `src` binds, sorted, and the errors it raises.
    fn run(src: &str) -> (Vec<&'static str>, Vec<String>) {
        let Ok(Layer::Call(call)) = syn::parse_str::<Layer>(src) else {
            panic!("`{src}` is not a call");
        };
        let mut errors = Vec::new();
        let mut names: Vec<&str> = SIG
            .match_call(&call, &mut errors)
            .values
            .into_keys()
            .collect();
        names.sort_unstable();
        (names, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn positional_arguments_may_be_named() {
        assert_eq!(
            run("demo(8, kernel = 3)"),
            (vec!["filters", "kernel"], vec![])
        );
        assert_eq!(
            run("demo(filters = 8, kernel = 3)"),
            (vec!["filters", "kernel"], vec![])
        );
        assert_eq!(
            run("demo(8, shortcut: relu -> bn)").0,
            vec!["filters", "shortcut"]
        );
    }

    #[test]
    fn rejects_misplaced_arguments() {
        let errors = |src| run(src).1;
        assert_eq!(
            errors("demo(8, filters = 16)"),
            ["argument `filters` given twice"]
        );
        assert_eq!(
            errors("demo(kernel = 3, 8)"),
            ["positional arguments must come before named ones"]
        );
        assert_eq!(
            errors("demo(8, 16)"),
            ["too many arguments: `demo` accepts `filters`, `kernel`, `shortcut`"]
        );
        assert_eq!(
            errors("demo(8, kernel: 3)"),
            ["write `kernel = value`, not `kernel: value`"]
        );
        assert_eq!(
            errors("demo(8, shortcut = relu)"),
            ["write `shortcut: ...`, not `shortcut = ...`"]
        );
        assert!(errors("demo(8, kernal = 3)")[0].ends_with("; did you mean `kernel`?"));
        assert!(errors("demo(8, k = 3)")[0].ends_with("; `k` is an argument of `light_demo`"));
    }
}
