//! From syntax to [`Network`]: layer names looked up, arguments checked and typed, blocks
//! inlined with their parameters substituted.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{GenericParam, Ident, Type};

use super::args::Signature;
use super::layer::{
    error_with_origin, ConvArgs, Input, Layer, LayerKind, Network, Padding, Spanned,
};
use super::suggest::hint;
use super::value::{Dim, Value};
use crate::parse::{BlockDef, Call, Chain, Layer as SynLayer, NetworkDef};

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
};
const DENSE: Signature = Signature {
    layer: "dense",
    positional: &["units"],
    named: &[],
    labelled: &[],
};
const LIGHT_DENSE: Signature = Signature {
    layer: "light_dense",
    positional: &["units"],
    named: &["k"],
    labelled: &[],
};
const MAX_POOL: Signature = Signature {
    layer: "max_pool",
    positional: &["size"],
    named: &[],
    labelled: &[],
};
const RESIDUAL: Signature = Signature {
    layer: "residual",
    positional: &["main"],
    named: &[],
    labelled: &["shortcut"],
};
const INPUT: Signature = Signature {
    layer: "input",
    positional: &["channels", "height", "width"],
    named: &[],
    labelled: &[],
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
    const_params: Vec<Ident>,
    errors: Vec<syn::Error>,
}

type Subst = HashMap<String, Value>;

impl Resolver<'_> {
    fn generics(&mut self, def: &NetworkDef) {
        if let Some(wc) = &def.generics.where_clause {
            self.errors.push(syn::Error::new(
                wc.where_token.span,
                "a network takes no `where` clause",
            ));
        }
        for param in &def.generics.params {
            match param {
                GenericParam::Const(c) => {
                    let is_usize = matches!(&c.ty, Type::Path(p) if p.path.is_ident("usize"));
                    if !is_usize {
                        self.errors.push(syn::Error::new_spanned(&c.ty, "network parameters are `const NAME: usize`"));
                    } else if c.default.is_some() {
                        self.errors.push(syn::Error::new_spanned(
                            c.default.as_ref().expect("checked"),
                            "network parameters take no default",
                        ));
                    } else {
                        self.const_params.push(c.ident.clone());
                    }
                }
                other => self.errors.push(syn::Error::new_spanned(
                    other,
                    "network parameters are `const NAME: usize` (sizes such as the rank `k`); types and lifetimes are not supported",
                )),
            }
        }
    }

    fn input(&mut self, chain: &Chain) -> Option<Input> {
        let first = &chain.layers[0];
        let call = match first {
            SynLayer::Call(call) if call.name == "input" => call,
            other => {
                self.errors.push(syn::Error::new(
                    other.span(),
                    "a network starts with `input(channels, height, width)`, e.g. `= input(1, 28, 28) -> ...`",
                ));
                return None;
            }
        };
        let matched = INPUT.match_call(call, &mut self.errors);
        let no_subst = Subst::new();
        let get = |this: &mut Self, name: &'static str| {
            let (chain, _) = matched.values.get(name).copied().or_else(|| {
                this.errors.push(syn::Error::new(
                    call.args_span,
                    format!("`input` needs (channels, height, width); `{name}` is missing"),
                ));
                None
            })?;
            this.single(chain, &no_subst)
        };
        let channels = get(self, "channels");
        let height = get(self, "height");
        let width = get(self, "width");
        let channels = self.dim(channels?, "the input's channel count", &[])?;
        let height = self.literal(height?, "the input's height", &[])?;
        let width = self.literal(width?, "the input's width", &[])?;
        Some(Input {
            channels,
            height: height.value,
            width: width.value,
        })
    }

    fn layer(
        &mut self,
        layer: &SynLayer,
        subst: &Subst,
        stack: &mut Vec<(String, Span)>,
        out: &mut Vec<Layer>,
    ) {
        let call = match layer {
            SynLayer::Call(call) => call,
            other => {
                self.errors.push(error_with_origin(
                    other.span(),
                    stack,
                    "expected a layer, found a number",
                ));
                return;
            }
        };
        let name = call.name.to_string();
        let kind = match name.as_str() {
            "conv" => self.conv(call, &CONV, subst, stack).map(LayerKind::Conv),
            "separable_conv" => self
                .conv(call, &SEPARABLE_CONV, subst, stack)
                .map(LayerKind::SeparableConv),
            "light_conv" => self.light_conv(call, subst, stack),
            "dense" => {
                let m = DENSE.match_call(call, &mut self.errors);
                self.required_dim(
                    call,
                    &m.values,
                    "units",
                    "the number of outputs, e.g. `dense(10)`",
                    subst,
                    stack,
                )
                .map(|units| LayerKind::Dense { units })
            }
            "light_dense" => {
                let m = LIGHT_DENSE.match_call(call, &mut self.errors);
                let units = self.required_dim(
                    call,
                    &m.values,
                    "units",
                    "the number of outputs, e.g. `light_dense(10, k = 8)`",
                    subst,
                    stack,
                );
                let rank = match m.named.get("k") {
                    Some((v, _)) => self
                        .atom(v, subst)
                        .and_then(|v| self.dim(v, "the rank `k`", stack)),
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
                        .and_then(|v| self.literal(v, "the pool size", stack)),
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
                        self.errors.push(error_with_origin(
                            call.args_span,
                            stack,
                            "`residual` needs its main branch: `residual(conv(8) -> bn, shortcut: conv(8, kernel = 1))`",
                        ));
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
                self.errors.push(error_with_origin(
                    call.name.span(),
                    stack,
                    "`input` can only start a network",
                ));
                None
            }
            _ => {
                if let Some(block) = self.blocks.get(&name).copied() {
                    self.inline(call, block, subst, stack, out);
                } else {
                    let candidates = LAYER_NAMES
                        .iter()
                        .copied()
                        .chain(self.blocks.keys().map(String::as_str));
                    let msg = format!("unknown layer `{name}`{}", hint(&name, candidates));
                    self.errors
                        .push(error_with_origin(call.name.span(), stack, msg));
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

    fn chain(
        &mut self,
        chain: &Chain,
        subst: &Subst,
        stack: &mut Vec<(String, Span)>,
    ) -> Vec<Layer> {
        let mut out = Vec::new();
        for layer in &chain.layers {
            self.layer(layer, subst, stack, &mut out);
        }
        out
    }

    fn inline(
        &mut self,
        call: &Call,
        block: &BlockDef,
        subst: &Subst,
        stack: &mut Vec<(String, Span)>,
        out: &mut Vec<Layer>,
    ) {
        let name = block.name.to_string();
        if stack.iter().any(|(b, _)| *b == name) {
            self.errors.push(error_with_origin(
                call.name.span(),
                stack,
                format!("block `{name}` uses itself"),
            ));
            return;
        }
        let args = call.args.clone().unwrap_or_default();
        if args.len() != block.params.len() {
            self.errors.push(error_with_origin(
                call.args_span,
                stack,
                format!(
                    "block `{name}` takes {} argument(s) ({}), {} given",
                    block.params.len(),
                    block
                        .params
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    args.len()
                ),
            ));
            return;
        }
        let mut inner = Subst::new();
        for (param, arg) in block.params.iter().zip(&args) {
            let value = match arg {
                crate::parse::Arg::Positional(chain) => self.single(chain, subst),
                crate::parse::Arg::Named(n, _) | crate::parse::Arg::Labelled(n, _) => {
                    self.errors.push(error_with_origin(
                        n.span(),
                        stack,
                        "block arguments are positional",
                    ));
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
        stack.insert(0, (name, call.name.span()));
        for layer in &block.body.layers {
            self.layer(layer, &inner, stack, out);
        }
        stack.remove(0);
    }

    fn no_args(&mut self, call: &Call, kind: LayerKind) -> Option<LayerKind> {
        match &call.args {
            Some(args) if !args.is_empty() => {
                self.errors.push(syn::Error::new(
                    call.args_span,
                    format!("`{}` takes no arguments", call.name),
                ));
                None
            }
            _ => Some(kind),
        }
    }

    fn conv(
        &mut self,
        call: &Call,
        sig: &Signature,
        subst: &Subst,
        stack: &[(String, Span)],
    ) -> Option<ConvArgs> {
        let m = sig.match_call(call, &mut self.errors);
        let example = format!("the number of filters, e.g. `{}(8)`", sig.layer);
        let filters = self.required_dim(call, &m.values, "filters", &example, subst, stack);
        let kernel = match m.named.get("kernel") {
            Some((v, _)) => self
                .atom(v, subst)
                .and_then(|v| self.literal(v, "the kernel size", stack)),
            None => Some(Spanned {
                value: DEFAULT_KERNEL,
                span: call.name.span(),
            }),
        };
        let stride = match m.named.get("stride") {
            Some((v, _)) => self
                .atom(v, subst)
                .and_then(|v| self.literal(v, "the stride", stack)),
            None => Some(Spanned {
                value: 1,
                span: call.name.span(),
            }),
        };
        let padding = match m.named.get("padding") {
            Some((v, _)) => match self.atom(v, subst) {
                Some(Value::Ident(i)) if i == "same" => Some(Padding::Same),
                Some(Value::Ident(i)) if i == "valid" => Some(Padding::Valid),
                Some(other) => {
                    self.errors.push(error_with_origin(
                        other.span(),
                        stack,
                        "padding is `same` or `valid`",
                    ));
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

    fn light_conv(
        &mut self,
        call: &Call,
        subst: &Subst,
        stack: &[(String, Span)],
    ) -> Option<LayerKind> {
        let conv = self.conv(call, &LIGHT_CONV, subst, stack);
        let m = LIGHT_CONV.match_call(call, &mut Vec::new());
        let rank = match m.named.get("k") {
            Some((v, _)) => self
                .atom(v, subst)
                .and_then(|v| self.dim(v, "the rank `k`", stack)),
            None => {
                self.errors.push(error_with_origin(
                    call.args_span,
                    stack,
                    "`light_conv` needs its rank: `light_conv(F, k = R)`",
                ));
                None
            }
        };
        let l2 = match m.named.get("l2") {
            Some((v, _)) => match self.atom(v, subst) {
                Some(Value::Float(f, _)) if f >= 0.0 => Some(Some(f)),
                Some(Value::Int(n, _)) => Some(Some(n as f64)),
                Some(other) => {
                    self.errors.push(error_with_origin(
                        other.span(),
                        stack,
                        "`l2` is a non-negative number such as `1e-4` (or `0.0` to turn it off)",
                    ));
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

    fn required_dim(
        &mut self,
        call: &Call,
        values: &HashMap<&'static str, (&Chain, Span)>,
        name: &str,
        what: &str,
        subst: &Subst,
        stack: &[(String, Span)],
    ) -> Option<Dim> {
        match values.get(name) {
            Some((chain, _)) => {
                let v = self.single(chain, subst)?;
                self.dim(v, &format!("`{name}`"), stack)
            }
            None => {
                self.errors.push(error_with_origin(
                    call.args_span,
                    stack,
                    format!("`{}` needs {what}", call.name),
                ));
                None
            }
        }
    }

    /// A positional argument that must be one value, not a chain of layers.
    fn single(&mut self, chain: &Chain, subst: &Subst) -> Option<Value> {
        if chain.layers.len() > 1 {
            self.errors.push(syn::Error::new(
                chain.span,
                "expected a single value here, not a chain of layers",
            ));
            return None;
        }
        self.atom(&chain.layers[0], subst)
    }

    fn atom(&mut self, layer: &SynLayer, subst: &Subst) -> Option<Value> {
        match layer {
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
                self.errors.push(syn::Error::new(
                    call.name.span(),
                    "expected a value, found a layer",
                ));
                None
            }
        }
    }

    /// A size: a positive literal or a const parameter of the network.
    fn dim(&mut self, value: Value, what: &str, stack: &[(String, Span)]) -> Option<Dim> {
        match value {
            Value::Int(0, span) => {
                self.errors.push(error_with_origin(
                    span,
                    stack,
                    format!("{what} must be at least 1"),
                ));
                None
            }
            Value::Int(n, span) => Some(Dim::Lit(n, span)),
            Value::Ident(i) if self.const_params.contains(&i) => Some(Dim::Param(i)),
            Value::Ident(i) => {
                let msg = format!(
                    "unknown size `{i}`: {what} is an integer or a const parameter of the network (declare it: `Name<const {i}: usize>`){}",
                    hint(&i.to_string(), self.const_params.iter().map(|p| p.to_string()).collect::<Vec<_>>().iter().map(String::as_str))
                );
                self.errors.push(error_with_origin(i.span(), stack, msg));
                None
            }
            Value::Float(_, span) => {
                self.errors.push(error_with_origin(
                    span,
                    stack,
                    format!("{what} must be an integer"),
                ));
                None
            }
        }
    }

    /// A size the macro must know while expanding (kernel, stride, pool, input sides).
    fn literal(
        &mut self,
        value: Value,
        what: &str,
        stack: &[(String, Span)],
    ) -> Option<Spanned<usize>> {
        match value {
            Value::Int(0, span) => {
                self.errors.push(error_with_origin(
                    span,
                    stack,
                    format!("{what} must be at least 1"),
                ));
                None
            }
            Value::Int(n, span) => Some(Spanned { value: n, span }),
            other => {
                self.errors.push(error_with_origin(
                    other.span(),
                    stack,
                    format!("{what} must be an integer literal: shapes are computed while the macro expands"),
                ));
                None
            }
        }
    }
}
