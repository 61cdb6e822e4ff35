//! What a layer accepts, and matching a call's arguments against it.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::Ident;

use super::suggest::hint;
use crate::errors::Errors;
use crate::parse::{Arg, Call, Chain};

/// How an argument is written in a call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Passing {
    /// In its place (`conv(8)`), or by name (`conv(filters = 8)`).
    Positional,
    /// Only by name: `kernel = 3`.
    Named,
    /// `name: chain`, for branches of layers (the residual's `shortcut:`).
    Labelled,
}

/// What an argument's value must be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A positive integer or a const parameter of the network (channels, units, the rank).
    Size,
    /// A positive integer the macro must know while expanding (kernel, stride, pool sides).
    Literal,
    /// `same` or `valid`.
    Padding,
    /// A non-negative number, such as an L2 factor.
    Float,
    /// A chain of layers (a branch).
    Chain,
}

/// What happens when a call leaves an argument out.
#[derive(Clone, Copy)]
pub enum Need {
    /// An error: "`<layer>` " followed by this text, in which `{layer}` is the layer's name.
    Required(&'static str),
    /// This value, written as in the DSL (`3`, `same`): typed like a value the user wrote.
    Default(&'static str),
    /// Nothing: the layer does without (an empty chain for a branch).
    Optional,
}

/// One argument a layer accepts.
#[derive(Clone, Copy)]
pub struct Param {
    /// Its name (positional arguments may be given by it too).
    pub name: &'static str,
    /// How it is written.
    pub passing: Passing,
    /// What its value must be.
    pub kind: ParamKind,
    /// What it is, for messages about its value: "the number of filters".
    pub what: &'static str,
    /// What a call that leaves it out gets.
    pub need: Need,
}

impl Param {
    /// A positional argument, required.
    pub const fn positional(name: &'static str, kind: ParamKind, what: &'static str) -> Self {
        Param {
            name,
            passing: Passing::Positional,
            kind,
            what,
            need: Need::Required("needs an argument"),
        }
    }

    /// A named argument, optional.
    pub const fn named(name: &'static str, kind: ParamKind, what: &'static str) -> Self {
        Param {
            name,
            passing: Passing::Named,
            kind,
            what,
            need: Need::Optional,
        }
    }

    /// A labelled branch (`name: chain`), optional.
    pub const fn labelled(name: &'static str, what: &'static str) -> Self {
        Param {
            name,
            passing: Passing::Labelled,
            kind: ParamKind::Chain,
            what,
            need: Need::Optional,
        }
    }

    /// Required, with the rest of the message a call without it gets: "needs the number of
    /// filters, e.g. `{layer}(8)`".
    pub const fn required(self, help: &'static str) -> Self {
        Param {
            need: Need::Required(help),
            ..self
        }
    }

    /// Optional, taking `value` (as written in the DSL) when left out.
    pub const fn default(self, value: &'static str) -> Self {
        Param {
            need: Need::Default(value),
            ..self
        }
    }
}

/// What a layer (or the input) accepts.
pub struct Signature {
    /// The layer's name in the DSL.
    pub layer: &'static str,
    /// Its arguments: positional ones in order, then named, then labelled (the order messages
    /// list them in).
    pub params: &'static [Param],
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
        self.params.iter().map(|p| p.name)
    }

    fn param(&self, name: &Ident) -> Option<&'static Param> {
        self.params.iter().find(|p| name == p.name)
    }

    fn expected(&self) -> String {
        let names: Vec<String> = self.all().map(|n| format!("`{n}`")).collect();
        if names.is_empty() {
            format!("`{}` takes no arguments", self.layer)
        } else {
            format!("`{}` accepts {}", self.layer, names.join(", "))
        }
    }

    /// The message for a call that leaves out an argument [`Need::Required`] with `help`.
    pub fn missing(&self, help: &str) -> String {
        format!("`{}` {}", self.layer, help.replace("{layer}", self.layer))
    }

    /// Sorts the arguments of `call`, reporting unknown, duplicate and surplus ones.
    pub fn match_call<'a>(&self, call: &'a Call, errors: &Errors) -> Matched<'a> {
        let mut values = HashMap::new();
        let mut positional = self
            .params
            .iter()
            .filter(|p| p.passing == Passing::Positional);
        let mut seen_named = false;
        for arg in call.args.iter().flatten() {
            let (name, chain, span) = match arg {
                Arg::Positional(chain) => {
                    if seen_named {
                        errors.at(
                            chain.span,
                            "positional arguments must come before named ones",
                        );
                        continue;
                    }
                    let Some(param) = positional.next() else {
                        errors.at(
                            chain.span,
                            format!("too many arguments: {}", self.expected()),
                        );
                        continue;
                    };
                    (param.name, chain, chain.span)
                }
                Arg::Named(ident, chain) => {
                    seen_named = true;
                    match self.param(ident) {
                        Some(p) if p.passing == Passing::Labelled => {
                            errors.at(
                                ident.span(),
                                format!("write `{ident}: ...`, not `{ident} = ...`"),
                            );
                            continue;
                        }
                        Some(p) => (p.name, chain, ident.span()),
                        None => {
                            errors.push(self.unknown(ident));
                            continue;
                        }
                    }
                }
                Arg::Labelled(ident, chain) => {
                    seen_named = true;
                    match self.param(ident) {
                        Some(p) if p.passing == Passing::Labelled => (p.name, chain, ident.span()),
                        Some(_) => {
                            errors.at(
                                ident.span(),
                                format!("write `{ident} = value`, not `{ident}: value`"),
                            );
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
                errors.at(span, format!("argument `{name}` given twice"));
                continue;
            }
            values.insert(name, (chain, span));
        }
        Matched { values }
    }

    fn unknown(&self, ident: &Ident) -> syn::Error {
        let word = ident.to_string();
        let help = match self.factorized {
            Some(light) if light.param(ident).is_some() => {
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
        params: &[
            Param::positional("filters", ParamKind::Size, "the number of filters"),
            Param::named("kernel", ParamKind::Literal, "the kernel size"),
            Param::labelled("shortcut", "the shortcut"),
        ],
        factorized: Some(&Signature {
            layer: "light_demo",
            params: &[Param::named("k", ParamKind::Size, "the rank `k`")],
            factorized: None,
        }),
    };

    /// The argument names `src` binds, sorted, and the errors it raises.
    fn run(src: &str) -> (Vec<&'static str>, Vec<String>) {
        let Ok(Layer::Call(call)) = syn::parse_str::<Layer>(src) else {
            panic!("`{src}` is not a call");
        };
        let errors = Errors::default();
        let mut names: Vec<&str> = SIG.match_call(&call, &errors).values.into_keys().collect();
        names.sort_unstable();
        let messages = errors.messages();
        (names, messages)
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

    #[test]
    fn a_missing_argument_names_the_layer() {
        assert_eq!(
            SIG.missing("needs the number of filters, e.g. `{layer}(8)`"),
            "`demo` needs the number of filters, e.g. `demo(8)`"
        );
    }
}
