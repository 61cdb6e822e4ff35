//! Shape inference and the checks that need it: a network that cannot work is rejected here,
//! with the error on the offending layer. Each layer's rule is its registry entry's `shape`.

mod shape;

use std::collections::HashMap;
use std::fmt::Display;

pub use shape::Shape;

use crate::errors::Errors;
use crate::model::{Dim, Layer, Network};

/// A layer with its shapes and its name in the generated model.
pub struct Checked {
    /// The resolved layer.
    pub layer: Layer,
    /// Field / summary name, e.g. `light_conv_2`.
    pub name: String,
    /// Shape going in.
    pub input: Shape,
    /// Shape coming out.
    pub output: Shape,
    /// Its branches, checked, in the order of its signature (a residual's main branch, then its
    /// shortcut; empty for an identity shortcut).
    pub branches: Vec<Vec<Checked>>,
}

/// A network whose every layer has shapes.
pub struct CheckedNetwork {
    /// The resolved network.
    pub network: Network,
    /// Its layers, checked.
    pub layers: Vec<Checked>,
    /// Number of classes (length of the output vector).
    pub classes: Dim,
}

/// What a layer's shape rule works with: where to report, and where its branches go.
pub struct ShapeCx<'a> {
    errors: &'a Errors,
    names: &'a mut HashMap<&'static str, usize>,
    /// Whether the layer ends the network.
    pub last: bool,
    branches: Vec<Vec<Checked>>,
}

impl ShapeCx<'_> {
    /// Reports `error`.
    pub fn report(&self, error: syn::Error) {
        self.errors.push(error);
    }

    /// Reports `message` at `layer`; gives `None`, for rules to return.
    pub fn fail<T>(&self, layer: &Layer, message: impl Display) -> Option<T> {
        self.report(layer.error(message));
        None
    }

    /// The input's channels, height and width; reports a layer that needs feature maps but gets
    /// a vector.
    pub fn map(&self, layer: &Layer, input: &Shape) -> Option<(Dim, usize, usize)> {
        match input {
            Shape::Map { c, h, w } => Some((c.clone(), *h, *w)),
            Shape::Vector { .. } => self.fail(layer, format!(
                "`{}` needs feature maps, but its input is {input}: convolutions and pooling go before `global_avg_pool` (or `flatten`)",
                layer.dsl_name()
            )),
        }
    }

    /// The input's length; reports a layer that needs a vector but gets feature maps.
    pub fn vector(&self, layer: &Layer, input: &Shape) -> Option<Dim> {
        match input {
            Shape::Vector { n } => Some(n.clone()),
            Shape::Map { .. } => self.fail(layer, format!(
                "`{}` needs a vector, but its input is {input}: pool the spatial dimensions first with `global_avg_pool` (or `flatten`)",
                layer.dsl_name()
            )),
        }
    }

    /// Checks a branch of the layer from `input`, keeps it for expansion, and gives its output
    /// (`input` for an empty branch); `None` when one of its layers was rejected.
    pub fn branch(&mut self, layers: &[Layer], input: &Shape) -> Option<Shape> {
        let checked = chain(layers, input.clone(), self.names, self.errors, false);
        let complete = checked.len() == layers.len();
        let output = checked.last().map_or(input.clone(), |l| l.output.clone());
        self.branches.push(checked);
        complete.then_some(output)
    }
}

/// Infers every shape and rejects impossible networks, reporting into `errors`; `None` when
/// anything was reported.
pub fn check(network: Network, errors: &Errors) -> Option<CheckedNetwork> {
    let input = Shape::Map {
        c: network.input.channels.clone(),
        h: network.input.height,
        w: network.input.width,
    };
    let mut names = HashMap::new();
    let layers = chain(&network.layers, input, &mut names, errors, true);
    if layers.len() < network.layers.len() {
        return None;
    }
    let last = layers.last().expect("resolve rejects empty networks");
    let classes = match &last.output {
        Shape::Vector { n } => n.clone(),
        map @ Shape::Map { .. } => {
            errors.push(last.layer.error(format!(
                "the network ends with {map}, but a classifier ends with a vector of class scores: add `global_avg_pool` (or `flatten`) and `dense(classes)`"
            )));
            return None;
        }
    };
    Some(CheckedNetwork {
        network,
        layers,
        classes,
    })
}

/// Checks a chain starting from `input`, up to its first rejected layer (later layers would
/// only report consequences); `top` is false inside branches.
fn chain(
    layers: &[Layer],
    mut shape: Shape,
    names: &mut HashMap<&'static str, usize>,
    errors: &Errors,
    top: bool,
) -> Vec<Checked> {
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let mut cx = ShapeCx {
            errors,
            names,
            last: top && i + 1 == layers.len(),
            branches: Vec::new(),
        };
        let Some(output) = (layer.def.shape)(&mut cx, layer, &shape) else {
            break;
        };
        let branches = cx.branches;
        // named after its branches' layers, as they run first
        let n = names.entry(layer.def.row).or_insert(0);
        *n += 1;
        let checked = Checked {
            layer: layer.clone(),
            name: format!("{}_{n}", layer.def.row),
            input: shape,
            output,
            branches,
        };
        shape = checked.output.clone();
        out.push(checked);
    }
    out
}
