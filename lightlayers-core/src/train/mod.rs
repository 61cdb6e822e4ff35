//! Training as the paper does it, in Rust: Keras's Adam, `ReduceLROnPlateau` and
//! `EarlyStopping` on the test loss, per-epoch metrics, and checkpoints that resume to the
//! same result as an uninterrupted run.
//!
//! ```no_run
//! use dfdx::prelude::*;
//! use lightlayers_core::data::{load, DatasetKind, LoadOptions};
//! use lightlayers_core::train::{TrainConfig, Trainer};
//! # use lightlayers_core::Network;
//! # fn run<N: Network>() -> Result<(), Box<dyn std::error::Error>> {
//! let splits = load(DatasetKind::Mnist, &LoadOptions::default())?;
//! eprintln!("{}", splits.notice());
//! let config = TrainConfig {
//!     out_dir: Some("runs/mnist".into()),
//!     ..TrainConfig::default()
//! };
//! let dev = Cpu::seed_from_u64(config.seed);
//! let mut model = N::try_build::<f32, Cpu>(&dev)?;
//! let report = Trainer::new(config)?.fit::<N, f32, Cpu>(&mut model, &splits.train, &splits.test)?;
//! println!("test accuracy {:.4}", report.test_accuracy);
//! # Ok(()) }
//! ```
//!
//! Reproducibility: on the CPU, a run is a function of its settings (the seed of the initial
//! weights and the shuffle seed included): two runs give bit-identical weights and loss curves,
//! and so does a run interrupted and resumed at any epoch. On CUDA, dfdx's kernels are not
//! deterministic (two runs differ in the fourth digit of the loss after a couple of epochs), so
//! a resumed run is only close to an uninterrupted one. Interrupting (Ctrl-C) is always safe;
//! see [`Checkpoint`] and [`Commit`]. One output folder takes one run at a time (see
//! [`LOCK_FILE`]).

mod adam;
mod batch;
mod checkpoint;
mod commit;
mod config;
mod error;
mod exact;
#[cfg(test)]
mod fixture;
mod lock;
mod metrics;
mod model_tensors;
mod progress;
mod schedule;
mod tensor_file;
mod trainer;
mod weights;

pub use adam::{KerasAdam, KerasAdamConfig};
pub use checkpoint::{Checkpoint, Repair, RunSettings, TrainerState, MODEL_FILE, STATE_FILE};
pub use commit::{Commit, CommitStep};
pub use config::TrainConfig;
pub use error::TrainError;
pub use lock::LOCK_FILE;
pub use metrics::{evaluate, EpochRecord, Evaluation, History, METRICS_CSV, METRICS_JSON};
pub use schedule::{EarlyStopping, ReduceLrOnPlateau};
pub use trainer::{fit, TrainReport, Trainer};
pub use weights::{load_weights, save_weights};
