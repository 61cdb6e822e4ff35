//! Trains one of the paper's MNIST models (Conv2D, SeparableConv2D or LightLayers of rank k)
//! and prints its row of the paper's table.
//!
//! ```text
//! cargo run --release --example mnist -- --epochs 1
//! cargo run --release --example mnist -- --variant light --k 2 --data-dir ~/data --out runs/mnist-k2
//! ```
//!
//! Without a data folder or `--download`, it trains on the subset of MNIST compiled into the
//! library (20 epochs by default there, as it holds a sixth of the data).

#[path = "common/mod.rs"]
mod common;

use lightlayers::data::DatasetKind;
use lightlayers::paper::{MnistConv, MnistLight, MnistSeparable};

const SETTINGS: common::Settings = common::Settings {
    kind: DatasetKind::Mnist,
    about: "Train a LightLayers paper model on MNIST (lr 1e-3, 10 epochs, batches of 64)",
    k: "3",
    epochs: "10",
    lr: "0.001",
    plateau_patience: 4,
};

fn main() -> std::process::ExitCode {
    let args = common::parse(&SETTINGS);
    common::finish(common::dispatch!(
        args,
        SETTINGS,
        MnistConv,
        MnistSeparable,
        MnistLight
    ))
}
