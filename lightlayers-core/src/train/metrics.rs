//! What each epoch measured, written as CSV and JSON; and the evaluation of a model on a
//! dataset.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::batch::{check_fits, count_correct, cross_entropy, load_batch, scalar};
use super::error::TrainError;
use super::model_tensors::device_of;
use crate::atomic_file as atomic;
use crate::data::{Batches, Dataset};
use crate::{Backend, Element, Network, NetworkModel};

/// The name of the per-epoch CSV file in the output folder.
pub const METRICS_CSV: &str = "metrics.csv";
/// The name of the per-epoch JSON file in the output folder.
pub const METRICS_JSON: &str = "metrics.json";

/// One epoch's measurements.
///
/// Losses are what Keras reports: the mean cross-entropy plus the layers' L2 penalty. The
/// training loss and accuracy are averaged over the epoch's steps (weighted by batch size) in
/// training mode, as Keras's progress bar shows them; the test ones come from
/// [`evaluate`] after the epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Fraction of training examples classified correctly during the epoch.
    pub train_accuracy: f64,
    /// Loss on the test split after the epoch (inference mode).
    pub test_loss: f64,
    /// Accuracy on the test split after the epoch.
    pub test_accuracy: f64,
    /// The learning rate used during the epoch.
    pub lr: f64,
    /// Wall-clock seconds of the epoch: training and evaluation.
    pub seconds: f64,
    /// Training throughput: training images per second of training steps (evaluation not
    /// counted).
    pub images_per_second: f64,
}

impl EpochRecord {
    /// Whether two records agree bit for bit on everything but the timings (which differ from
    /// run to run): what "the same loss curve" means.
    pub fn same_curve(&self, other: &EpochRecord) -> bool {
        self.epoch == other.epoch
            && self.train_loss.to_bits() == other.train_loss.to_bits()
            && self.train_accuracy.to_bits() == other.train_accuracy.to_bits()
            && self.test_loss.to_bits() == other.test_loss.to_bits()
            && self.test_accuracy.to_bits() == other.test_accuracy.to_bits()
            && self.lr.to_bits() == other.lr.to_bits()
    }
}

/// The records of all epochs so far, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per finished epoch.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// Whether both histories have the same loss curve ([`EpochRecord::same_curve`] for every
    /// epoch).
    pub fn same_curve(&self, other: &History) -> bool {
        self.epochs.len() == other.epochs.len()
            && self
                .epochs
                .iter()
                .zip(&other.epochs)
                .all(|(a, b)| a.same_curve(b))
    }

    /// The history as CSV: a header line, then one line per epoch (numbers in their shortest
    /// exact form).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds,images_per_second\n",
        );
        for r in &self.epochs {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                r.epoch,
                r.train_loss,
                r.train_accuracy,
                r.test_loss,
                r.test_accuracy,
                r.lr,
                r.seconds,
                r.images_per_second
            );
        }
        out
    }

    /// The history as a pretty-printed JSON array of records.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.epochs).unwrap_or_else(|_| "[]".to_string())
    }

    /// The two metrics files, name and content: [`METRICS_CSV`] and [`METRICS_JSON`].
    pub(crate) fn files(&self) -> [(&'static str, String); 2] {
        let mut json = self.to_json();
        json.push('\n');
        [(METRICS_CSV, self.to_csv()), (METRICS_JSON, json)]
    }

    /// Writes [`METRICS_CSV`] and [`METRICS_JSON`] into `dir`, each replaced atomically (the
    /// whole file is rewritten, so a reader never sees half a line).
    pub fn write(&self, dir: &Path) -> Result<(), TrainError> {
        for (name, content) in self.files() {
            atomic::write_bytes(&dir.join(name), content.as_bytes())?;
        }
        Ok(())
    }
}

/// A model's loss and accuracy on a dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy plus the L2 penalty (as Keras's `evaluate` reports it).
    pub loss: f64,
    /// Fraction of examples classified correctly.
    pub accuracy: f64,
    /// Number of examples.
    pub examples: usize,
}

/// Evaluates `model` on every example of `dataset`, in order, `batch_size` at a time, in
/// inference mode (batch norm on its moving statistics), on the device the model lives on.
///
/// Errors when the dataset does not fit the network, is empty, or the batch size is zero.
pub fn evaluate<N, E, D>(
    model: &N::Model<E, D>,
    dataset: &Dataset,
    batch_size: usize,
) -> Result<Evaluation, TrainError>
where
    N: Network,
    E: Element,
    D: Backend<E>,
{
    check_fits::<N>(dataset)?;
    let device = device_of::<N::Model<E, D>, E, D>(model)?;
    let penalty = match model.try_penalty().map_err(TrainError::device)? {
        Some(p) => scalar(&p),
        None => 0.0,
    };
    let mut cross_entropy_sum = 0.0f64;
    let mut correct = 0usize;
    for indices in Batches::new(dataset.len(), batch_size)?.epoch(0) {
        let batch = load_batch::<N, E, D>(&device, dataset, &indices)?;
        let logits = model.try_logits(batch.images).map_err(TrainError::device)?;
        correct += count_correct(&logits.as_vec(), &batch.labels);
        let loss = cross_entropy(logits, batch.one_hot).map_err(TrainError::device)?;
        cross_entropy_sum += scalar(&loss) * indices.len() as f64;
    }
    let n = dataset.len();
    Ok(Evaluation {
        loss: cross_entropy_sum / n as f64 + penalty,
        accuracy: correct as f64 / n as f64,
        examples: n,
    })
}
