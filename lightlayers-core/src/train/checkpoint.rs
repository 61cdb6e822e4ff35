//! Saving everything a run needs to continue after every epoch, and loading it back.
//!
//! An output folder holds:
//!
//! | file | content |
//! |---|---|
//! | `state.json` | [`TrainerState`]: epochs done, learning rate, callbacks, history, settings, and the names of the two files below |
//! | `weights-epoch-NNNN.safetensors` | the model after epoch NNNN ([`save_weights`](super::save_weights), batch-norm statistics included) |
//! | `optimizer-epoch-NNNN.safetensors` | [`KerasAdam`]'s step and moments after that epoch |
//! | `model.safetensors` | a copy of the latest weights under a fixed name, for inference ([`load_weights`], or dfdx's `load_safetensors`) |
//! | `metrics.csv`, `metrics.json` | the [`History`] |
//! | `.lightlayers.lock` | the lock that keeps a second run out of the folder (see [`LOCK_FILE`](super::LOCK_FILE)) |
//!
//! `state.json` is the truth: it is replaced in one atomic rename after the files it names are
//! complete, and the other files are derived from it (see [`Commit`](super::Commit) for the
//! steps of a save). A run interrupted at any moment (Ctrl-C, a crash, a full disk) leaves a
//! `state.json` that names complete weight and optimizer files of one same epoch; resuming
//! first runs [`Checkpoint::repair`], which brings `model.safetensors` and the metrics in line
//! with it and deletes the files nothing names. Nothing is written after a NaN loss, so the
//! last good epoch stays on disk.
//!
//! Resuming needs no random-generator state: the model's initial weights are overwritten by
//! the saved ones, and each epoch's shuffle order depends only on (seed, epoch).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::adam::KerasAdam;
use super::error::TrainError;
use super::lock::RunLock;
use super::metrics::{EpochRecord, History, METRICS_CSV, METRICS_JSON};
use super::schedule::{EarlyStopping, ReduceLrOnPlateau};
use super::weights::load_weights;
use crate::atomic_file as atomic;
use crate::{Backend, Element};

/// The trainer's state file, the checkpoint's commit point.
pub const STATE_FILE: &str = "state.json";
/// The latest weights under a fixed name, for inference.
pub const MODEL_FILE: &str = "model.safetensors";
/// The format written into [`TrainerState::format`], checked on loading.
const FORMAT: &str = "lightlayers-trainer/1";

/// The settings a resumed run must share with the run that made the checkpoint, so that the
/// two together equal one uninterrupted run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Examples per step.
    pub batch_size: usize,
    /// The shuffle seed, `None` when the examples were taken in order.
    pub shuffle: Option<u64>,
    /// The seed the model's initial weights were drawn with.
    pub seed: u64,
    /// The learning rate the run started with.
    #[serde(with = "super::exact")]
    pub initial_lr: f64,
    /// Training examples per epoch.
    pub train_examples: usize,
}

/// Everything besides the weights and the optimizer that a run needs to continue: written to
/// [`STATE_FILE`] after every epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// The file format (`"lightlayers-trainer/1"`).
    pub format: String,
    /// The network's name ([`Network::NAME`](crate::Network::NAME)).
    pub network: String,
    /// The network's parameter count, as a second check that the weights fit.
    pub params: usize,
    /// The element type trained in (`"f32"` or `"f64"`).
    pub element: String,
    /// Epochs finished.
    pub epochs_done: usize,
    /// The learning rate of the next epoch (after any reduction on a plateau).
    #[serde(with = "super::exact")]
    pub lr: f64,
    /// The plateau callback, when enabled.
    pub plateau: Option<ReduceLrOnPlateau>,
    /// The early-stopping callback, when enabled.
    pub early_stopping: Option<EarlyStopping>,
    /// Whether early stopping ended the run (a resume then has nothing left to do).
    pub stopped_early: bool,
    /// Every finished epoch's record.
    #[serde(with = "exact_history")]
    pub history: History,
    /// The settings a resume must match.
    pub settings: RunSettings,
    /// The weights file of epoch `epochs_done`, in the same folder.
    pub weights_file: String,
    /// The optimizer file of epoch `epochs_done`, in the same folder.
    pub optimizer_file: String,
}

impl TrainerState {
    /// The state of a run that has not finished an epoch yet.
    pub fn new(network: &str, params: usize, element: &str, settings: RunSettings) -> Self {
        TrainerState {
            format: FORMAT.to_string(),
            network: network.to_string(),
            params,
            element: element.to_string(),
            epochs_done: 0,
            lr: settings.initial_lr,
            plateau: None,
            early_stopping: None,
            stopped_early: false,
            history: History::default(),
            settings,
            weights_file: String::new(),
            optimizer_file: String::new(),
        }
    }
}

/// An output folder holding (or about to hold) a checkpoint; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// The checkpoint in folder `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Checkpoint { dir: dir.into() }
    }

    /// The output folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of [`STATE_FILE`].
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The path of [`MODEL_FILE`], the latest weights for inference.
    pub fn model_path(&self) -> PathBuf {
        self.dir.join(MODEL_FILE)
    }

    /// Whether the folder holds a checkpoint (a state file).
    pub fn exists(&self) -> bool {
        self.state_path().is_file()
    }

    /// Reads the state file. Errors with [`TrainError::NoCheckpoint`] when there is none,
    /// [`TrainError::BadCheckpoint`] when it cannot be parsed.
    pub fn read_state(&self) -> Result<TrainerState, TrainError> {
        let path = self.state_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TrainError::NoCheckpoint {
                    dir: self.dir.clone(),
                })
            }
            Err(e) => return Err(TrainError::io(path, e)),
        };
        let state: TrainerState = serde_json::from_slice(&bytes)
            .map_err(|e| TrainError::bad(&path, format!("not a trainer state: {e}")))?;
        if state.format != FORMAT {
            return Err(TrainError::bad(
                &path,
                format!("format {:?}, expected {FORMAT:?}", state.format),
            ));
        }
        for name in [&state.weights_file, &state.optimizer_file] {
            if name.is_empty() || Path::new(name).components().count() != 1 {
                return Err(TrainError::bad(&path, format!("bad file name {name:?}")));
            }
        }
        Ok(state)
    }

    /// Replaces the state file atomically with `state`: the commit point of
    /// [`Checkpoint::save`].
    pub fn write_state(&self, state: &TrainerState) -> Result<(), TrainError> {
        let mut json = serde_json::to_string_pretty(state)
            .map_err(|e| TrainError::bad(self.state_path(), e.to_string()))?;
        json.push('\n');
        Ok(atomic::write_bytes(&self.state_path(), json.as_bytes())?)
    }

    /// Brings the folder in line with its state file after a run stopped while saving:
    /// rewrites `model.safetensors` and the metrics files when they differ from what the state
    /// names, and deletes the weights and optimizer files it does not name and the temporary
    /// files of interrupted writes. Takes the folder's lock for the time (an error when a run
    /// is training into it); the trainer runs it on every resume. Returns what it changed.
    pub fn repair(&self) -> Result<Repair, TrainError> {
        let lock = RunLock::acquire(&self.dir)?;
        self.repair_locked(&lock)
    }

    /// [`Checkpoint::repair`] for a caller that holds the folder's lock.
    pub(crate) fn repair_locked(&self, _lock: &RunLock) -> Result<Repair, TrainError> {
        let state = self.read_state()?;
        let mut repair = Repair::default();
        let weights_path = self.dir.join(&state.weights_file);
        let weights = fs::read(&weights_path).map_err(|e| TrainError::io(&weights_path, e))?;
        if fs::read(self.model_path()).ok().as_deref() != Some(&weights[..]) {
            self.copy_weights_to_model(&state)?;
            repair.refreshed.push(MODEL_FILE.to_string());
        }
        for (name, content) in state.history.files() {
            let path = self.dir.join(name);
            if fs::read(&path).ok().as_deref() != Some(content.as_bytes()) {
                atomic::write_bytes(&path, content.as_bytes())?;
                repair.refreshed.push(name.to_string());
            }
        }
        repair.removed = self.remove_stale(Some(&state));
        Ok(repair)
    }

    /// Deletes the weights and optimizer files of this folder that `keep` does not name (all
    /// of them without a state), and the hidden temporary files of interrupted writes; only
    /// names this module writes are touched. Returns the names deleted. Failures to delete
    /// are ignored: a leftover file is harmless, and the next clean-up tries again.
    pub(crate) fn remove_stale(&self, keep: Option<&TrainerState>) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let kept =
            |name: &str| keep.is_some_and(|s| name == s.weights_file || name == s.optimizer_file);
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = (is_epoch_file(&name) && !kept(&name)) || is_partial_file(&name);
            if stale && fs::remove_file(entry.path()).is_ok() {
                removed.push(name);
            }
        }
        removed.sort();
        removed
    }

    /// Loads the checkpoint: its weights into `model` (built for the same network), its
    /// optimizer onto `device`; returns the optimizer and the state. Errors, leaving `model`
    /// untouched, when a file is missing or corrupt or does not fit the model.
    pub fn restore<M, E, D>(
        &self,
        model: &mut M,
        device: &D,
    ) -> Result<(KerasAdam<E, D>, TrainerState), TrainError>
    where
        M: TensorCollection<E, D>,
        E: Element,
        D: Backend<E>,
    {
        let state = self.read_state()?;
        let optimizer = KerasAdam::load(&self.dir.join(&state.optimizer_file), device)?;
        optimizer.check_fits(model)?;
        load_weights(model, &self.dir.join(&state.weights_file))?;
        Ok((optimizer, state))
    }
}

/// What [`Checkpoint::repair`] changed in a folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repair {
    /// Files rewritten because they lagged the state file (the run stopped after its commit
    /// point, before it had updated them).
    pub refreshed: Vec<String>,
    /// Files deleted: weights and optimizer files the state does not name, temporary files.
    pub removed: Vec<String>,
}

impl Repair {
    /// Whether the folder was already consistent.
    pub fn is_empty(&self) -> bool {
        self.refreshed.is_empty() && self.removed.is_empty()
    }
}

impl fmt::Display for Repair {
    /// "refreshed model.safetensors, metrics.csv; removed weights-epoch-0012.safetensors".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.refreshed.is_empty() {
            parts.push(format!("refreshed {}", self.refreshed.join(", ")));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", self.removed.join(", ")));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// Whether `name` is one of the per-epoch files: `weights-epoch-NNNN.safetensors` or
/// `optimizer-epoch-NNNN.safetensors`.
fn is_epoch_file(name: &str) -> bool {
    ["weights-epoch-", "optimizer-epoch-"].iter().any(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".safetensors"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Whether `name` is a temporary file of an interrupted write of one of the checkpoint's
/// files (see `atomic`: `.NAME.part-…`).
fn is_partial_file(name: &str) -> bool {
    let Some((target, _)) = name.strip_prefix('.').and_then(|n| n.split_once(".part-")) else {
        return false;
    };
    is_epoch_file(target) || [STATE_FILE, MODEL_FILE, METRICS_CSV, METRICS_JSON].contains(&target)
}

/// The history inside [`TrainerState`], with every float stored exactly (see `exact`).
mod exact_history {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{EpochRecord, History};

    #[derive(Serialize, Deserialize)]
    struct Stored {
        epoch: usize,
        #[serde(with = "super::super::exact")]
        train_loss: f64,
        #[serde(with = "super::super::exact")]
        train_accuracy: f64,
        #[serde(with = "super::super::exact")]
        test_loss: f64,
        #[serde(with = "super::super::exact")]
        test_accuracy: f64,
        #[serde(with = "super::super::exact")]
        lr: f64,
        #[serde(with = "super::super::exact")]
        seconds: f64,
        #[serde(with = "super::super::exact")]
        images_per_second: f64,
    }

    pub(super) fn serialize<S: Serializer>(h: &History, s: S) -> Result<S::Ok, S::Error> {
        let stored: Vec<Stored> = h
            .epochs
            .iter()
            .map(|r| Stored {
                epoch: r.epoch,
                train_loss: r.train_loss,
                train_accuracy: r.train_accuracy,
                test_loss: r.test_loss,
                test_accuracy: r.test_accuracy,
                lr: r.lr,
                seconds: r.seconds,
                images_per_second: r.images_per_second,
            })
            .collect();
        stored.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<History, D::Error> {
        let stored = Vec::<Stored>::deserialize(d)?;
        Ok(History {
            epochs: stored
                .into_iter()
                .map(|r| EpochRecord {
                    epoch: r.epoch,
                    train_loss: r.train_loss,
                    train_accuracy: r.train_accuracy,
                    test_loss: r.test_loss,
                    test_accuracy: r.test_accuracy,
                    lr: r.lr,
                    seconds: r.seconds,
                    images_per_second: r.images_per_second,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_file_names_are_recognised_exactly() {
        for name in [
            "weights-epoch-0003.safetensors",
            "optimizer-epoch-12345.safetensors",
        ] {
            assert!(is_epoch_file(name), "{name}");
        }
        for name in [
            "weights-epoch-.safetensors",
            "weights-epoch-00a1.safetensors",
            "weights-epoch-0001.safetensors.bak",
            "my-weights-epoch-0001.safetensors",
            "model.safetensors",
        ] {
            assert!(!is_epoch_file(name), "{name}");
        }
    }
}
