//! From syntax to [`Network`]: layer names looked up in the registry, arguments checked and
//! typed by the layer's signature, blocks inlined with their parameters substituted.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{GenericParam, Ident, Type};

use super::aliases::layer_alias;
use super::args::{Need, Param, ParamKind, Signature};
use super::layer::{ArgValue, Args, Input, Layer, Network, Padding, Spanned};
use super::suggest::{closest, hint};
use super::value::{Dim, Value};
use crate::errors::Errors;
use crate::parse::{Arg, BlockDef, Call, Chain, Layer as SynLayer, NetworkDef, NEGATIVE};
use crate::registry;

const INPUT: Signature = Signature {
    layer: "input",
    params: &[
        Param::positional("channels", ParamKind::Size, "the input's channel count")
            .required("needs (channels, height, width); `channels` is missing"),
        Param::positional("height", ParamKind::Literal, "the input's height")
            .required("needs (channels, height, width); `height` is missing"),
        Param::positional("width", ParamKind::Literal, "the input's width")
            .required("needs (channels, height, width); `width` is missing"),
    ],
    factorized: None,
};

/// Resolves one network, reporting into `errors`; blocks are looked up in `blocks`. `None`
/// when anything was reported.
pub fn resolve(
    def: &NetworkDef,
    blocks: &HashMap<String, &BlockDef>,
    errors: &Errors,
) -> Option<Network> {
    let start = errors.mark();
    let mut resolver = Resolver {
        blocks,
        network: &def.name,
        const_params: Vec::new(),
        errors,
    };
    resolver.generics(def);
    let input = resolver.input(&def.chain);
    let mut layers = Vec::new();
    let no_subst = HashMap::new();
    for layer in &def.chain.layers[1..] {
        resolver.layer(layer, &no_subst, &mut Vec::new(), &mut layers);
    }
    if def.chain.layers.len() == 1 && !errors.since(start) {
        errors.at(
            def.chain.span,
            "the network has no layers: continue the chain after `input(...)`, e.g. `-> conv(8) -> ...`",
        );
    }
    if errors.since(start) {
        return None;
    }
    Some(Network {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        const_params: resolver.const_params,
        input: input?,
        layers,
    })
}

struct Resolver<'a> {
    blocks: &'a HashMap<String, &'a BlockDef>,
    /// The network's name, for examples in messages.
    network: &'a Ident,
    const_params: Vec<Ident>,
    /// Errors in source order; those raised inside a block get their notes in `inline`.
    errors: &'a Errors,
}

/// Block parameters and the values the block's call gave them.
type Subst = HashMap<String, Value>;

/// The blocks being inlined, innermost first: (block name, call site).
type Stack = Vec<(String, Span)>;

impl Resolver<'_> {
    fn error(&self, span: Span, message: impl std::fmt::Display) {
        self.errors.at(span, message);
    }

    fn generics(&mut self, def: &NetworkDef) {
        if let Some(wc) = &def.generics.where_clause {
            self.error(wc.where_token.span, "a network takes no `where` clause");
        }
        for param in &def.generics.params {
            match param {
                GenericParam::Const(c) => {
                    let is_usize = matches!(&c.ty, Type::Path(p) if p.path.is_ident("usize"));
                    if !is_usize {
                        self.errors.push(syn::Error::new_spanned(
                            &c.ty,
                            format!("network parameters are sizes: write `const {}: usize`", c.ident),
                        ));
                    }
                    if let Some((_, default)) = &c.default {
                        self.errors.push(syn::Error::new_spanned(
                            default,
                            "network parameters take no default",
                        ));
                    }
                    // known even when malformed, so that its uses raise no second error
                    self.const_params.push(c.ident.clone());
                }
                other => self.errors.push(syn::Error::new_spanned(
                    other,
                    "network parameters are `const NAME: usize` (sizes such as the rank `k`); types and lifetimes are not supported",
                )),
            }
        }
    }

    fn input(&mut self, chain: &Chain) -> Option<Input> {
        let call = match &chain.layers[0] {
            SynLayer::Call(call) if call.name == "input" => call,
            other => {
                self.error(
                    other.span(),
                    "a network starts with `input(channels, height, width)`, e.g. `= input(1, 28, 28) -> ...`",
                );
                return None;
            }
        };
        let args = self.args(call, &INPUT, &HashMap::new(), &mut Vec::new())?;
        Some(Input {
            channels: args.size("channels").clone(),
            height: args.literal("height").value,
            width: args.literal("width").value,
        })
    }

    fn layer(&mut self, layer: &SynLayer, subst: &Subst, stack: &mut Stack, out: &mut Vec<Layer>) {
        let call = match layer {
            SynLayer::Call(call) => call,
            other => {
                self.error(other.span(), "expected a layer, found a number");
                return;
            }
        };
        let name = call.name.to_string();
        if let Some(def) = registry::find(&name) {
            if let Some(args) = self.args(call, &def.signature, subst, stack) {
                out.push(Layer {
                    def,
                    args,
                    span: call.name.span(),
                    origin: stack.clone(),
                });
            }
        } else if name == "input" {
            self.error(call.name.span(), "`input` can only start a network");
        } else if let Some(block) = self.blocks.get(&name).copied() {
            self.inline(call, block, subst, stack, out);
        } else {
            self.unknown_layer(&call.name);
        }
    }

    /// The call's arguments typed by `sig`, defaults filled in; `None` when any is wrong.
    fn args(
        &mut self,
        call: &Call,
        sig: &Signature,
        subst: &Subst,
        stack: &mut Stack,
    ) -> Option<Args> {
        if sig.params.is_empty() {
            if call.args.as_ref().is_some_and(|a| !a.is_empty()) {
                self.error(
                    call.args_span,
                    format!("`{}` takes no arguments", call.name),
                );
                return None;
            }
            return Some(Args::default());
        }
        let start = self.errors.mark();
        let matched = sig.match_call(call, self.errors);
        let mut args = Args::default();
        for param in sig.params {
            let value = match (matched.values.get(param.name), param.need) {
                (Some((chain, _)), _) if param.kind == ParamKind::Chain => {
                    Some(ArgValue::Chain(self.chain(chain, subst, stack)))
                }
                (Some((chain, _)), _) => self
                    .single(chain, subst)
                    .and_then(|v| self.typed(v, param, subst)),
                (None, Need::Required(help)) => {
                    self.error(call.args_span, sig.missing(help));
                    None
                }
                (None, Need::Default(text)) => {
                    let span = call.name.span();
                    let value = match text.parse() {
                        Ok(n) => Value::Int(n, span),
                        Err(_) => Value::Ident(Ident::new(text, span)),
                    };
                    self.typed(value, param, subst)
                }
                (None, Need::Optional) => continue,
            };
            if let Some(v) = value {
                args.insert(param.name, v);
            }
        }
        (!self.errors.since(start)).then_some(args)
    }

    /// A value as `param` wants it.
    fn typed(&mut self, value: Value, param: &Param, subst: &Subst) -> Option<ArgValue> {
        match param.kind {
            ParamKind::Size => self.dim(value, param.what, subst).map(ArgValue::Size),
            ParamKind::Literal => self.literal(value, param.what).map(ArgValue::Literal),
            ParamKind::Padding => self.padding(value).map(ArgValue::Padding),
            ParamKind::Float => match value {
                Value::Float(f, _) => Some(ArgValue::Float(f)),
                Value::Int(n, _) => Some(ArgValue::Float(n as f64)),
                other => {
                    self.error(
                        other.span(),
                        format!(
                            "{} is a non-negative number such as `1e-4` (or `0.0` to turn it off)",
                            param.what
                        ),
                    );
                    None
                }
            },
            ParamKind::Chain => unreachable!("chains are resolved as chains, not values"),
        }
    }

    fn padding(&mut self, value: Value) -> Option<Padding> {
        match value {
            Value::Ident(i) if i == "same" => Some(Padding::Same),
            Value::Ident(i) if i == "valid" => Some(Padding::Valid),
            Value::Ident(i) => {
                let word = i.to_string();
                let msg = format!(
                    "unknown padding `{word}`: padding is `same` or `valid`{}",
                    hint(&word, ["same", "valid"])
                );
                self.error(i.span(), msg);
                None
            }
            other => {
                self.error(other.span(), "padding is `same` or `valid`, not a number");
                None
            }
        }
    }

    /// "unknown layer", with the DSL's name for another library's layer or a typo's fix.
    fn unknown_layer(&mut self, name: &Ident) {
        let word = name.to_string();
        let layers: Vec<&str> = registry::names().collect();
        let blocks = self.blocks.keys().map(String::as_str);
        let suggestion =
            layer_alias(&word).or_else(|| closest(&word, layers.into_iter().chain(blocks)));
        let msg = match suggestion {
            Some(s) => format!("unknown layer `{word}`; did you mean `{s}`?"),
            None => format!(
                "unknown layer `{word}`: the layers are {}, or a `block` defined in this `network!`",
                registry::names()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(name.span(), msg);
    }

    fn chain(&mut self, chain: &Chain, subst: &Subst, stack: &mut Stack) -> Vec<Layer> {
        let mut out = Vec::new();
        for layer in &chain.layers {
            self.layer(layer, subst, stack, &mut out);
        }
        out
    }

    /// Expands a block's body in place. Errors raised inside it get a note at the call site, so
    /// that a mistake in a block used several times says which use it came from.
    fn inline(
        &mut self,
        call: &Call,
        block: &BlockDef,
        subst: &Subst,
        stack: &mut Stack,
        out: &mut Vec<Layer>,
    ) {
        let name = block.name.to_string();
        if stack.iter().any(|(b, _)| *b == name) {
            self.error(call.name.span(), format!("block `{name}` uses itself"));
            return;
        }
        let args = call.args.as_deref().unwrap_or_default();
        if args.len() != block.params.len() {
            let params: Vec<String> = block.params.iter().map(|p| format!("`{p}`")).collect();
            let expected = match params.len() {
                0 => "no arguments".to_string(),
                1 => format!("1 argument ({})", params[0]),
                n => format!("{n} arguments ({})", params.join(", ")),
            };
            let given = match args.len() {
                0 => "none was given".to_string(),
                1 => "1 was given".to_string(),
                n => format!("{n} were given"),
            };
            self.error(
                call.args_span,
                format!("block `{name}` takes {expected}, but {given}"),
            );
            return;
        }
        let mut inner = Subst::new();
        for (param, arg) in block.params.iter().zip(args) {
            let value = match arg {
                Arg::Positional(chain) => self.single(chain, subst),
                Arg::Named(n, _) | Arg::Labelled(n, _) => {
                    self.error(n.span(), "block arguments are positional");
                    None
                }
            };
            if let Some(v) = value {
                inner.insert(param.to_string(), v);
            }
        }
        if inner.len() != block.params.len() {
            return;
        }
        let before = self.errors.mark();
        stack.insert(0, (name.clone(), call.name.span()));
        for layer in &block.body.layers {
            self.layer(layer, &inner, stack, out);
        }
        stack.remove(0);
        self.errors.note_since(
            before,
            call.name.span(),
            format!("in block `{name}` used here"),
        );
    }

    /// An argument that must be one value, not a chain of layers.
    fn single(&mut self, chain: &Chain, subst: &Subst) -> Option<Value> {
        if chain.layers.len() > 1 {
            self.error(
                chain.span,
                "expected a single value here, not a chain of layers",
            );
            return None;
        }
        self.atom(&chain.layers[0], subst)
    }

    fn atom(&mut self, layer: &SynLayer, subst: &Subst) -> Option<Value> {
        match layer {
            SynLayer::Int(_) | SynLayer::Float(_) if layer.is_negative() => {
                self.error(layer.span(), NEGATIVE);
                None
            }
            SynLayer::Int(lit) => match lit.base10_parse::<usize>() {
                Ok(n) => Some(Value::Int(n, lit.span())),
                Err(e) => {
                    self.errors.push(e);
                    None
                }
            },
            SynLayer::Float(lit) => match lit.base10_parse::<f64>() {
                Ok(f) => Some(Value::Float(f, lit.span())),
                Err(e) => {
                    self.errors.push(e);
                    None
                }
            },
            SynLayer::Call(call) if call.args.is_none() => {
                let name = call.name.to_string();
                Some(
                    subst
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| Value::Ident(call.name.clone())),
                )
            }
            SynLayer::Call(call) => {
                self.error(call.name.span(), "expected a value, found a layer");
                None
            }
        }
    }

    /// A size: a positive literal or a const parameter of the network.
    fn dim(&mut self, value: Value, what: &str, subst: &Subst) -> Option<Dim> {
        match value {
            Value::Int(0, span) => {
                self.error(span, format!("{what} must be at least 1"));
                None
            }
            Value::Int(n, span) => Some(Dim::Lit(n, span)),
            Value::Ident(i) if self.const_params.contains(&i) => Some(Dim::Param(i)),
            Value::Ident(i) => {
                let word = i.to_string();
                let known: Vec<String> = self
                    .const_params
                    .iter()
                    .map(Ident::to_string)
                    .chain(subst.keys().cloned())
                    .collect();
                let msg = match closest(&word, known.iter().map(String::as_str)) {
                    Some(s) => format!("unknown size `{word}`; did you mean `{s}`?"),
                    None => format!(
                        "unknown size `{word}`: {what} is an integer or a const parameter of the network; declare it as `{}<const {word}: usize>`",
                        self.network
                    ),
                };
                self.error(i.span(), msg);
                None
            }
            Value::Float(_, span) => {
                self.error(span, format!("{what} must be an integer"));
                None
            }
        }
    }

    /// A size the macro must know while expanding (kernel, stride, pool, input sides).
    fn literal(&mut self, value: Value, what: &str) -> Option<Spanned<usize>> {
        match value {
            Value::Int(0, span) => {
                self.error(span, format!("{what} must be at least 1"));
                None
            }
            Value::Int(n, span) => Some(Spanned { value: n, span }),
            Value::Float(_, span) => {
                self.error(span, format!("{what} must be an integer"));
                None
            }
            Value::Ident(i) if self.const_params.contains(&i) => {
                self.error(
                    i.span(),
                    format!("{what} must be an integer literal, not the parameter `{i}`: the macro computes shapes while it expands, before `{i}` is known"),
                );
                None
            }
            Value::Ident(i) => {
                self.error(i.span(), format!("{what} must be an integer, found `{i}`"));
                None
            }
        }
    }
}
