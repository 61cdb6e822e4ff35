//! The paper's tables (Jha et al. 2020, test set) and the same models re-trained with
//! TensorFlow on this project's machines (`docs/paper.md`): the figures our rows are
//! reported beside.

use lightlayers::data::DatasetKind;

use crate::plan::Family;

/// One row of a paper table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperRow {
    /// Conv2D, SeparableConv2D or LightLayers.
    pub family: Family,
    /// The rank of the light layers (LightLayers rows only).
    pub k: Option<u8>,
    /// Parameters as the paper counts them (Keras: trainable + batch-norm statistics).
    pub params: u64,
    /// Test accuracy the paper reports (one run).
    pub accuracy: f64,
    /// Test loss the paper reports.
    pub loss: f64,
    /// Test accuracy of the same model re-trained with TensorFlow 2.21 here, where measured.
    pub tf_here: Option<f64>,
}

const fn row(family: Family, k: Option<u8>, params: u64, accuracy: f64, loss: f64) -> PaperRow {
    PaperRow {
        family,
        k,
        params,
        accuracy,
        loss,
        tf_here: None,
    }
}

const fn tf(mut r: PaperRow, accuracy: f64) -> PaperRow {
    r.tf_here = Some(accuracy);
    r
}

use Family::{Conv, Light, Separable};

const MNIST: &[PaperRow] = &[
    tf(row(Conv, None, 18_818, 0.9887, 0.018), 0.9873),
    tf(row(Separable, None, 3_611, 0.9338, 0.2433), 0.9655),
    tf(row(Light, Some(1), 2_649, 0.9418, 0.1327), 0.9425),
    tf(row(Light, Some(2), 4_392, 0.9749, 0.0554), 0.9779),
    tf(row(Light, Some(3), 6_135, 0.9775, 0.0513), 0.9884),
    tf(row(Light, Some(4), 7_878, 0.9720, 0.0704), 0.9701),
];

const FASHION_MNIST: &[PaperRow] = &[
    tf(row(Conv, None, 18_818, 0.9147, 0.1468), 0.9003),
    tf(row(Separable, None, 3_611, 0.8725, 0.3175), 0.8743),
    row(Light, Some(1), 2_649, 0.789, 0.6752),
    row(Light, Some(2), 4_392, 0.8452, 0.4247),
    tf(row(Light, Some(3), 6_135, 0.8695, 0.3708), 0.8833),
    row(Light, Some(4), 7_878, 0.8623, 0.6184),
    tf(row(Light, Some(5), 9_621, 0.8820, 0.2810), 0.8755),
    row(Light, Some(6), 11_364, 0.8733, 0.3986),
];

const CIFAR10: &[PaperRow] = &[
    row(Conv, None, 76_794, 0.6882, 0.9701),
    row(Separable, None, 14_440, 0.5953, 1.3263),
    row(Light, Some(1), 5_937, 0.3686, 1.6723),
    row(Light, Some(2), 9_592, 0.4596, 1.5372),
    row(Light, Some(3), 13_247, 0.4937, 1.5287),
    row(Light, Some(4), 16_902, 0.5319, 1.3214),
    row(Light, Some(5), 20_557, 0.5576, 1.2122),
];

const CIFAR100: &[PaperRow] = &[
    row(Conv, None, 82_644, 0.3262, 2.6576),
    row(Separable, None, 20_290, 0.2207, 3.2108),
    row(Light, Some(1), 6_747, 0.0275, 4.2391),
    row(Light, Some(2), 10_402, 0.0398, 4.1836),
    row(Light, Some(3), 14_057, 0.0559, 4.0304),
    row(Light, Some(4), 17_712, 0.0551, 3.9978),
    row(Light, Some(5), 21_367, 0.0589, 4.0009),
];

/// The paper's table for `dataset`, in its order: Conv2D, SeparableConv2D, then LightLayers
/// by increasing k.
pub fn table(dataset: DatasetKind) -> &'static [PaperRow] {
    match dataset {
        DatasetKind::Mnist => MNIST,
        DatasetKind::FashionMnist => FASHION_MNIST,
        DatasetKind::Cifar10 => CIFAR10,
        DatasetKind::Cifar100 => CIFAR100,
    }
}

/// The paper's row for a model, if the paper's table has it.
pub fn lookup(dataset: DatasetKind, family: Family, k: Option<u8>) -> Option<&'static PaperRow> {
    table(dataset)
        .iter()
        .find(|r| r.family == family && r.k == k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn light_rows_follow_the_parameter_formula() {
        // 1,743·k + 906 (MNIST-like), 3,655·k + 2,282 / + 3,092 (CIFAR-10 / -100).
        for (dataset, per_k, base) in [
            (DatasetKind::Mnist, 1_743, 906),
            (DatasetKind::FashionMnist, 1_743, 906),
            (DatasetKind::Cifar10, 3_655, 2_282),
            (DatasetKind::Cifar100, 3_655, 3_092),
        ] {
            for r in table(dataset).iter().filter(|r| r.family == Light) {
                let k = u64::from(r.k.unwrap_or(0));
                assert_eq!(r.params, per_k * k + base, "{dataset} k={k}");
            }
        }
    }
}
