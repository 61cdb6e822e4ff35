//! The engine of lightlayers: factorized layers on dfdx, the convolution and pooling ops they
//! need, and the traits the `network!` macro expands to.

mod atomic_file;
pub mod data;
mod element;
pub mod layers;
pub mod network;
pub mod ops;
pub mod summary;
pub mod train;

pub use element::Element;
pub use network::{Images, Logits, Network, NetworkModel};
pub use ops::Backend;
pub use summary::{Summary, SummaryRow};
