//! Shapes flowing through a network, as the macro infers them.

use crate::model::Dim;

/// The shape of one example (no batch dimension).
#[derive(Clone)]
pub enum Shape {
    /// A stack of feature maps: channels × height × width.
    Map {
        /// Channels.
        c: Dim,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
    /// A vector of features.
    Vector {
        /// Length.
        n: Dim,
    },
}

impl Shape {
    /// True when both are provably the same.
    pub fn same_as(&self, other: &Shape) -> bool {
        match (self, other) {
            (
                Shape::Map { c, h, w },
                Shape::Map {
                    c: c2,
                    h: h2,
                    w: w2,
                },
            ) => c.same_as(c2) && h == h2 && w == w2,
            (Shape::Vector { n }, Shape::Vector { n: n2 }) => n.same_as(n2),
            _ => false,
        }
    }

    /// The channel count (or length, for vectors).
    pub fn channels(&self) -> &Dim {
        match self {
            Shape::Map { c, .. } => c,
            Shape::Vector { n } => n,
        }
    }
}

/// As messages write it, with the article where one is needed ("its input is 8×28×28 feature
/// maps", "... is a vector of 10"): a fixed "a" would read "a 8×28×28 feature map".
impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Map { c, h, w } => write!(f, "{c}×{h}×{w} feature maps"),
            Shape::Vector { n } => write!(f, "a vector of {n}"),
        }
    }
}
