//! Saving everything a run needs to continue after every epoch, and loading it back.
//!
//! An output folder holds:
//!
//! | file | content |
//! |---|---|
//! | `state.json` | [`TrainerState`]: epochs done, learning rate, callbacks, history, settings, and the names of the two files below |
//! | `weights-epoch-NNNN.safetensors` | the model after epoch NNNN (dfdx's `SaveToSafetensors`, batch-norm statistics included) |
//! | `optimizer-epoch-NNNN.safetensors` | [`KerasAdam`]'s step and moments after that epoch |
//! | `model.safetensors` | a copy of the latest weights under a fixed name, for inference (`LoadFromSafetensors`) |
//! | `metrics.csv`, `metrics.json` | the [`History`](super::History) |
//!
//! Every file is written to a temporary name and renamed into place, and `state.json` is
//! written last: it is the commit point. A run interrupted at any moment (Ctrl-C, a crash, a
//! full disk) leaves a `state.json` that names complete weight and optimizer files of one
//! same epoch; the files of the epoch before are deleted only after the new `state.json` is in
//! place, and the hidden temporary files of an interrupted write are deleted when training
//! starts again. Nothing is written after a NaN loss, so the last good epoch stays on disk.
//!
//! Resuming needs no random-generator state: the model's initial weights are overwritten by
//! the saved ones, and each epoch's shuffle order depends only on (seed, epoch).

use std::fs;
use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use dfdx::tensor::safetensors::SafeDtype;
use serde::{Deserialize, Serialize};

use super::adam::KerasAdam;
use super::atomic;
use super::error::TrainError;
use super::metrics::{EpochRecord, History};
use super::schedule::{EarlyStopping, ReduceLrOnPlateau};
use super::tensor_file::{Dtype, TensorFile};
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

    /// Replaces the state file atomically with `state`: what [`Checkpoint::save`] does last,
    /// and a way to change a checkpoint before resuming it (a lower learning rate, say).
    pub fn write_state(&self, state: &TrainerState) -> Result<(), TrainError> {
        let mut json = serde_json::to_string_pretty(state)
            .map_err(|e| TrainError::bad(self.state_path(), e.to_string()))?;
        json.push('\n');
        atomic::write_bytes(&self.state_path(), json.as_bytes())
    }

    /// Saves the model, the optimizer and `state` (which must say how many epochs are done)
    /// as described in the module docs. Fills in `state`'s file names; deletes the previous
    /// epoch's files once the new state is committed.
    pub fn save<M, E, D>(
        &self,
        model: &M,
        optimizer: &KerasAdam<E, D>,
        state: &mut TrainerState,
    ) -> Result<(), TrainError>
    where
        M: TensorCollection<E, D>,
        E: Element + SafeDtype,
        D: Backend<E>,
    {
        let previous = [state.weights_file.clone(), state.optimizer_file.clone()];
        let epoch = state.epochs_done;
        let weights_file = format!("weights-epoch-{epoch:04}.safetensors");
        let optimizer_file = format!("optimizer-epoch-{epoch:04}.safetensors");
        let weights = self.dir.join(&weights_file);
        atomic::write_with(&weights, |tmp| {
            model
                .save_safetensors(tmp)
                .map_err(|e| TrainError::bad(tmp, format!("cannot write the weights: {e:?}")))
        })?;
        optimizer.save(&self.dir.join(&optimizer_file))?;
        let mut next = state.clone();
        next.weights_file = weights_file;
        next.optimizer_file = optimizer_file;
        self.write_state(&next)?;
        *state = next;
        // Committed. The copy for inference and the clean-up may fail without harm.
        atomic::write_with(&self.model_path(), |tmp| {
            fs::copy(&weights, tmp)
                .map(drop)
                .map_err(|e| TrainError::io(tmp, e))
        })?;
        for old in previous {
            if !old.is_empty() && old != state.weights_file && old != state.optimizer_file {
                let _ = fs::remove_file(self.dir.join(old));
            }
        }
        Ok(())
    }

    /// Deletes the temporary files an interrupted write left behind (the hidden
    /// `.NAME.part-…` files of the checkpoint's own files); the trainer calls it before it
    /// starts writing.
    pub(crate) fn remove_partial_files(&self) {
        const OURS: [&str; 6] = [
            "state.json.part-",
            "model.safetensors.part-",
            "metrics.csv.part-",
            "metrics.json.part-",
            "weights-epoch-",
            "optimizer-epoch-",
        ];
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(rest) = name.strip_prefix('.') {
                if rest.contains(".part-") && OURS.iter().any(|p| rest.starts_with(p)) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
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
        E: Element + SafeDtype,
        D: Backend<E>,
    {
        let state = self.read_state()?;
        let optimizer = KerasAdam::load(&self.dir.join(&state.optimizer_file), device)?;
        optimizer.check_fits(model)?;
        load_weights(model, &self.dir.join(&state.weights_file))?;
        Ok((optimizer, state))
    }
}

/// Loads weights saved by dfdx's `SaveToSafetensors` into `model`, after checking that every
/// tensor of the model is in the file with its element type and size (dfdx's loader would
/// panic on a file of the other float type). `model` is untouched on error.
pub fn load_weights<M, E, D>(model: &mut M, path: &Path) -> Result<(), TrainError>
where
    M: TensorCollection<E, D>,
    E: Element + SafeDtype,
    D: Backend<E>,
{
    let file = TensorFile::load(path)?;
    let mut check = WeightCheck {
        file: &file,
        dtype: Dtype::of_size(std::mem::size_of::<E>()).unwrap_or(Dtype::F64),
    };
    M::iter_tensors(&mut RecursiveWalker {
        m: (&*model, String::new()),
        f: &mut check,
    })
    .map_err(|reason| TrainError::bad(path, reason))?;
    model.load_safetensors(path).map_err(|e| {
        let reason = match e {
            dfdx::tensor::safetensors::Error::IoError(e) => return TrainError::io(path, e),
            other => format!("cannot load the weights: {other:?}"),
        };
        TrainError::bad(path, reason)
    })
}

/// Checks that a safetensors file holds each tensor of a model, of the right type and size.
struct WeightCheck<'a> {
    file: &'a TensorFile,
    dtype: Dtype,
}

impl<E: Element, D: Backend<E>> TensorVisitor<E, D> for WeightCheck<'_> {
    type Viewer = (ViewTensorRef, ViewTensorName);
    type Err = String;
    type E2 = E;
    type D2 = D;

    fn visit<S: Shape>(
        &mut self,
        _: TensorOptions<S, E, D>,
        (t, name): (&Tensor<S, E, D>, String),
    ) -> Result<Option<Tensor<S, E, D>>, String> {
        let entry =
            self.file.tensors.get(&name).ok_or_else(|| {
                format!("tensor {name:?} is missing (weights of another network?)")
            })?;
        if entry.dtype != self.dtype {
            return Err(format!(
                "tensor {name:?} is {:?}, the model is {:?}",
                entry.dtype, self.dtype
            ));
        }
        let len = t.shape().num_elements();
        if entry.len() != len {
            return Err(format!(
                "tensor {name:?} holds {} values, the model's {len} (weights of another network?)",
                entry.len()
            ));
        }
        Ok(None)
    }
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
