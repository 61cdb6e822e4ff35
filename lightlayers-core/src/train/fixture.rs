//! A network and datasets small enough for the trainer's unit tests to train several runs in
//! well under a second: 2×2 images, three classes, one dense layer.

use dfdx::nn::modules::Linear;
use dfdx::prelude::*;

use crate::data::Dataset;
use crate::network::{Penalty, TrainLogits};
use crate::summary::Summary;
use crate::{Backend, Element, Images, Logits, Network, NetworkModel};

/// The network: the four pixels of a 1×2×2 image into a dense layer of three classes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pixels;

impl Network for Pixels {
    type Channels = Const<1>;
    type Height = Const<2>;
    type Width = Const<2>;
    type Classes = Const<3>;
    type Model<E: Element, D: Backend<E>> = Linear<4, 3, E, D>;
    const NAME: &'static str = "Pixels";
    const INPUT_SHAPE: [usize; 3] = [1, 2, 2];
    const CLASSES: usize = 3;
    const TRAINABLE_PARAMS: usize = 15;
    const NON_TRAINABLE_PARAMS: usize = 0;
    const MACS: usize = 12;

    fn summary() -> Summary {
        Summary {
            name: "Pixels".into(),
            input: [1, 2, 2],
            rows: vec![],
            trainable: 15,
            non_trainable: 0,
        }
    }
}

impl<E: Element, D: Backend<E>> NetworkModel<Pixels, E, D> for Linear<4, 3, E, D> {
    fn try_logits(&self, x: Images<Pixels, E, D>) -> Result<Logits<Pixels, E, D>, D::Err> {
        let batch = x.shape().0;
        self.try_forward(x.try_reshape_like(&(batch, Const::<4>))?)
    }

    fn try_logits_train(
        &mut self,
        x: Images<Pixels, E, D, OwnedTape<E, D>>,
    ) -> Result<TrainLogits<Pixels, E, D>, D::Err> {
        let batch = x.shape().0;
        self.try_forward(x.try_reshape_like(&(batch, Const::<4>))?)
    }

    fn try_penalty(&self) -> Result<Penalty<E, D>, D::Err> {
        Ok(None)
    }
}

const CLASSES: &[&str] = &["first", "second", "third"];

/// `n` noisy images: class c has its pixel c bright.
pub(crate) fn dataset(n: usize, salt: u64) -> Dataset {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 57) as u8
    };
    let mut images = Vec::with_capacity(n * 4);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 3;
        images.extend((0..4).map(|p| if p == class { 120 } else { 0 } + noise()));
        labels.push(class as u8);
    }
    Dataset::new("pixels", [1, 2, 2], CLASSES, images, labels)
        .unwrap_or_else(|e| panic!("the fixture dataset is valid: {e}"))
}

/// A fresh scratch folder for test `name`.
pub(crate) fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ll-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
