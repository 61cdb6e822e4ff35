//! Shape inference and the checks that need it: a network that cannot work is rejected here,
//! with the error on the offending layer.

mod shape;

use std::collections::HashMap;

pub use shape::Shape;

use crate::model::{Dim, Layer, LayerKind, Network, Padding};

/// A layer with its shapes and its name in the generated model.
pub struct Checked {
    /// The resolved layer (for residuals, `kind`'s branches are superseded by `main` and
    /// `shortcut` below).
    pub layer: Layer,
    /// Field / summary name, e.g. `light_conv_2`.
    pub name: String,
    /// Shape going in.
    pub input: Shape,
    /// Shape coming out.
    pub output: Shape,
    /// A residual's checked main branch.
    pub main: Vec<Checked>,
    /// A residual's checked shortcut (empty: identity).
    pub shortcut: Vec<Checked>,
}

/// A network whose every layer has shapes.
pub struct CheckedNetwork {
    /// The resolved network.
    pub network: Network,
    /// Its layers, checked.
    pub layers: Vec<Checked>,
    /// Number of classes (length of the output vector).
    pub classes: Dim,
    /// Whether the last layer is `softmax` (the model's `forward` then returns probabilities).
    pub softmax: bool,
}

/// Infers every shape and rejects impossible networks.
pub fn check(network: Network) -> Result<CheckedNetwork, syn::Error> {
    let input = Shape::Map {
        c: network.input.channels.clone(),
        h: network.input.height,
        w: network.input.width,
    };
    let mut names = HashMap::new();
    let mut errors = Vec::new();
    let layers = chain(&network.layers, input, &mut names, &mut errors, true);
    let mut errors = errors.into_iter();
    if let Some(mut first) = errors.next() {
        errors.for_each(|e| first.combine(e));
        return Err(first);
    }
    let last = layers.last().expect("resolve rejects empty networks");
    let classes = match &last.output {
        Shape::Vector { n } => n.clone(),
        map @ Shape::Map { .. } => {
            return Err(last.layer.error(format!(
                "the network ends with {map}, but a classifier ends with a vector of class scores: add `global_avg_pool` (or `flatten`) and `dense(classes)`"
            )))
        }
    };
    let softmax = matches!(last.layer.kind, LayerKind::Softmax);
    Ok(CheckedNetwork {
        network,
        layers,
        classes,
        softmax,
    })
}

fn next_name(names: &mut HashMap<&'static str, usize>, base: &'static str) -> String {
    let n = names.entry(base).or_insert(0);
    *n += 1;
    format!("{base}_{n}")
}

/// Checks a chain starting from `input`; `top` is false inside residual branches.
fn chain(
    layers: &[Layer],
    mut shape: Shape,
    names: &mut HashMap<&'static str, usize>,
    errors: &mut Vec<syn::Error>,
    top: bool,
) -> Vec<Checked> {
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let last = top && i + 1 == layers.len();
        match one(layer, &shape, last, names, errors) {
            Some(checked) => {
                shape = checked.output.clone();
                out.push(checked);
            }
            // later layers would only report consequences of this error
            None => break,
        }
    }
    out
}

fn one(
    layer: &Layer,
    input: &Shape,
    last: bool,
    names: &mut HashMap<&'static str, usize>,
    errors: &mut Vec<syn::Error>,
) -> Option<Checked> {
    let map = || {
        match input {
        Shape::Map { c, h, w } => Ok((c.clone(), *h, *w)),
        Shape::Vector { .. } => Err(layer.error(format!(
            "`{}` needs feature maps, but its input is {input}: convolutions and pooling go before `global_avg_pool` (or `flatten`)",
            layer.dsl_name()
        ))),
    }
    };
    let vector = || {
        match input {
        Shape::Vector { n } => Ok(n.clone()),
        Shape::Map { .. } => Err(layer.error(format!(
            "`{}` needs a vector, but its input is {input}: pool the spatial dimensions first with `global_avg_pool` (or `flatten`)",
            layer.dsl_name()
        ))),
    }
    };
    let mut main = Vec::new();
    let mut shortcut = Vec::new();
    let result: Result<Shape, syn::Error> = (|| match &layer.kind {
        LayerKind::Conv(conv)
        | LayerKind::SeparableConv(conv)
        | LayerKind::LightConv { conv, .. } => {
            let (_, h, w) = map()?;
            if conv.padding == Padding::Same && conv.kernel.value % 2 == 0 {
                return Err(crate::model::error_with_origin(
                    conv.kernel.span,
                    &layer.origin,
                    format!(
                        "even kernel {k}×{k} with `same` padding (the default): the zeros would go unevenly on one side; use an odd kernel or `padding = valid`",
                        k = conv.kernel.value
                    ),
                ));
            }
            let k = conv.kernel.value;
            let first = |n: usize| output_side(n, k, conv.stride.value, conv.padding);
            let (Some(fh), Some(fw)) = (first(h), first(w)) else {
                return Err(layer.error(format!(
                    "the {k}×{k} kernel with `valid` padding does not fit the {h}×{w} input of `{}`",
                    layer.dsl_name()
                )));
            };
            if !matches!(layer.kind, LayerKind::LightConv { .. }) {
                return Ok(Shape::Map {
                    c: conv.filters.clone(),
                    h: fh,
                    w: fw,
                });
            }
            // LightConv2D runs two K×K convolutions, the second with stride 1
            let second = |n: usize| output_side(n, k, 1, conv.padding);
            match (second(fh), second(fw)) {
                (Some(oh), Some(ow)) => Ok(Shape::Map {
                    c: conv.filters.clone(),
                    h: oh,
                    w: ow,
                }),
                _ => Err(layer.error(format!(
                    "`light_conv` runs two {k}×{k} convolutions: with `valid` padding the first turns the {h}×{w} input into {fh}×{fw}, which the second does not fit"
                ))),
            }
        }
        LayerKind::Dense { units } | LayerKind::LightDense { units, .. } => {
            vector()?;
            Ok(Shape::Vector { n: units.clone() })
        }
        LayerKind::BatchNorm | LayerKind::Relu => Ok(input.clone()),
        LayerKind::Softmax => {
            vector()?;
            if !last {
                return Err(layer.error(
                    "`softmax` must be the network's last layer (training works on the scores before it)",
                ));
            }
            Ok(input.clone())
        }
        LayerKind::MaxPool { size } => {
            let (c, h, w) = map()?;
            let (oh, ow) = (h / size.value, w / size.value);
            if oh == 0 || ow == 0 {
                return Err(layer.error(format!(
                    "`max_pool({s})` on a {h}×{w} map leaves nothing ({oh}×{ow}): remove a pooling or use a smaller window",
                    s = size.value
                )));
            }
            Ok(Shape::Map { c, h: oh, w: ow })
        }
        LayerKind::GlobalAvgPool => {
            let (c, _, _) = map()?;
            Ok(Shape::Vector { n: c })
        }
        LayerKind::Flatten => {
            let (c, h, w) = map()?;
            match c.literal() {
                Some(c) => Ok(Shape::Vector {
                    n: Dim::Lit(c * h * w, layer.span),
                }),
                None => Err(layer.error(format!(
                    "`flatten` needs the channel count while the macro expands, but it is the parameter `{c}`: use `global_avg_pool`, or give the last convolution a literal number of filters"
                ))),
            }
        }
        LayerKind::Residual {
            main: m,
            shortcut: s,
        } => {
            let before = errors.len();
            main = chain(m, input.clone(), names, errors, false);
            shortcut = chain(s, input.clone(), names, errors, false);
            if errors.len() > before {
                return Err(errors.pop().expect("an error was pushed"));
            }
            let main_out = main.last().map_or(input.clone(), |l| l.output.clone());
            let short_out = shortcut.last().map_or(input.clone(), |l| l.output.clone());
            if !main_out.same_as(&short_out) {
                let what = if s.is_empty() {
                    "the identity shortcut"
                } else {
                    "the shortcut"
                };
                let channels = if main_out.channels().same_as(short_out.channels()) {
                    ""
                } else {
                    " (channels differ)"
                };
                let help = if s.is_empty() {
                    projection(input, &main_out)
                        .map(|p| {
                            format!("; project the input to match: `residual(..., shortcut: {p})`")
                        })
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                return Err(layer.error(format!(
                    "residual branches disagree{channels}: the main branch gives {main_out} but {what} gives {short_out}{help}"
                )));
            }
            Ok(main_out)
        }
    })();
    match result {
        Ok(output) => {
            let base = match layer.kind {
                LayerKind::Residual { .. } => "add",
                _ => layer.dsl_name(),
            };
            Some(Checked {
                layer: layer.clone(),
                name: next_name(names, base),
                input: input.clone(),
                output,
                main,
                shortcut,
            })
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// The 1×1 convolution that turns `input` into `output` (a residual's usual shortcut), if
/// one can: same-padded, so a side `n` becomes ⌈n / stride⌉.
fn projection(input: &Shape, output: &Shape) -> Option<String> {
    let (Shape::Map { h, w, .. }, Shape::Map { c, h: oh, w: ow }) = (input, output) else {
        return None;
    };
    let stride = (1..=*h.max(w)).find(|s| h.div_ceil(*s) == *oh && w.div_ceil(*s) == *ow)?;
    Some(if stride == 1 {
        format!("conv({c}, kernel = 1)")
    } else {
        format!("conv({c}, kernel = 1, stride = {stride})")
    })
}

/// Output side of a convolution, `None` when a `valid` kernel does not fit.
fn output_side(input: usize, kernel: usize, stride: usize, padding: Padding) -> Option<usize> {
    match padding {
        Padding::Same => Some(input.div_ceil(stride)),
        Padding::Valid => (input >= kernel).then(|| (input - kernel) / stride + 1),
    }
}
