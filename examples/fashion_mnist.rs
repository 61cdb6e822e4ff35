//! Trains one of the paper's Fashion-MNIST models (Conv2D, SeparableConv2D or LightLayers of
//! rank k) and prints its row of the paper's table.
//!
//! ```text
//! cargo run --release --example fashion_mnist -- --epochs 1
//! cargo run --release --example fashion_mnist -- --k 5 --download --out runs/fashion-k5
//! ```
//!
//! Without a data folder or `--download`, it trains on the subset of Fashion-MNIST compiled
//! into the library (20 epochs by default there, as it holds a sixth of the data).

#[path = "common/mod.rs"]
mod common;

use lightlayers::data::DatasetKind;
use lightlayers::paper::{FashionMnistConv, FashionMnistLight, FashionMnistSeparable};

const SETTINGS: common::Settings = common::Settings {
    kind: DatasetKind::FashionMnist,
    about: "Train a LightLayers paper model on Fashion-MNIST (lr 1e-3, 10 epochs, batches of 64)",
    k: "5",
    epochs: "10",
    lr: "0.001",
    plateau_patience: 3,
};

fn main() -> std::process::ExitCode {
    let args = common::parse(&SETTINGS);
    common::finish(common::dispatch!(
        args,
        SETTINGS,
        FashionMnistConv,
        FashionMnistSeparable,
        FashionMnistLight
    ))
}
