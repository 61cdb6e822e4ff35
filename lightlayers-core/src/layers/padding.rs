//! Padding as a type parameter, so a layer's type says how it pads (and the `network!` macro
//! can name it).

use crate::ops::Padding;

/// A padding mode known at compile time.
pub trait PaddingMode: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// The runtime value the ops take.
    const PADDING: Padding;
}

/// `same` padding: the output keeps ceil(input / stride) per side (Keras's `padding="same"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Same;

/// `valid` padding: no zeros added (Keras's `padding="valid"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valid;

impl PaddingMode for Same {
    const PADDING: Padding = Padding::Same;
}

impl PaddingMode for Valid {
    const PADDING: Padding = Padding::Valid;
}
