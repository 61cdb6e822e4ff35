//! Saving one epoch into a checkpoint folder: a fixed sequence of steps around one commit
//! point, so that a run killed between any two of them loses nothing.
//!
//! For epoch N the steps are, in order ([`CommitStep::ALL`]):
//!
//! 1. [`Weights`](CommitStep::Weights): `weights-epoch-N.safetensors`;
//! 2. [`Optimizer`](CommitStep::Optimizer): `optimizer-epoch-N.safetensors`;
//! 3. [`State`](CommitStep::State): `state.json`, naming the two files above — **the commit
//!    point**: before it the folder is epoch N−1's checkpoint (plus finished files of epoch N
//!    that nothing names), after it epoch N's;
//! 4. [`Model`](CommitStep::Model): `model.safetensors`, a copy of the weights for inference;
//! 5. [`MetricsCsv`](CommitStep::MetricsCsv) and 6. [`MetricsJson`](CommitStep::MetricsJson):
//!    the history of `state.json`;
//! 7. [`RemoveStale`](CommitStep::RemoveStale): epoch N−1's weights and optimizer files, and
//!    any temporary file of an interrupted write.
//!
//! Every file is written to a temporary name and renamed into place, so each is whole. Steps
//! 4–7 only derive from what `state.json` names: a kill among them leaves those files one
//! epoch behind, and [`Checkpoint::repair`] (which every resume runs) rewrites them from
//! `state.json` and deletes what nothing names. The trainer runs the steps back to back
//! ([`Commit::finish`]); driving them one at a time ([`Commit::step`]) is how the tests stop a
//! save between any two steps.

use std::fs;

use dfdx::prelude::*;

use super::adam::KerasAdam;
use super::checkpoint::{Checkpoint, TrainerState};
use super::error::TrainError;
use super::weights::save_weights;
use crate::atomic_file as atomic;
use crate::{Backend, Element};

/// One step of saving an epoch; see the module docs for what each writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitStep {
    /// The model's weights, under the epoch's own name.
    Weights,
    /// The optimizer's state, under the epoch's own name.
    Optimizer,
    /// The state file: the commit point.
    State,
    /// The copy of the weights under the fixed name `model.safetensors`.
    Model,
    /// `metrics.csv`.
    MetricsCsv,
    /// `metrics.json`.
    MetricsJson,
    /// Deleting the previous epoch's files and temporary files.
    RemoveStale,
}

impl CommitStep {
    /// Every step, in the order they run.
    pub const ALL: [CommitStep; 7] = [
        CommitStep::Weights,
        CommitStep::Optimizer,
        CommitStep::State,
        CommitStep::Model,
        CommitStep::MetricsCsv,
        CommitStep::MetricsJson,
        CommitStep::RemoveStale,
    ];
}

/// A save of one epoch in progress, made by [`Checkpoint::commit`]. Dropping it before the
/// end leaves the folder as a kill at that point would: the last committed epoch, readable.
pub struct Commit<'a, M, E: Element, D: Backend<E>> {
    checkpoint: &'a Checkpoint,
    model: &'a M,
    optimizer: &'a KerasAdam<E, D>,
    /// The caller's state, replaced by `next` at the commit point.
    state: &'a mut TrainerState,
    next: TrainerState,
    steps_done: usize,
}

impl<'a, M, E, D> Commit<'a, M, E, D>
where
    M: TensorCollection<E, D>,
    E: Element,
    D: Backend<E>,
{
    /// A save of `model` and `optimizer` as epoch `state.epochs_done`; nothing is written yet.
    pub(crate) fn new(
        checkpoint: &'a Checkpoint,
        model: &'a M,
        optimizer: &'a KerasAdam<E, D>,
        state: &'a mut TrainerState,
    ) -> Self {
        let epoch = state.epochs_done;
        let mut next = state.clone();
        next.weights_file = format!("weights-epoch-{epoch:04}.safetensors");
        next.optimizer_file = format!("optimizer-epoch-{epoch:04}.safetensors");
        Commit {
            checkpoint,
            model,
            optimizer,
            state,
            next,
            steps_done: 0,
        }
    }

    /// The step [`Commit::step`] runs next; `None` when all have run.
    pub fn next_step(&self) -> Option<CommitStep> {
        CommitStep::ALL.get(self.steps_done).copied()
    }

    /// Runs the next step; returns it, or `None` when all had run. After an error the folder
    /// is as a kill before the step would leave it.
    pub fn step(&mut self) -> Result<Option<CommitStep>, TrainError> {
        let Some(step) = self.next_step() else {
            return Ok(None);
        };
        let cp = self.checkpoint;
        let dir = cp.dir();
        match step {
            CommitStep::Weights => {
                save_weights(self.model, &dir.join(&self.next.weights_file))?;
            }
            CommitStep::Optimizer => {
                self.optimizer.save(&dir.join(&self.next.optimizer_file))?;
            }
            CommitStep::State => {
                cp.write_state(&self.next)?;
                *self.state = self.next.clone();
            }
            CommitStep::Model => cp.copy_weights_to_model(&self.next)?,
            CommitStep::MetricsCsv | CommitStep::MetricsJson => {
                let [csv, json] = self.next.history.files();
                let (name, content) = if step == CommitStep::MetricsCsv {
                    csv
                } else {
                    json
                };
                atomic::write_bytes(&dir.join(name), content.as_bytes())?;
            }
            CommitStep::RemoveStale => {
                cp.remove_stale(Some(&self.next));
            }
        }
        self.steps_done += 1;
        Ok(Some(step))
    }

    /// Runs the remaining steps.
    pub fn finish(mut self) -> Result<(), TrainError> {
        while self.step()?.is_some() {}
        Ok(())
    }
}

impl Checkpoint {
    /// Starts saving `model` and `optimizer` as epoch `state.epochs_done` (see the module
    /// docs); [`Commit::finish`] completes it. `state` becomes the saved state, with its file
    /// names filled in, at the commit point.
    pub fn commit<'a, M, E, D>(
        &'a self,
        model: &'a M,
        optimizer: &'a KerasAdam<E, D>,
        state: &'a mut TrainerState,
    ) -> Commit<'a, M, E, D>
    where
        M: TensorCollection<E, D>,
        E: Element,
        D: Backend<E>,
    {
        Commit::new(self, model, optimizer, state)
    }

    /// Saves `model`, `optimizer` and `state` as one epoch: [`Checkpoint::commit`], all steps.
    pub fn save<M, E, D>(
        &self,
        model: &M,
        optimizer: &KerasAdam<E, D>,
        state: &mut TrainerState,
    ) -> Result<(), TrainError>
    where
        M: TensorCollection<E, D>,
        E: Element,
        D: Backend<E>,
    {
        self.commit(model, optimizer, state).finish()
    }

    /// Replaces `model.safetensors` with a copy of the weights `state` names.
    pub(crate) fn copy_weights_to_model(&self, state: &TrainerState) -> Result<(), TrainError> {
        let (weights, model) = (self.dir().join(&state.weights_file), self.model_path());
        atomic::write_with(&model, |tmp| {
            fs::copy(&weights, tmp)
                .map(drop)
                .map_err(|e| TrainError::io(&model, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use dfdx::nn::modules::Linear;

    use super::*;
    use crate::train::checkpoint::{RunSettings, MODEL_FILE, STATE_FILE};
    use crate::train::fixture::scratch;
    use crate::train::lock::{RunLock, LOCK_FILE};
    use crate::train::metrics::{EpochRecord, METRICS_CSV, METRICS_JSON};
    use crate::train::KerasAdamConfig;

    type Model = Linear<4, 3, f32, Cpu>;

    fn record(epoch: usize) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0 / epoch as f64,
            train_accuracy: 0.5,
            test_loss: 2.0 / epoch as f64,
            test_accuracy: 0.25,
            lr: 1e-3,
            seconds: 0.5,
            images_per_second: 100.0,
        }
    }

    fn names(dir: &std::path::Path) -> BTreeSet<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_save_stopped_after_any_step_leaves_one_epoch_that_repair_makes_whole() {
        let dev = Cpu::seed_from_u64(0);
        let adam = KerasAdam::<f32, Cpu>::new(KerasAdamConfig::default()).unwrap();
        let settings = RunSettings {
            batch_size: 4,
            shuffle: None,
            seed: 0,
            initial_lr: 1e-3,
            train_examples: 12,
        };
        let state_index = CommitStep::ALL
            .iter()
            .position(|s| *s == CommitStep::State)
            .unwrap();
        for stop in 0..=CommitStep::ALL.len() {
            let dir = scratch(&format!("commit-stop-{stop}"));
            let cp = Checkpoint::new(&dir);
            let lock = RunLock::acquire(&dir).unwrap();
            fs::write(dir.join("notes.txt"), b"the user's").unwrap();

            let first: Model = BuildModule::build(&dev);
            let mut state = TrainerState::new("Pixels", 15, "f32", settings.clone());
            state.epochs_done = 1;
            state.history.epochs.push(record(1));
            cp.save(&first, &adam, &mut state).unwrap();

            let second: Model = BuildModule::build(&dev);
            let mut next = state.clone();
            next.epochs_done = 2;
            next.history.epochs.push(record(2));
            let mut commit = cp.commit(&second, &adam, &mut next);
            for _ in 0..stop {
                commit.step().unwrap();
            }
            drop(commit);
            // A write killed half-way leaves its temporary file.
            fs::write(dir.join(".metrics.csv.part-1-0"), b"half").unwrap();

            // What a kill here leaves: the state names complete files of one epoch.
            let saved = cp.read_state().unwrap();
            let (epoch, model) = if stop > state_index {
                (2, &second)
            } else {
                (1, &first)
            };
            assert_eq!(saved.epochs_done, epoch, "stopped after {stop} steps");
            // The caller's state changes at the commit point, not before.
            assert_eq!(next.weights_file.contains("0002"), stop > state_index);
            let mut loaded: Model = BuildModule::build(&dev);
            cp.restore(&mut loaded, &dev).unwrap();
            assert_eq!(loaded.weight.as_vec(), model.weight.as_vec(), "stop {stop}");

            // Repair: every file agrees with the state, nothing else of ours is left.
            let repair = cp.repair_locked(&lock).unwrap();
            let mut expected: BTreeSet<String> = [
                STATE_FILE,
                MODEL_FILE,
                METRICS_CSV,
                METRICS_JSON,
                LOCK_FILE,
                "notes.txt",
            ]
            .map(String::from)
            .into();
            expected.insert(saved.weights_file.clone());
            expected.insert(saved.optimizer_file.clone());
            assert_eq!(names(&dir), expected, "stop {stop}: {repair}");
            let weights = fs::read(dir.join(&saved.weights_file)).unwrap();
            assert_eq!(fs::read(cp.model_path()).unwrap(), weights, "stop {stop}");
            for (name, content) in saved.history.files() {
                assert_eq!(fs::read_to_string(dir.join(name)).unwrap(), content);
            }
            assert_eq!(fs::read(dir.join("notes.txt")).unwrap(), b"the user's");
            // Stopped after the commit point, before the model and both metrics files.
            let lagging = stop > state_index && stop <= state_index + 3;
            assert_eq!(
                !repair.refreshed.is_empty(),
                lagging,
                "stop {stop}: {repair}"
            );
            assert!(
                repair
                    .removed
                    .contains(&".metrics.csv.part-1-0".to_string()),
                "{repair}"
            );
            assert!(cp.repair_locked(&lock).unwrap().is_empty(), "stop {stop}");
            drop(lock);
            let _ = fs::remove_dir_all(dir);
        }
    }
}
