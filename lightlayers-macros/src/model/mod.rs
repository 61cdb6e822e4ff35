//! The network as a model: resolved layers with typed arguments and spans.

mod aliases;
mod args;
mod layer;
mod resolve;
pub mod suggest;
mod value;

pub use layer::{error_with_origin, ConvArgs, Layer, LayerKind, Network, Padding};
pub use resolve::resolve;
pub use value::Dim;
