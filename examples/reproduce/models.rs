//! From a table row known at run time to the paper's network type known at compile time:
//! every row of every table maps to one `lightlayers::paper` type, and work that needs the
//! type (training, its constants) is written once as a [`ModelTask`].

use lightlayers::data::DatasetKind;
use lightlayers::paper::*;
use lightlayers::prelude::*;

use crate::plan::{Family, Row};

/// Work generic over the network type of a row.
pub trait ModelTask {
    /// What the work gives.
    type Output;
    /// Does the work for network `N`.
    fn run<N: Network>(self) -> Self::Output;
}

/// Runs `task` with the network type of `row`; `None` when no paper table has the row.
pub fn with_model<T: ModelTask>(row: Row, task: T) -> Option<T::Output> {
    use DatasetKind::{Cifar10, Cifar100, FashionMnist, Mnist};
    use Family::{Conv, Light, Separable};
    Some(match (row.dataset(), row.family, row.k) {
        (Mnist, Conv, None) => task.run::<MnistConv>(),
        (Mnist, Separable, None) => task.run::<MnistSeparable>(),
        (Mnist, Light, Some(1)) => task.run::<MnistLight<1>>(),
        (Mnist, Light, Some(2)) => task.run::<MnistLight<2>>(),
        (Mnist, Light, Some(3)) => task.run::<MnistLight<3>>(),
        (Mnist, Light, Some(4)) => task.run::<MnistLight<4>>(),
        // Fashion-MNIST's networks are MNIST's, layer for layer (the paper's Table 2 has
        // Table 1's parameter counts): its rows reuse those types, which saves compiling six
        // more networks into this example.
        (FashionMnist, Conv, None) => task.run::<MnistConv>(),
        (FashionMnist, Separable, None) => task.run::<MnistSeparable>(),
        (FashionMnist, Light, Some(1)) => task.run::<MnistLight<1>>(),
        (FashionMnist, Light, Some(2)) => task.run::<MnistLight<2>>(),
        (FashionMnist, Light, Some(3)) => task.run::<MnistLight<3>>(),
        (FashionMnist, Light, Some(4)) => task.run::<MnistLight<4>>(),
        (FashionMnist, Light, Some(5)) => task.run::<MnistLight<5>>(),
        (FashionMnist, Light, Some(6)) => task.run::<MnistLight<6>>(),
        (Cifar10, Conv, None) => task.run::<Cifar10Conv>(),
        (Cifar10, Separable, None) => task.run::<Cifar10Separable>(),
        (Cifar10, Light, Some(1)) => task.run::<Cifar10Light<1>>(),
        (Cifar10, Light, Some(2)) => task.run::<Cifar10Light<2>>(),
        (Cifar10, Light, Some(3)) => task.run::<Cifar10Light<3>>(),
        (Cifar10, Light, Some(4)) => task.run::<Cifar10Light<4>>(),
        (Cifar10, Light, Some(5)) => task.run::<Cifar10Light<5>>(),
        (Cifar100, Conv, None) => task.run::<Cifar100Conv>(),
        (Cifar100, Separable, None) => task.run::<Cifar100Separable>(),
        (Cifar100, Light, Some(1)) => task.run::<Cifar100Light<1>>(),
        (Cifar100, Light, Some(2)) => task.run::<Cifar100Light<2>>(),
        (Cifar100, Light, Some(3)) => task.run::<Cifar100Light<3>>(),
        (Cifar100, Light, Some(4)) => task.run::<Cifar100Light<4>>(),
        (Cifar100, Light, Some(5)) => task.run::<Cifar100Light<5>>(),
        _ => return None,
    })
}

/// Multiply-accumulates per image of network `M` (forward), when the build knows them.
///
/// The network's multiply–accumulates per image (`Network::MACS`, computed by the compiler).
/// An `Option` because results files from other sources may not carry it.
pub fn model_macs<M: Network>() -> Option<u64> {
    Some(M::MACS as u64)
}

/// A row's cost from its network's constants: parameters and MACs.
pub struct Cost;

impl ModelTask for Cost {
    type Output = (u64, Option<u64>);

    fn run<N: Network>(self) -> Self::Output {
        (N::PARAMS as u64, model_macs::<N>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paper;

    #[test]
    fn every_paper_row_has_a_model_with_its_parameter_count() {
        for dataset in DatasetKind::ALL {
            for r in paper::table(dataset) {
                let row = Row::new(dataset, r.family, r.k);
                let (params, _) = with_model(row, Cost).expect("a model for every row");
                assert_eq!(params, r.params, "{row}");
            }
        }
        let beyond = Row::new(DatasetKind::Mnist, Family::Light, Some(5));
        assert!(with_model(beyond, Cost).is_none());
    }
}
