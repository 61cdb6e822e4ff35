//! From syntax to [`Network`]: layer names looked up, arguments checked and typed, blocks
//! inlined with their parameters substituted.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{GenericParam, Ident, Type};

use super::aliases::layer_alias;
use super::args::{Matched, Signature};
use super::layer::{ConvArgs, Input, Layer, LayerKind, Network, Padding, Spanned};
use super::suggest::{closest, hint};
use super::value::{Dim, Value};
use crate::parse::{Arg, BlockDef, Call, Chain, Layer as SynLayer, NetworkDef, NEGATIVE};

/// Every layer the DSL knows, for "did you mean" hints.
pub const LAYER_NAMES: &[&str] = &[
    "conv",
    "separable_conv",
    "light_conv",
    "dense",
    "light_dense",
    "bn",
    "relu",
    "softmax",
    "max_pool",
    "global_avg_pool",
    "flatten",
    "residual",
];

const CONV: Signature = Signature {
    layer: "conv",
    positional: &["filters"],
    named: &["kernel", "stride", "padding"],
    labelled: &[],
    factorized: Some(&LIGHT_CONV),
};
const SEPARABLE_CONV: Signature = Signature {
    layer: "separable_conv",
    ..CONV
};
const LIGHT_CONV: Signature = Signature {
    layer: "light_conv",
    positional: &["filters"],
    named: &["k", "kernel", "stride", "padding", "l2"],
    labelled: &[],
    factorized: None,
};
const DENSE: Signature = Signature {
    layer: "dense",
    positional: &["units"],
    named: &[],
    labelled: &[],
    factorized: Some(&LIGHT_DENSE),
};
const LIGHT_DENSE: Signature = Signature {
    layer: "light_dense",
    positional: &["units"],
    named: &["k"],
    labelled: &[],
    factorized: None,
};
const MAX_POOL: Signature = Signature {
    layer: "max_pool",
    positional: &["size"],
    named: &[],
    labelled: &[],
    factorized: None,
};
const RESIDUAL: Signature = Signature {
    layer: "residual",
    positional: &["main"],
    named: &[],
    labelled: &["shortcut"],
    factorized: None,
};
const INPUT: Signature = Signature {
    layer: "input",
    positional: &["channels", "height", "width"],
    named: &[],
    labelled: &[],
    factorized: None,
};

/// The rank LightDense uses when `k` is not given: the paper always uses 8.
const DEFAULT_LIGHT_DENSE_RANK: usize = 8;
/// Kernel side when `kernel` is not given: the paper uses 3×3 throughout.
const DEFAULT_KERNEL: usize = 3;
/// Pool side when `max_pool` has no argument (Keras's default).
const DEFAULT_POOL: usize = 2;

/// Resolves one network; blocks are looked up in `blocks`.
pub fn resolve(
    def: &NetworkDef,
    blocks: &HashMap<String, &BlockDef>,
) -> Result<Network, syn::Error> {
    let mut resolver = Resolver {
        blocks,
        network: &def.name,
        const_params: Vec::new(),
        errors: Vec::new(),
    };
    resolver.generics(def);
    let input = resolver.input(&def.chain);
    let mut layers = Vec::new();
    let no_subst = HashMap::new();
    for layer in &def.chain.layers[1..] {
        resolver.layer(layer, &no_subst, &mut Vec::new(), &mut layers);
    }
    if def.chain.layers.len() == 1 && resolver.errors.is_empty() {
        resolver.errors.push(syn::Error::new(
            def.chain.span,
            "the network has no layers: continue the chain after `input(...)`, e.g. `-> conv(8) -> ...`",
        ));
    }
    let mut errors = resolver.errors.into_iter();
    if let Some(mut first) = errors.next() {
        // report every problem found, in source order
        errors.for_each(|e| first.combine(e));
        return Err(first);
    }
    Ok(Network {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        const_params: resolver.const_params,
        input: input.expect("input resolved without errors"),
        layers,
    })
}

struct Resolver<'a> {
    blocks: &'a HashMap<String, &'a BlockDef>,
    /// The network's name, for examples in messages.
    network: &'a Ident,
    const_params: Vec<Ident>,
    /// Errors in source order; those raised inside a block get their notes in `inline`.
    errors: Vec<syn::Error>,
}

/// Block parameters and the values the block's call gave them.
type Subst = HashMap<String, Value>;

/// The blocks being inlined, innermost first: (block name, call site).
type Stack = Vec<(String, Span)>;

impl Resolver<'_> {
    fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
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
                    if let Some(default) = &c.default {
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
        let m = INPUT.match_call(call, &mut self.errors);
        let no_subst = Subst::new();
        let mut get = |name: &'static str| match m.values.get(name) {
            Some((chain, _)) => self.single(chain, &no_subst),
            None => {
                self.error(
                    call.args_span,
                    format!("`input` needs (channels, height, width); `{name}` is missing"),
                );
                None
            }
        };
        let (channels, height, width) = (get("channels"), get("height"), get("width"));
        let channels = self.dim(channels?, "the input's channel count", &no_subst)?;
        let height = self.literal(height?, "the input's height")?;
        let width = self.literal(width?, "the input's width")?;
        Some(Input {
            channels,
            height: height.value,
            width: width.value,
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
        let kind = match name.as_str() {
            "conv" => self.conv(call, &CONV, subst).map(LayerKind::Conv),
            "separable_conv" => self
                .conv(call, &SEPARABLE_CONV, subst)
                .map(LayerKind::SeparableConv),
            "light_conv" => self.light_conv(call, subst),
            "dense" => {
                let m = DENSE.match_call(call, &mut self.errors);
                self.required_dim(
                    call,
                    &m,
                    "units",
                    "the number of outputs",
                    "dense(10)",
                    subst,
                )
                .map(|units| LayerKind::Dense { units })
            }
            "light_dense" => {
                let m = LIGHT_DENSE.match_call(call, &mut self.errors);
                let units = self.required_dim(
                    call,
                    &m,
                    "units",
                    "the number of outputs",
                    "light_dense(10, k = 8)",
                    subst,
                );
                let rank = match m.values.get("k") {
                    Some((v, _)) => self
                        .single(v, subst)
                        .and_then(|v| self.dim(v, "the rank `k`", subst)),
                    None => Some(Dim::Lit(DEFAULT_LIGHT_DENSE_RANK, call.name.span())),
                };
                units
                    .zip(rank)
                    .map(|(units, rank)| LayerKind::LightDense { units, rank })
            }
            "bn" => self.no_args(call, LayerKind::BatchNorm),
            "relu" => self.no_args(call, LayerKind::Relu),
            "softmax" => self.no_args(call, LayerKind::Softmax),
            "global_avg_pool" => self.no_args(call, LayerKind::GlobalAvgPool),
            "flatten" => self.no_args(call, LayerKind::Flatten),
            "max_pool" => {
                let m = MAX_POOL.match_call(call, &mut self.errors);
                let size = match m.values.get("size") {
                    Some((chain, _)) => self
                        .single(chain, subst)
                        .and_then(|v| self.literal(v, "the pool size")),
                    None => Some(Spanned {
                        value: DEFAULT_POOL,
                        span: call.name.span(),
                    }),
                };
                size.map(|size| LayerKind::MaxPool { size })
            }
            "residual" => {
                let m = RESIDUAL.match_call(call, &mut self.errors);
                match m.values.get("main") {
                    None => {
                        self.error(
                            call.args_span,
                            "`residual` needs its main branch: `residual(conv(8) -> bn, shortcut: conv(8, kernel = 1))`",
                        );
                        None
                    }
                    Some((main, _)) => {
                        let main = self.chain(main, subst, stack);
                        let shortcut = m
                            .values
                            .get("shortcut")
                            .map(|(c, _)| self.chain(c, subst, stack))
                            .unwrap_or_default();
                        Some(LayerKind::Residual { main, shortcut })
                    }
                }
            }
            "input" => {
                self.error(call.name.span(), "`input` can only start a network");
                None
            }
            _ => {
                if let Some(block) = self.blocks.get(&name).copied() {
                    self.inline(call, block, subst, stack, out);
                } else {
                    self.unknown_layer(&call.name);
                }
                return;
            }
        };
        if let Some(kind) = kind {
            out.push(Layer {
                kind,
                span: call.name.span(),
                origin: stack.clone(),
            });
        }
    }

    /// "unknown layer", with the DSL's name for another library's layer or a typo's fix.
    fn unknown_layer(&mut self, name: &Ident) {
        let word = name.to_string();
        let blocks = self.blocks.keys().map(String::as_str);
        let suggestion = layer_alias(&word, LAYER_NAMES)
            .or_else(|| closest(&word, LAYER_NAMES.iter().copied().chain(blocks)));
        let msg = match suggestion {
            Some(s) => format!("unknown layer `{word}`; did you mean `{s}`?"),
            None => format!(
                "unknown layer `{word}`: the layers are {}, or a `block` defined in this `network!`",
                LAYER_NAMES
                    .iter()
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
        let before = self.errors.len();
        stack.insert(0, (name.clone(), call.name.span()));
        for layer in &block.body.layers {
            self.layer(layer, &inner, stack, out);
        }
        stack.remove(0);
        for e in &mut self.errors[before..] {
            e.combine(syn::Error::new(
                call.name.span(),
                format!("note: in block `{name}` used here"),
            ));
        }
    }

    fn no_args(&mut self, call: &Call, kind: LayerKind) -> Option<LayerKind> {
        match &call.args {
            Some(args) if !args.is_empty() => {
                self.error(
                    call.args_span,
                    format!("`{}` takes no arguments", call.name),
                );
                None
            }
            _ => Some(kind),
        }
    }

    fn conv(&mut self, call: &Call, sig: &Signature, subst: &Subst) -> Option<ConvArgs> {
        let m = sig.match_call(call, &mut self.errors);
        let example = format!("{}(8)", sig.layer);
        let filters = self.required_dim(
            call,
            &m,
            "filters",
            "the number of filters",
            &example,
            subst,
        );
        let kernel = match m.values.get("kernel") {
            Some((v, _)) => self
                .single(v, subst)
                .and_then(|v| self.literal(v, "the kernel size")),
            None => Some(Spanned {
                value: DEFAULT_KERNEL,
                span: call.name.span(),
            }),
        };
        let stride = match m.values.get("stride") {
            Some((v, _)) => self
                .single(v, subst)
                .and_then(|v| self.literal(v, "the stride")),
            None => Some(Spanned {
                value: 1,
                span: call.name.span(),
            }),
        };
        let padding = match m.values.get("padding") {
            Some((v, _)) => match self.single(v, subst) {
                Some(Value::Ident(i)) if i == "same" => Some(Padding::Same),
                Some(Value::Ident(i)) if i == "valid" => Some(Padding::Valid),
                Some(Value::Ident(i)) => {
                    let word = i.to_string();
                    let msg = format!(
                        "unknown padding `{word}`: padding is `same` or `valid`{}",
                        hint(&word, ["same", "valid"])
                    );
                    self.error(i.span(), msg);
                    None
                }
                Some(other) => {
                    self.error(other.span(), "padding is `same` or `valid`, not a number");
                    None
                }
                None => None,
            },
            None => Some(Padding::Same),
        };
        Some(ConvArgs {
            filters: filters?,
            kernel: kernel?,
            stride: stride?,
            padding: padding?,
        })
    }

    fn light_conv(&mut self, call: &Call, subst: &Subst) -> Option<LayerKind> {
        let conv = self.conv(call, &LIGHT_CONV, subst);
        // `conv` reported any problem with the arguments already
        let m = LIGHT_CONV.match_call(call, &mut Vec::new());
        let rank = match m.values.get("k") {
            Some((v, _)) => self
                .single(v, subst)
                .and_then(|v| self.dim(v, "the rank `k`", subst)),
            None => {
                self.error(
                    call.args_span,
                    "`light_conv` needs its rank `k`, e.g. `light_conv(8, k = 2)`",
                );
                None
            }
        };
        let l2 = match m.values.get("l2") {
            Some((v, _)) => match self.single(v, subst) {
                Some(Value::Float(f, _)) => Some(Some(f)),
                Some(Value::Int(n, _)) => Some(Some(n as f64)),
                Some(other) => {
                    self.error(
                        other.span(),
                        "`l2` is a non-negative number such as `1e-4` (or `0.0` to turn it off)",
                    );
                    None
                }
                None => None,
            },
            None => Some(None),
        };
        Some(LayerKind::LightConv {
            conv: conv?,
            rank: rank?,
            l2: l2?,
        })
    }

    /// A size every call must give, such as `conv`'s filters; `example` shows a call with it.
    fn required_dim(
        &mut self,
        call: &Call,
        m: &Matched,
        name: &str,
        what: &str,
        example: &str,
        subst: &Subst,
    ) -> Option<Dim> {
        match m.values.get(name) {
            Some((chain, _)) => {
                let v = self.single(chain, subst)?;
                self.dim(v, what, subst)
            }
            None => {
                self.error(
                    call.args_span,
                    format!("`{}` needs {what}, e.g. `{example}`", call.name),
                );
                None
            }
        }
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
