//! The training loop: the paper's recipe (Adam, batches of 64, the test split as validation,
//! `ReduceLROnPlateau` and `EarlyStopping` on its loss, a checkpoint every epoch) for any
//! network, element type and device.

use std::marker::PhantomData;
use std::time::Instant;

use dfdx::prelude::*;

use super::adam::{KerasAdam, KerasAdamConfig};
use super::batch::{check_fits, count_correct, cross_entropy, load_batch, scalar};
use super::checkpoint::{Checkpoint, RunSettings, TrainerState};
use super::commit::Commit;
use super::config::TrainConfig;
use super::error::TrainError;
use super::lock::RunLock;
use super::metrics::{evaluate, EpochRecord, History};
use super::model_tensors::{device_of, new_gradients, zero_gradients};
use super::progress::Progress;
use super::schedule::{EarlyStopping, ReduceLrOnPlateau};
use crate::data::{Batches, Dataset};
use crate::{Backend, Element, Network, NetworkModel};

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
    /// What changed the course of the run, one line each (printed too when
    /// [`TrainConfig::notes`] is on): a resumed or repaired checkpoint, learning-rate changes,
    /// an early stop, nothing left to train.
    pub notes: Vec<String>,
}

/// Trains networks with one [`TrainConfig`].
///
/// Stopping a run at any moment (Ctrl-C included) loses at most the epoch under way: every
/// file is replaced atomically, the state file is the commit point of each save, and a resume
/// repairs what a stop in the middle of a save left behind (see [`Commit`]); rerun with
/// `resume` to continue from the last saved epoch, with the same result as an uninterrupted
/// run. While a run trains, its output folder is locked against other runs.
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
    /// Before training: the datasets are checked against the network, the output folder is
    /// created if needed and locked (an error at once when it is a file, cannot be written,
    /// or another run uses it), and a resumed checkpoint is repaired and loaded. Each step
    /// copies a batch (pixels / 255, labels one-hot), runs the model in training mode, takes
    /// the mean cross-entropy plus the layers' L2 penalty as the loss, and applies one
    /// [`KerasAdam`] step. After each epoch: evaluation in inference mode, the callbacks,
    /// then the checkpoint and metrics files when there is an output folder.
    ///
    /// Errors (never panics) on settings or datasets that do not fit, on an output folder or
    /// checkpoint that cannot be used, and with [`TrainError::NonFiniteLoss`] when the loss
    /// becomes NaN or infinite, before that step's update and without writing anything.
    pub fn fit<N, E, D>(
        &self,
        model: &mut N::Model<E, D>,
        train: &Dataset,
        test: &Dataset,
    ) -> Result<TrainReport, TrainError>
    where
        N: Network,
        E: Element,
        D: Backend<E>,
    {
        let mut run = Run::<N, E, D>::start_or_resume(&self.config, model, train, test)?;
        while run.has_epochs_left() {
            let record = run.train_epoch(model, train, test)?;
            run.end_epoch(model, record)?;
        }
        run.report(model, test)
    }
}

/// One call of [`Trainer::fit`] under way: where it saves, and what it has done so far.
struct Run<'c, N: Network, E: Element, D: Backend<E>> {
    config: &'c TrainConfig,
    device: D,
    checkpoint: Option<Checkpoint>,
    /// Held until the run ends: keeps other runs out of the output folder.
    _lock: Option<RunLock>,
    adam: KerasAdam<E, D>,
    state: TrainerState,
    resumed_from: Option<usize>,
    progress: Progress,
    batches: Batches,
    started: Instant,
    images_run: usize,
    train_seconds_run: f64,
    epochs_run: usize,
    network: PhantomData<N>,
}

impl<'c, N, E, D> Run<'c, N, E, D>
where
    N: Network,
    E: Element,
    D: Backend<E>,
{
    /// Checks the data and the output folder, locks the folder, and either loads (and
    /// repairs) the checkpoint to resume or sets up a fresh optimizer and state.
    fn start_or_resume(
        config: &'c TrainConfig,
        model: &mut N::Model<E, D>,
        train: &Dataset,
        test: &Dataset,
    ) -> Result<Self, TrainError> {
        let started = Instant::now();
        check_fits::<N>(train)?;
        check_fits::<N>(test)?;
        let device = device_of(model)?;
        let mut progress = Progress::new(config.progress, config.notes);
        let checkpoint = config.out_dir.as_ref().map(Checkpoint::new);
        if let Some(cp) = checkpoint
            .as_ref()
            .filter(|cp| config.resume && !cp.exists())
        {
            // Before the lock, which would create the folder.
            return Err(TrainError::NoCheckpoint {
                dir: cp.dir().to_path_buf(),
            });
        }
        let lock = match &checkpoint {
            Some(cp) => Some(RunLock::acquire(cp.dir())?),
            None => None,
        };
        let settings = RunSettings {
            batch_size: config.batch_size,
            shuffle: config.shuffle,
            seed: config.seed,
            initial_lr: config.lr,
            train_examples: train.len(),
        };
        let (adam, state, resumed_from) = match (&checkpoint, &lock) {
            (Some(cp), Some(lock)) if config.resume => {
                let (adam, state) =
                    resume::<N, E, D>(cp, lock, config, &settings, model, &device, &mut progress)?;
                let done = state.epochs_done;
                (adam, state, Some(done))
            }
            (Some(cp), _) if cp.exists() => {
                return Err(TrainError::CheckpointExists {
                    dir: cp.dir().to_path_buf(),
                    epoch: cp.read_state().map_or(0, |s| s.epochs_done),
                })
            }
            _ => {
                if let Some(cp) = &checkpoint {
                    // Files of a run stopped during its first save: nothing names them.
                    cp.remove_stale(None);
                }
                let (adam, state) = fresh::<N, E, D>(config, settings)?;
                (adam, state, None)
            }
        };
        let mut run = Run {
            config,
            device,
            checkpoint,
            _lock: lock,
            adam,
            state,
            resumed_from,
            progress,
            batches: Batches::new(train.len(), config.batch_size)?.shuffle(config.shuffle),
            started,
            images_run: 0,
            train_seconds_run: 0.0,
            epochs_run: 0,
            network: PhantomData,
        };
        run.note_if_nothing_to_train();
        Ok(run)
    }

    /// Says why a run will not train at all: it would otherwise end without a word.
    fn note_if_nothing_to_train(&mut self) {
        let (done, asked) = (self.state.epochs_done, self.config.epochs);
        let place = self
            .checkpoint
            .as_ref()
            .map(|cp| format!(" in {}", cp.dir().display()))
            .unwrap_or_default();
        if self.state.stopped_early {
            self.progress.note(format!(
                "the run{place} stopped early at epoch {done} (its test loss had stopped improving): nothing to train"
            ));
        } else if done > 0 && done >= asked {
            self.progress.note(format!(
                "the checkpoint{place} already holds {done} epochs ({asked} asked for): nothing to train"
            ));
        } else if asked == 0 {
            let written = if self.checkpoint.is_some() {
                ", no checkpoint written"
            } else {
                ""
            };
            self.progress
                .note(format!("0 epochs asked for: nothing to train{written}"));
        }
    }

    /// Whether another epoch is due.
    fn has_epochs_left(&self) -> bool {
        self.state.epochs_done < self.config.epochs && !self.state.stopped_early
    }

    /// Trains one epoch and evaluates the result; returns its record.
    fn train_epoch(
        &mut self,
        model: &mut N::Model<E, D>,
        train: &Dataset,
        test: &Dataset,
    ) -> Result<EpochRecord, TrainError> {
        let epoch = self.state.epochs_done + 1;
        let lr = self.state.lr;
        self.adam.set_lr(lr)?;
        let steps = self.batches.num_batches();
        self.progress.start_epoch(epoch, self.config.epochs, steps);
        let started = Instant::now();
        let mut grads = new_gradients(model)?;
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (i, indices) in self.batches.epoch((epoch - 1) as u64).enumerate() {
            let batch = load_batch::<N, E, D>(&self.device, train, &indices)?;
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
                return Err(self.non_finite("training", epoch, Some((i + 1, steps)), value));
            }
            grads = loss.try_backward().map_err(TrainError::device)?;
            self.adam.update(model, &mut grads)?;
            zero_gradients(model, &mut grads)?;
            loss_sum += value * indices.len() as f64;
            seen += indices.len();
            self.progress.step(
                i + 1,
                loss_sum / seen as f64,
                correct as f64 / seen as f64,
                seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            );
        }
        let train_seconds = started.elapsed().as_secs_f64();
        self.progress.evaluating();
        let eval = evaluate::<N, E, D>(model, test, self.config.batch_size)?;
        if !eval.loss.is_finite() {
            return Err(self.non_finite("test", epoch, None, eval.loss));
        }
        self.images_run += seen;
        self.train_seconds_run += train_seconds;
        Ok(EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            test_loss: eval.loss,
            test_accuracy: eval.accuracy,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            images_per_second: seen as f64 / train_seconds.max(1e-9),
        })
    }

    /// Records the epoch, runs the callbacks and saves the checkpoint.
    fn end_epoch(&mut self, model: &N::Model<E, D>, record: EpochRecord) -> Result<(), TrainError> {
        self.close_epoch(record);
        match self.commit(model) {
            Some(commit) => commit.finish(),
            None => Ok(()),
        }
    }

    /// Adds the epoch's record to the state and lets the callbacks see its test loss.
    fn close_epoch(&mut self, record: EpochRecord) {
        self.progress.end_epoch(&record);
        self.epochs_run += 1;
        let (epoch, lr, loss) = (record.epoch, record.lr, record.test_loss);
        let state = &mut self.state;
        state.history.epochs.push(record);
        state.epochs_done = epoch;
        if let Some(plateau) = &mut state.plateau {
            state.lr = plateau.step(loss, lr);
            if state.lr != lr {
                self.progress.note(format!(
                    "epoch {epoch}: test loss has not improved for {} epochs, learning rate reduced to {}",
                    plateau.patience, state.lr
                ));
            }
        }
        if let Some(early) = &mut state.early_stopping {
            if early.step(loss) {
                state.stopped_early = true;
                self.progress.note(format!(
                    "epoch {epoch}: test loss has not improved for {} epochs, stopping early ({} of {} epochs trained)",
                    early.patience, epoch, self.config.epochs
                ));
            }
        }
    }

    /// The save of the epoch just closed, when there is an output folder.
    fn commit<'r>(
        &'r mut self,
        model: &'r N::Model<E, D>,
    ) -> Option<Commit<'r, N::Model<E, D>, E, D>> {
        let checkpoint = self.checkpoint.as_ref()?;
        Some(checkpoint.commit(model, &self.adam, &mut self.state))
    }

    /// The error for a NaN or infinite loss, naming the checkpoint left on disk.
    fn non_finite(
        &self,
        phase: &'static str,
        epoch: usize,
        step: Option<(usize, usize)>,
        value: f64,
    ) -> TrainError {
        TrainError::NonFiniteLoss {
            phase,
            epoch,
            step,
            value,
            checkpoint: self
                .checkpoint
                .as_ref()
                .filter(|_| self.state.epochs_done > 0)
                .map(|cp| (cp.dir().to_path_buf(), self.state.epochs_done)),
        }
    }

    /// What the run produced (evaluating the model when no epoch was ever trained).
    fn report(mut self, model: &N::Model<E, D>, test: &Dataset) -> Result<TrainReport, TrainError> {
        let (test_loss, test_accuracy) = match self.state.history.last() {
            Some(last) => (last.test_loss, last.test_accuracy),
            None => {
                let eval = evaluate::<N, E, D>(model, test, self.config.batch_size)?;
                (eval.loss, eval.accuracy)
            }
        };
        let images_per_second = if self.train_seconds_run > 0.0 {
            self.images_run as f64 / self.train_seconds_run
        } else {
            self.state
                .history
                .last()
                .map_or(0.0, |r| r.images_per_second)
        };
        Ok(TrainReport {
            test_loss,
            test_accuracy,
            epochs_done: self.state.epochs_done,
            epochs_run: self.epochs_run,
            resumed_from: self.resumed_from,
            stopped_early: self.state.stopped_early,
            wall_seconds: self.started.elapsed().as_secs_f64(),
            images_per_second,
            notes: self.progress.take_notes(),
            history: self.state.history,
        })
    }
}

/// A fresh optimizer and state for network `N`.
fn fresh<N: Network, E: Element, D: Backend<E>>(
    config: &TrainConfig,
    settings: RunSettings,
) -> Result<(KerasAdam<E, D>, TrainerState), TrainError> {
    let adam = KerasAdam::new(KerasAdamConfig {
        lr: config.lr,
        ..KerasAdamConfig::default()
    })?;
    let mut state = TrainerState::new(N::NAME, N::PARAMS, std::any::type_name::<E>(), settings);
    state.plateau = config
        .plateau_patience
        .map(|p| ReduceLrOnPlateau::new(p).with_factor(config.plateau_factor));
    state.early_stopping = config.early_stop_patience.map(EarlyStopping::new);
    Ok((adam, state))
}

/// Checks and loads the checkpoint in `cp` into `model`, repairs its folder, and applies
/// `resume_lr`.
fn resume<N, E, D>(
    cp: &Checkpoint,
    lock: &RunLock,
    config: &TrainConfig,
    settings: &RunSettings,
    model: &mut N::Model<E, D>,
    device: &D,
    progress: &mut Progress,
) -> Result<(KerasAdam<E, D>, TrainerState), TrainError>
where
    N: Network,
    E: Element,
    D: Backend<E>,
{
    check_resumable::<N, E>(&cp.read_state()?, settings)?;
    // Loading first checks the files the state names, which the repair copies.
    let (adam, mut state) = cp.restore(model, device)?;
    let repair = cp.repair_locked(lock)?;
    if !repair.is_empty() {
        progress.note(format!(
            "{}: an earlier run stopped while saving; {repair}",
            cp.dir().display()
        ));
    }
    progress.note(format!(
        "resuming {} after epoch {} from {}",
        N::NAME,
        state.epochs_done,
        cp.dir().display()
    ));
    if let Some(lr) = config.resume_lr {
        if lr != state.lr {
            progress.note(format!(
                "learning rate set to {lr} from epoch {} on (the checkpoint's was {})",
                state.epochs_done + 1,
                state.lr
            ));
            state.lr = lr;
        }
    }
    Ok((adam, state))
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
    E: Element,
    D: Backend<E>,
{
    Trainer::new(config.clone())?.fit::<N, E, D>(model, train, test)
}

/// Errors unless a saved state was made by the same network, element type and settings.
fn check_resumable<N: Network, E: Element>(
    saved: &TrainerState,
    now: &RunSettings,
) -> Result<(), TrainError> {
    fn same<T: PartialEq + std::fmt::Display>(
        what: &'static str,
        saved: T,
        now: T,
    ) -> Result<(), TrainError> {
        if saved == now {
            Ok(())
        } else {
            Err(TrainError::ResumeMismatch {
                what,
                saved: saved.to_string(),
                requested: now.to_string(),
            })
        }
    }
    let shuffle =
        |s: Option<u64>| s.map_or("no shuffle".to_string(), |seed| format!("seed {seed}"));
    same("network", saved.network.as_str(), N::NAME)?;
    same("parameter count", saved.params, N::PARAMS)?;
    same(
        "element type",
        saved.element.as_str(),
        std::any::type_name::<E>(),
    )?;
    let s = &saved.settings;
    same("batch size", s.batch_size, now.batch_size)?;
    same("seed", s.seed, now.seed)?;
    same("shuffle", shuffle(s.shuffle), shuffle(now.shuffle))?;
    same("training set size", s.train_examples, now.train_examples)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::train::commit::CommitStep;
    use crate::train::fixture::{dataset, scratch, Pixels};

    type Model = <Pixels as Network>::Model<f32, Cpu>;

    fn config(epochs: usize, out: &Path) -> TrainConfig {
        TrainConfig {
            epochs,
            batch_size: 8,
            lr: 0.05,
            shuffle: Some(5),
            seed: 2,
            plateau_patience: Some(1),
            out_dir: Some(out.to_path_buf()),
            progress: false,
            notes: false,
            ..TrainConfig::default()
        }
    }

    fn model(config: &TrainConfig) -> Model {
        BuildModule::build(&Cpu::seed_from_u64(config.seed))
    }

    fn fit(config: &TrainConfig) -> Result<TrainReport, TrainError> {
        let mut model = model(config);
        Trainer::new(config.clone())?.fit::<Pixels, f32, Cpu>(
            &mut model,
            &dataset(48, 1),
            &dataset(12, 2),
        )
    }

    fn resumed(epochs: usize, out: &Path) -> TrainConfig {
        TrainConfig {
            resume: true,
            ..config(epochs, out)
        }
    }

    #[test]
    fn a_run_stopped_between_any_two_steps_of_a_save_resumes_to_the_uninterrupted_result() {
        let whole_dir = scratch("fit-whole");
        let whole = fit(&config(3, &whole_dir)).unwrap();
        let whole_state = Checkpoint::new(&whole_dir).read_state().unwrap();
        for stop in 0..=CommitStep::ALL.len() {
            let dir = scratch(&format!("fit-stop-{stop}"));
            fit(&config(1, &dir)).unwrap();
            // Epoch 2, stopped after `stop` steps of its save (as a kill would stop it).
            {
                let config = resumed(2, &dir);
                let mut model = model(&config);
                let (train, test) = (dataset(48, 1), dataset(12, 2));
                let mut run =
                    Run::<Pixels, f32, Cpu>::start_or_resume(&config, &mut model, &train, &test)
                        .unwrap();
                let record = run.train_epoch(&mut model, &train, &test).unwrap();
                run.close_epoch(record);
                let mut commit = run.commit(&model).unwrap();
                for _ in 0..stop {
                    commit.step().unwrap();
                }
            }
            let report = fit(&resumed(3, &dir)).unwrap();
            assert!(report.history.same_curve(&whole.history), "stop {stop}");
            let state = Checkpoint::new(&dir).read_state().unwrap();
            for name in [&state.weights_file, &state.optimizer_file] {
                assert_eq!(
                    fs::read(dir.join(name)).unwrap(),
                    fs::read(whole_dir.join(name)).unwrap(),
                    "stop {stop}: {name}"
                );
            }
            assert_eq!(state.weights_file, whole_state.weights_file);
            let repaired = report
                .notes
                .iter()
                .any(|n| n.contains("stopped while saving"));
            assert_eq!(
                repaired,
                stop > 0 && stop < CommitStep::ALL.len(),
                "stop {stop}: {:?}",
                report.notes
            );
            let _ = fs::remove_dir_all(dir);
        }
        let _ = fs::remove_dir_all(whole_dir);
    }

    #[test]
    fn a_locked_or_unusable_output_folder_fails_before_training() {
        let dir = scratch("fit-locked");
        let lock = RunLock::acquire(&dir).unwrap();
        let err = fit(&config(1, &dir)).unwrap_err();
        assert!(matches!(err, TrainError::OutputInUse { .. }), "{err}");
        assert!(!Checkpoint::new(&dir).exists());
        drop(lock);

        let file = dir.join("a-file");
        fs::write(&file, b"x").unwrap();
        let err = fit(&config(1, &file)).unwrap_err();
        assert!(matches!(err, TrainError::OutputNotAFolder { .. }), "{err}");
        assert_eq!(fs::read(&file).unwrap(), b"x");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn resuming_says_what_it_does_with_the_learning_rate_and_a_finished_run() {
        let dir = scratch("fit-notes");
        fit(&config(1, &dir)).unwrap();
        let report = fit(&TrainConfig {
            resume_lr: Some(0.5),
            ..resumed(2, &dir)
        })
        .unwrap();
        assert_eq!(report.history.epochs[1].lr, 0.5);
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("learning rate set to 0.5")),
            "{:?}",
            report.notes
        );

        let report = fit(&resumed(2, &dir)).unwrap();
        assert_eq!((report.epochs_run, report.resumed_from), (0, Some(2)));
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("already holds 2 epochs")),
            "{:?}",
            report.notes
        );
        assert!(TrainConfig {
            resume_lr: Some(0.5),
            ..config(2, &dir)
        }
        .validate()
        .is_err());

        let empty = scratch("fit-zero");
        let report = fit(&config(0, &empty)).unwrap();
        assert!(!Checkpoint::new(&empty).exists());
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("no checkpoint written")),
            "{:?}",
            report.notes
        );
        for d in [dir, empty] {
            let _ = fs::remove_dir_all(d);
        }
    }
}
