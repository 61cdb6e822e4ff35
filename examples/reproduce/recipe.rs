//! The paper's training settings per dataset, as the single-model examples use them
//! (`examples/mnist.rs`, … : their `common::Settings`): Adam with batches of 64, and these.

use lightlayers::data::DatasetKind;

/// The settings that differ between datasets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    /// Adam's initial learning rate.
    pub lr: f64,
    /// Epochs.
    pub epochs: usize,
    /// `ReduceLROnPlateau`'s patience on the test loss.
    pub plateau_patience: usize,
}

impl Recipe {
    /// MNIST: 1e-3, 10 epochs, patience 4; Fashion-MNIST the same with patience 3; CIFAR:
    /// 1e-4, 20 epochs, patience 4.
    pub fn of(dataset: DatasetKind) -> Recipe {
        match dataset {
            DatasetKind::Mnist => Recipe {
                lr: 1e-3,
                epochs: 10,
                plateau_patience: 4,
            },
            DatasetKind::FashionMnist => Recipe {
                lr: 1e-3,
                epochs: 10,
                plateau_patience: 3,
            },
            DatasetKind::Cifar10 | DatasetKind::Cifar100 => Recipe {
                lr: 1e-4,
                epochs: 20,
                plateau_patience: 4,
            },
        }
    }
}
