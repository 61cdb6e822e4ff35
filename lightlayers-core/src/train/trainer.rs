//! The training loop: the paper's recipe (Adam, batches of 64, the test split as validation,
//! `ReduceLROnPlateau` and `EarlyStopping` on its loss, a checkpoint every epoch) for any
//! network, element type and device.

use std::path::PathBuf;
use std::time::Instant;

use dfdx::prelude::*;
use dfdx::tensor::safetensors::SafeDtype;

use super::adam::{KerasAdam, KerasAdamConfig};
use super::batch::{check_fits, count_correct, cross_entropy, load_batch, model_device, scalar};
use super::checkpoint::{Checkpoint, RunSettings, TrainerState};
use super::error::TrainError;
use super::metrics::{evaluate, EpochRecord, History};
use super::progress::Progress;
use super::schedule::{EarlyStopping, ReduceLrOnPlateau};
use crate::data::{Batches, Dataset};
use crate::{Backend, Element, Network, NetworkModel};

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
    /// Folder for the checkpoint and the metrics files (see [`Checkpoint`]); `None` writes
    /// nothing. Default `None`.
    pub out_dir: Option<PathBuf>,
    /// Continue the checkpoint in `out_dir` instead of starting afresh. The learning rate,
    /// callbacks and history come from the checkpoint; `epochs` may be raised to train longer.
    /// Default `false`.
    pub resume: bool,
    /// Show progress on stderr (a bar on a terminal, lines otherwise). Default `true`.
    pub progress: bool,
}

impl Default for TrainConfig {
    /// The paper's MNIST settings: 10 epochs, batches of 64, lr 1e-3, plateau patience 4,
    /// early-stopping patience 10; shuffled with seed 0; no output folder; progress shown.
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
            progress: true,
        }
    }
}

impl TrainConfig {
    /// Checks that the settings can work: a batch size ≥ 1, a valid learning rate and plateau
    /// factor, an output folder when resuming.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.batch_size == 0 {
            return Err(TrainError::InvalidConfig {
                name: "batch size",
                reason: "must be at least 1".to_string(),
            });
        }
        KerasAdamConfig {
            lr: self.lr,
            ..KerasAdamConfig::default()
        }
        .validate()?;
        ReduceLrOnPlateau::new(0)
            .with_factor(self.plateau_factor)
            .validate()?;
        if self.resume && self.out_dir.is_none() {
            return Err(TrainError::InvalidConfig {
                name: "resume",
                reason: "needs the output folder that holds the checkpoint".to_string(),
            });
        }
        Ok(())
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Every epoch's record, including those of a resumed checkpoint.
    pub history: History,
    /// Test loss of the final weights (the last epoch's evaluation, as the paper reports).
    pub test_loss: f64,
    /// Test accuracy of the final weights.
    pub test_accuracy: f64,
    /// Epochs finished in total.
    pub epochs_done: usize,
    /// Epochs trained by this call.
    pub epochs_run: usize,
    /// The epoch the run continued from, when it resumed a checkpoint.
    pub resumed_from: Option<usize>,
    /// Whether early stopping ended training.
    pub stopped_early: bool,
    /// Wall-clock seconds of this call.
    pub wall_seconds: f64,
    /// Training images per second of training steps in this call (of the last recorded epoch
    /// when this call trained none).
    pub images_per_second: f64,
}

/// Trains networks with one [`TrainConfig`].
///
/// Stopping a run at any moment (Ctrl-C included) corrupts nothing: every file is replaced
/// atomically and the state file is written last (see [`Checkpoint`]); rerun with `resume`
/// to continue from the last finished epoch, with the same result as an uninterrupted run.
#[derive(Clone, Debug)]
pub struct Trainer {
    config: TrainConfig,
}

impl Trainer {
    /// A trainer with checked settings.
    pub fn new(config: TrainConfig) -> Result<Self, TrainError> {
        config.validate()?;
        Ok(Trainer { config })
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains `model` (of network `N`, on the device it was built on) on `train`, evaluating
    /// on `test` after every epoch.
    ///
    /// Each step copies a batch (pixels / 255, labels one-hot), runs the model in training
    /// mode, takes the mean cross-entropy plus the layers' L2 penalty as the loss, and applies
    /// one [`KerasAdam`] step. After each epoch: evaluation in inference mode, the callbacks,
    /// then the checkpoint and metrics files when there is an output folder.
    ///
    /// Errors (never panics) on settings or datasets that do not fit, on a checkpoint that
    /// cannot be written or resumed, and with [`TrainError::NonFiniteLoss`] when the loss
    /// becomes NaN or infinite, before that step's update and without writing anything.
    pub fn fit<N, E, D>(
        &self,
        model: &mut N::Model<E, D>,
        train: &Dataset,
        test: &Dataset,
    ) -> Result<TrainReport, TrainError>
    where
        N: Network,
        E: Element + SafeDtype,
        D: Backend<E>,
    {
        let cfg = &self.config;
        check_fits::<N>(train)?;
        check_fits::<N>(test)?;
        let device = model_device(model)?;
        let run_start = Instant::now();
        let mut progress = Progress::new(cfg.progress);
        let checkpoint = cfg.out_dir.as_ref().map(Checkpoint::new);
        let settings = RunSettings {
            batch_size: cfg.batch_size,
            shuffle: cfg.shuffle,
            seed: cfg.seed,
            initial_lr: cfg.lr,
            train_examples: train.len(),
        };
        let (mut adam, mut state, resumed_from) = match &checkpoint {
            Some(cp) if cfg.resume => {
                check_resumable::<N, E>(&cp.read_state()?, &settings)?;
                let (adam, state) = cp.restore(model, &device)?;
                progress.note(&format!(
                    "resuming {} after epoch {} from {}",
                    N::NAME,
                    state.epochs_done,
                    cp.dir().display()
                ));
                let done = state.epochs_done;
                (adam, state, Some(done))
            }
            Some(cp) if cp.exists() => {
                return Err(TrainError::CheckpointExists {
                    dir: cp.dir().to_path_buf(),
                    epoch: cp.read_state().map_or(0, |s| s.epochs_done),
                })
            }
            _ => {
                let adam = KerasAdam::new(KerasAdamConfig {
                    lr: cfg.lr,
                    ..KerasAdamConfig::default()
                })?;
                let mut state =
                    TrainerState::new(N::NAME, N::PARAMS, std::any::type_name::<E>(), settings);
                state.plateau = cfg
                    .plateau_patience
                    .map(|p| ReduceLrOnPlateau::new(p).with_factor(cfg.plateau_factor));
                state.early_stopping = cfg.early_stop_patience.map(EarlyStopping::new);
                (adam, state, None)
            }
        };

        if let Some(cp) = &checkpoint {
            cp.remove_partial_files();
        }
        let batches = Batches::new(train.len(), cfg.batch_size)?.shuffle(cfg.shuffle);
        let mut grads = model.try_alloc_grads().map_err(TrainError::device)?;
        let (mut images_run, mut train_seconds_run, mut epochs_run) = (0usize, 0.0f64, 0usize);
        while state.epochs_done < cfg.epochs && !state.stopped_early {
            let epoch = state.epochs_done + 1;
            let lr = state.lr;
            adam.set_lr(lr)?;
            progress.start_epoch(epoch, cfg.epochs, batches.num_batches());
            let started = Instant::now();
            let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
            for (i, indices) in batches.epoch((epoch - 1) as u64).enumerate() {
                let batch = load_batch::<N, E, D>(&device, train, &indices)?;
                let logits = model
                    .try_logits_train(batch.images.traced(grads))
                    .map_err(TrainError::device)?;
                correct += count_correct(&logits.as_vec(), &batch.labels);
                let mut loss = cross_entropy(logits, batch.one_hot).map_err(TrainError::device)?;
                if let Some(penalty) = model.try_penalty().map_err(TrainError::device)? {
                    loss = loss.try_add(penalty).map_err(TrainError::device)?;
                }
                let value = scalar(&loss);
                if !value.is_finite() {
                    return Err(non_finite(
                        "training",
                        epoch,
                        Some((i + 1, batches.num_batches())),
                        value,
                        checkpoint.as_ref(),
                        &state,
                    ));
                }
                grads = loss.try_backward().map_err(TrainError::device)?;
                adam.update(model, &mut grads)?;
                model
                    .try_zero_grads(&mut grads)
                    .map_err(TrainError::device)?;
                loss_sum += value * indices.len() as f64;
                seen += indices.len();
                progress.step(
                    i + 1,
                    loss_sum / seen as f64,
                    correct as f64 / seen as f64,
                    seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
                );
            }
            let train_seconds = started.elapsed().as_secs_f64();
            progress.evaluating();
            let eval = evaluate::<N, E, D>(model, test, cfg.batch_size)?;
            if !eval.loss.is_finite() {
                return Err(non_finite(
                    "test",
                    epoch,
                    None,
                    eval.loss,
                    checkpoint.as_ref(),
                    &state,
                ));
            }
            let record = EpochRecord {
                epoch,
                train_loss: loss_sum / seen.max(1) as f64,
                train_accuracy: correct as f64 / seen.max(1) as f64,
                test_loss: eval.loss,
                test_accuracy: eval.accuracy,
                lr,
                seconds: started.elapsed().as_secs_f64(),
                images_per_second: seen as f64 / train_seconds.max(1e-9),
            };
            progress.end_epoch(&record);
            images_run += seen;
            train_seconds_run += train_seconds;
            epochs_run += 1;
            state.history.epochs.push(record);
            state.epochs_done = epoch;
            if let Some(plateau) = &mut state.plateau {
                state.lr = plateau.step(eval.loss, lr);
                if state.lr != lr {
                    progress.note(&format!(
                        "epoch {epoch}: test loss has not improved for {} epochs, learning rate reduced to {}",
                        plateau.patience, state.lr
                    ));
                }
            }
            if let Some(early) = &mut state.early_stopping {
                if early.step(eval.loss) {
                    state.stopped_early = true;
                    progress.note(&format!(
                        "epoch {epoch}: test loss has not improved for {} epochs, stopping early",
                        early.patience
                    ));
                }
            }
            if let Some(cp) = &checkpoint {
                cp.save(model, &adam, &mut state)?;
                state.history.write(cp.dir())?;
            }
        }

        let (test_loss, test_accuracy) = match state.history.last() {
            Some(last) => (last.test_loss, last.test_accuracy),
            None => {
                let eval = evaluate::<N, E, D>(model, test, cfg.batch_size)?;
                (eval.loss, eval.accuracy)
            }
        };
        let images_per_second = if train_seconds_run > 0.0 {
            images_run as f64 / train_seconds_run
        } else {
            state.history.last().map_or(0.0, |r| r.images_per_second)
        };
        Ok(TrainReport {
            test_loss,
            test_accuracy,
            epochs_done: state.epochs_done,
            epochs_run,
            resumed_from,
            stopped_early: state.stopped_early,
            wall_seconds: run_start.elapsed().as_secs_f64(),
            images_per_second,
            history: state.history,
        })
    }
}

/// Trains `model` with `config`: [`Trainer::new`] then [`Trainer::fit`].
pub fn fit<N, E, D>(
    config: &TrainConfig,
    model: &mut N::Model<E, D>,
    train: &Dataset,
    test: &Dataset,
) -> Result<TrainReport, TrainError>
where
    N: Network,
    E: Element + SafeDtype,
    D: Backend<E>,
{
    Trainer::new(config.clone())?.fit::<N, E, D>(model, train, test)
}

/// The error for a NaN or infinite loss, naming the checkpoint left on disk.
fn non_finite(
    phase: &'static str,
    epoch: usize,
    step: Option<(usize, usize)>,
    value: f64,
    checkpoint: Option<&Checkpoint>,
    state: &TrainerState,
) -> TrainError {
    TrainError::NonFiniteLoss {
        phase,
        epoch,
        step,
        value,
        checkpoint: checkpoint
            .filter(|_| state.epochs_done > 0)
            .map(|cp| (cp.dir().to_path_buf(), state.epochs_done)),
    }
}

/// Errors unless a saved state was made by the same network, element type and settings.
fn check_resumable<N: Network, E: Element>(
    saved: &TrainerState,
    now: &RunSettings,
) -> Result<(), TrainError> {
    fn same<T: PartialEq + std::fmt::Debug>(
        what: &'static str,
        saved: T,
        now: T,
    ) -> Result<(), TrainError> {
        if saved == now {
            Ok(())
        } else {
            Err(TrainError::ResumeMismatch {
                what,
                saved: format!("{saved:?}"),
                requested: format!("{now:?}"),
            })
        }
    }
    same("network", saved.network.as_str(), N::NAME)?;
    same("parameter count", saved.params, N::PARAMS)?;
    same(
        "element type",
        saved.element.as_str(),
        std::any::type_name::<E>(),
    )?;
    let s = &saved.settings;
    same("batch size", s.batch_size, now.batch_size)?;
    same("shuffle seed", s.shuffle, now.shuffle)?;
    same("seed", s.seed, now.seed)?;
    same("training set size", s.train_examples, now.train_examples)?;
    Ok(())
}
