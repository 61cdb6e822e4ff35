//! Trains one of the paper's CIFAR-10 models (Conv2D, SeparableConv2D or LightLayers of rank
//! k) and prints its row of the paper's table.
//!
//! ```text
//! cargo run --release --example cifar10 -- --download
//! cargo run --release --example cifar10 -- --variant conv --data-dir ~/data --out runs/c10-conv
//! ```
//!
//! CIFAR-10 is not embedded: pass a data folder or `--download`.

#[path = "common/mod.rs"]
mod common;

use lightlayers::data::DatasetKind;
use lightlayers::paper::{Cifar10Conv, Cifar10Light, Cifar10Separable};

const SETTINGS: common::Settings = common::Settings {
    kind: DatasetKind::Cifar10,
    about: "Train a LightLayers paper model on CIFAR-10 (lr 1e-4, 20 epochs, batches of 64)",
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
        Cifar10Conv,
        Cifar10Separable,
        Cifar10Light
    ))
}
