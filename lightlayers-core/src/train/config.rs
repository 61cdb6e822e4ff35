//! The settings of a training run, and their check before anything runs.

use std::path::PathBuf;

use super::adam::KerasAdamConfig;
use super::error::TrainError;
use super::schedule::ReduceLrOnPlateau;

/// How to train. [`TrainConfig::default`] is the paper's MNIST recipe; set `lr` to 1e-4 and
/// `epochs` to 20 for CIFAR, `plateau_patience` to 3 for Fashion-MNIST.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Epochs to train (in total, counting those of a resumed checkpoint). Default 10.
    pub epochs: usize,
    /// Examples per step, also used for evaluation. Default 64.
    pub batch_size: usize,
    /// Adam's initial learning rate. Default 1e-3 (the paper's MNIST rate; CIFAR: 1e-4).
    pub lr: f64,
    /// Shuffle seed: each epoch's order depends only on (seed, epoch). `None` keeps the
    /// dataset's order, as the paper's `shuffle=False` does. Default `Some(0)`.
    pub shuffle: Option<u64>,
    /// The seed the model's initial weights were drawn with: create the device with
    /// `Cpu::seed_from_u64(seed)` before building the model. The trainer records it in the
    /// checkpoint, and refuses to resume a checkpoint made with another. Default 0.
    pub seed: u64,
    /// `ReduceLROnPlateau`'s patience on the test loss; `None` disables it. Default `Some(4)`
    /// (the paper; 3 for Fashion-MNIST).
    pub plateau_patience: Option<usize>,
    /// `ReduceLROnPlateau`'s factor. Default 0.1.
    pub plateau_factor: f64,
    /// `EarlyStopping`'s patience on the test loss; `None` disables it. Default `Some(10)`.
    pub early_stop_patience: Option<usize>,
    /// Folder for the checkpoint and the metrics files (see [`Checkpoint`](super::Checkpoint));
    /// created if missing, checked and locked before training. `None` writes nothing. Default
    /// `None`.
    pub out_dir: Option<PathBuf>,
    /// Continue the checkpoint in `out_dir` instead of starting afresh. The learning rate,
    /// callbacks and history come from the checkpoint (`lr` is not used); `epochs` may be
    /// raised to train longer. Default `false`.
    pub resume: bool,
    /// With `resume`: the learning rate to continue with, in place of the checkpoint's (which
    /// plateau reductions may have lowered); saved with the next epoch, so later resumes keep
    /// it. The run then differs from an uninterrupted one. Default `None`.
    pub resume_lr: Option<f64>,
    /// Show progress on stderr: a bar on a terminal (with the `progress` feature), lines
    /// otherwise. Default `true`.
    pub progress: bool,
    /// Print on stderr what changes the course of a run — a resumed or repaired checkpoint, a
    /// learning rate set or reduced, an early stop, nothing left to train — also when
    /// `progress` is off. Default `true`.
    pub notes: bool,
}

impl Default for TrainConfig {
    /// The paper's MNIST settings: 10 epochs, batches of 64, lr 1e-3, plateau patience 4,
    /// early-stopping patience 10; shuffled with seed 0; no output folder; progress and notes
    /// shown.
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 64,
            lr: 1e-3,
            shuffle: Some(0),
            seed: 0,
            plateau_patience: Some(4),
            plateau_factor: 0.1,
            early_stop_patience: Some(10),
            out_dir: None,
            resume: false,
            resume_lr: None,
            progress: true,
            notes: true,
        }
    }
}

impl TrainConfig {
    /// Checks that the settings can work: a batch size ≥ 1, valid learning rates and plateau
    /// factor, an output folder when resuming, a resume when `resume_lr` is set.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.batch_size == 0 {
            return Err(TrainError::InvalidConfig {
                name: "batch size",
                reason: "must be at least 1".to_string(),
            });
        }
        for lr in std::iter::once(self.lr).chain(self.resume_lr) {
            KerasAdamConfig {
                lr,
                ..KerasAdamConfig::default()
            }
            .validate()?;
        }
        ReduceLrOnPlateau::new(0)
            .with_factor(self.plateau_factor)
            .validate()?;
        if self.resume && self.out_dir.is_none() {
            return Err(TrainError::InvalidConfig {
                name: "resume",
                reason: "needs the output folder that holds the checkpoint".to_string(),
            });
        }
        if self.resume_lr.is_some() && !self.resume {
            return Err(TrainError::InvalidConfig {
                name: "resume learning rate",
                reason: "only applies when resuming; set the learning rate of a new run instead"
                    .to_string(),
            });
        }
        Ok(())
    }
}
