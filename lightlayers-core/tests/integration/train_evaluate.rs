//! `evaluate` on a model whose scores are known: a hand-written network whose logits are one
//! bias vector, whatever the image.

use dfdx::prelude::*;
use lightlayers_core::data::Dataset;
use lightlayers_core::network::{Penalty, TrainLogits};
use lightlayers_core::train::{evaluate, TrainError};
use lightlayers_core::{Backend, Element, Images, Logits, Network, NetworkModel, Summary};

/// Logits = `bias` for every image; L2 penalty `0.01 · Σ bias²`.
#[derive(Clone, Debug)]
struct BiasModel<E: Dtype, D: Storage<E>> {
    bias: Tensor<Rank1<3>, E, D>,
}

impl<E: Dtype, D: Device<E>> TensorCollection<E, D> for BiasModel<E, D> {
    type To<E2: Dtype, D2: Device<E2>> = BiasModel<E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, E, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            Self::tensor(
                "bias",
                |s| &s.bias,
                |s| &mut s.bias,
                TensorOptions::reset_to_zeros(),
            ),
            |bias| BiasModel { bias },
        )
    }
}

/// The network: 1×2×2 images, 3 classes.
#[derive(Clone, Copy, Debug, Default)]
struct Fixed;

impl Network for Fixed {
    type Channels = Const<1>;
    type Height = Const<2>;
    type Width = Const<2>;
    type Classes = Const<3>;
    type Model<E: Element, D: Backend<E>> = BiasModel<E, D>;
    const NAME: &'static str = "Fixed";
    const INPUT_SHAPE: [usize; 3] = [1, 2, 2];
    const CLASSES: usize = 3;
    const TRAINABLE_PARAMS: usize = 3;
    const NON_TRAINABLE_PARAMS: usize = 0;
    const MACS: usize = 0;

    fn summary() -> Summary {
        Summary {
            name: "Fixed".into(),
            input: [1, 2, 2],
            rows: vec![],
            trainable: 3,
            non_trainable: 0,
        }
    }
}

impl<E: Element, D: Backend<E>> NetworkModel<Fixed, E, D> for BiasModel<E, D> {
    fn try_logits(&self, x: Images<Fixed, E, D>) -> Result<Logits<Fixed, E, D>, D::Err> {
        let batch = x.shape().0;
        self.bias.clone().try_broadcast_like(&(batch, Const))
    }

    fn try_logits_train(
        &mut self,
        x: Images<Fixed, E, D, OwnedTape<E, D>>,
    ) -> Result<TrainLogits<Fixed, E, D>, D::Err> {
        let batch = x.shape().0;
        let (_, tape) = x.split_tape();
        self.bias
            .clone()
            .put_tape(tape)
            .try_broadcast_like(&(batch, Const))
    }

    fn try_penalty(&self) -> Result<Penalty<E, D>, D::Err> {
        Ok(Some(
            self.bias
                .retaped::<OwnedTape<E, D>>()
                .try_square()?
                .try_sum()?
                .try_mul(E::of(0.01))?,
        ))
    }
}

const CLASSES: &[&str] = &["a", "b", "c"];

fn dataset(labels: &[u8], shape: [usize; 3]) -> Dataset {
    let len: usize = shape.iter().product();
    Dataset::new(
        "tiny",
        shape,
        CLASSES,
        vec![7; labels.len() * len],
        labels.to_vec(),
    )
    .unwrap()
}

#[test]
fn loss_and_accuracy_of_known_scores() {
    let dev = Cpu::default();
    let mut model = Fixed::try_build::<f64, Cpu>(&dev).unwrap();
    let ln2 = 2f64.ln();
    // softmax([0, ln 2, 0]) = [1/4, 1/2, 1/4]
    model.bias = dev.tensor([0.0, ln2, 0.0]);
    let data = dataset(&[1, 1, 0, 2], [1, 2, 2]);
    // Batches of 3 then 1: the mean must weight them by size.
    for batch_size in [1, 3, 4, 100] {
        let eval = evaluate::<Fixed, f64, Cpu>(&model, &data, batch_size).unwrap();
        let expected = 1.5 * ln2 + 0.01 * ln2 * ln2;
        assert!(
            (eval.loss - expected).abs() < 1e-12,
            "batch {batch_size}: {} vs {expected}",
            eval.loss
        );
        assert_eq!(eval.accuracy, 0.5);
        assert_eq!(eval.examples, 4);
    }
}

#[test]
fn ties_go_to_the_first_class_and_f32_works() {
    let dev = Cpu::default();
    let model = Fixed::try_build::<f32, Cpu>(&dev).unwrap();
    // All scores equal: arg-max is class 0, loss ln 3.
    let data = dataset(&[0, 1, 2], [1, 2, 2]);
    let eval = evaluate::<Fixed, f32, Cpu>(&model, &data, 2).unwrap();
    assert!((eval.accuracy - 1.0 / 3.0).abs() < 1e-12);
    assert!((eval.loss - 3f64.ln()).abs() < 1e-6);
}

#[test]
fn mismatched_or_empty_data_and_zero_batch_are_errors() {
    let dev = Cpu::default();
    let model = Fixed::try_build::<f32, Cpu>(&dev).unwrap();
    let wrong = dataset(&[0, 1], [1, 3, 3]);
    let err = evaluate::<Fixed, f32, Cpu>(&model, &wrong, 2).unwrap_err();
    assert!(matches!(err, TrainError::DatasetMismatch { .. }), "{err}");
    assert!(err.to_string().contains("[1, 3, 3]"), "{err}");
    let empty = dataset(&[], [1, 2, 2]);
    assert!(evaluate::<Fixed, f32, Cpu>(&model, &empty, 2).is_err());
    let data = dataset(&[0], [1, 2, 2]);
    assert!(evaluate::<Fixed, f32, Cpu>(&model, &data, 0).is_err());
}
