//! The engine of lightlayers: factorized layers on dfdx, the convolution and pooling ops they
//! need, and the traits the `network!` macro expands to.

mod element;
pub mod ops;

pub use element::Element;
