//! The network as a model: resolved layers with typed arguments and spans.

mod aliases;
mod args;
mod layer;
mod resolve;
pub mod suggest;
mod value;

#[cfg(test)]
pub use aliases::normalize;
pub use args::{Param, ParamKind, Signature};
pub use layer::{error_with_origin, Layer, Network, Padding};
pub use resolve::resolve;
pub use value::Dim;
