//! Trains one of the paper's CIFAR-100 models (Conv2D, SeparableConv2D or LightLayers of rank
//! k) and prints its row of the paper's table.
//!
//! ```text
//! cargo run --release --example cifar100 -- --download
//! cargo run --release --example cifar100 -- --variant separable --data-dir ~/data
//! ```
//!
//! CIFAR-100 is not embedded: pass a data folder or `--download`.

#[path = "common/mod.rs"]
mod common;

use lightlayers::data::DatasetKind;
use lightlayers::paper::{Cifar100Conv, Cifar100Light, Cifar100Separable};

const SETTINGS: common::Settings = common::Settings {
    kind: DatasetKind::Cifar100,
    about: "Train a LightLayers paper model on CIFAR-100 (lr 1e-4, 20 epochs, batches of 64)",
    k: "5",
    epochs: "20",
    lr: "0.0001",
    plateau_patience: 4,
};

fn main() -> std::process::ExitCode {
    let args = common::parse(&SETTINGS);
    common::finish(common::dispatch!(
        args,
        SETTINGS,
        Cifar100Conv,
        Cifar100Separable,
        Cifar100Light
    ))
}
