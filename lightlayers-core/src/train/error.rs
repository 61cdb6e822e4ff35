//! The one error type of the training module.
//!
//! Every variant says in one line what went wrong and where (the file, the epoch and step, the
//! setting), so that a command-line tool can print it and exit; nothing in `train` panics on a
//! user's file or argument.

use std::path::PathBuf;

use crate::data::DataError;

/// Everything that can stop training, evaluation or a checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A dataset could not be read or batched.
    #[error(transparent)]
    Data(#[from] DataError),

    /// The device (dfdx) reported an error: out of memory, a failed kernel launch, ...
    #[error("device error: {message}")]
    Device {
        /// What the device said.
        message: String,
    },

    /// A setting that cannot work (a batch size of zero, a negative learning rate, ...).
    #[error("invalid {name}: {reason}")]
    InvalidConfig {
        /// The setting's name.
        name: &'static str,
        /// Why it cannot work.
        reason: String,
    },

    /// A dataset that does not fit the network (image shape or number of classes).
    #[error("{dataset} does not fit network {network}: {reason}")]
    DatasetMismatch {
        /// The dataset's name.
        dataset: String,
        /// The network's name.
        network: &'static str,
        /// What differs.
        reason: String,
    },

    /// The loss became NaN or infinite. Training stopped before the step's update; the
    /// checkpoint on disk, if any, is the last good epoch's and was not touched.
    #[error(
        "{phase} loss is {value} at epoch {epoch}{}; training stopped{}",
        step.map(|(s, n)| format!(", step {s} of {n}")).unwrap_or_default(),
        checkpoint.as_ref().map(|(dir, e)| format!(
            " (the checkpoint in {} still holds epoch {e})", dir.display()
        )).unwrap_or_default()
    )]
    NonFiniteLoss {
        /// "training" or "test".
        phase: &'static str,
        /// The epoch, counted from 1.
        epoch: usize,
        /// The step within the epoch and the steps per epoch, both counted from 1, for a
        /// training loss.
        step: Option<(usize, usize)>,
        /// The loss.
        value: f64,
        /// The output folder and the last epoch saved in it, when there is one.
        checkpoint: Option<(PathBuf, usize)>,
    },

    /// Reading, writing or renaming a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A checkpoint file exists but cannot be used (corrupt, truncated, from another network).
    #[error("{}: {reason}", path.display())]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The output folder's path names something else (a file).
    #[error("{} is not a folder: give a folder for the checkpoint (it is created if missing)", path.display())]
    OutputNotAFolder {
        /// The path given as output folder.
        path: PathBuf,
    },

    /// The output folder cannot be created or written into (permissions, a read-only or full
    /// file system); checked before training starts.
    #[error("cannot write into the output folder {}: {source}", dir.display())]
    OutputUnwritable {
        /// The output folder.
        dir: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// Another run is writing into the same output folder (it holds the folder's lock).
    #[error(
        "{} is in use by another run{}: wait for it to end, or choose another output folder",
        dir.display(),
        pid.map(|p| format!(" (process {p})")).unwrap_or_default()
    )]
    OutputInUse {
        /// The output folder.
        dir: PathBuf,
        /// The other run's process id, when known.
        pid: Option<u32>,
    },

    /// `resume` was asked for, but the output folder holds no checkpoint.
    #[error("nothing to resume: {} holds no checkpoint ({} is missing)", dir.display(), crate::train::checkpoint::STATE_FILE)]
    NoCheckpoint {
        /// The output folder.
        dir: PathBuf,
    },

    /// The output folder already holds a checkpoint and `resume` was not asked for; training
    /// from scratch would overwrite it.
    #[error(
        "{} already holds a checkpoint (epoch {epoch}): resume it, or choose another output folder",
        dir.display()
    )]
    CheckpointExists {
        /// The output folder.
        dir: PathBuf,
        /// The last epoch it holds.
        epoch: usize,
    },

    /// A setting of the resumed run differs from the one the checkpoint was made with, so the
    /// result could not equal an uninterrupted run.
    #[error(
        "cannot resume: the checkpoint was made with {what} {saved}, this run asks for {requested}"
    )]
    ResumeMismatch {
        /// The setting, e.g. "batch size".
        what: &'static str,
        /// Its value in the checkpoint.
        saved: String,
        /// Its value now.
        requested: String,
    },

    /// The optimizer's saved state does not fit the model (a tensor missing or of another size).
    #[error("optimizer state does not fit the model: {reason}")]
    OptimizerMismatch {
        /// What differs.
        reason: String,
    },
}

impl From<crate::atomic_file::FileError> for TrainError {
    fn from(e: crate::atomic_file::FileError) -> Self {
        TrainError::io(e.path, e.source)
    }
}

impl TrainError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a device error (dfdx's `D::Err`).
    pub(crate) fn device(err: impl std::fmt::Display) -> Self {
        TrainError::Device {
            message: err.to_string(),
        }
    }

    /// A corrupt or unusable checkpoint file.
    pub(crate) fn bad(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TrainError::BadCheckpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
