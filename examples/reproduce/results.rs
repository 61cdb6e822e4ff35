//! The results file: one JSON object per finished run, one run per line, appended and synced
//! to disk as each run ends, so a crash loses at most the line being written; reading merges
//! any number of files, skipping duplicate runs and a torn last line.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use lightlayers::data::DatasetKind;
use lightlayers::train::EpochRecord;
use serde::{Deserialize, Serialize};

use crate::plan::{Family, Row, Run};

/// One finished run, as one line of a results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The dataset's key ("mnist", "fashion-mnist", "cifar10", "cifar100").
    pub dataset: String,
    /// The family.
    pub variant: Family,
    /// The rank (LightLayers only).
    pub k: Option<u8>,
    /// Seed of the initial weights and the shuffle order.
    pub seed: u64,
    /// Parameters (Keras counting), from the network's `PARAMS`.
    pub params: u64,
    /// Multiply-accumulates per image, forward; `null` when the build cannot tell.
    pub macs: Option<u64>,
    /// Epochs asked for (a run may stop early).
    pub epochs_planned: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam's initial learning rate.
    pub lr: f64,
    /// Training images.
    pub train_examples: usize,
    /// Test images.
    pub test_examples: usize,
    /// Where the data came from ("data folder …", "the embedded subset", …).
    pub data: String,
    /// Every epoch's metrics.
    pub epochs: Vec<EpochRecord>,
    /// Test accuracy of the final weights.
    pub test_accuracy: f64,
    /// Test loss of the final weights.
    pub test_loss: f64,
    /// Seconds of training and evaluation over all epochs (resumed runs included).
    pub wall_seconds: f64,
    /// "cpu" or "cuda".
    pub device: String,
    /// The source's git commit, "unknown" when it cannot be told.
    pub commit: String,
}

impl RunResult {
    /// The run this is the result of, when its dataset is known.
    pub fn run(&self) -> Option<Run> {
        let dataset: DatasetKind = self.dataset.parse().ok()?;
        Some(Run {
            row: Row::new(dataset, self.variant, self.k),
            seed: self.seed,
        })
    }
}

/// Reading or writing a results file failed.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A line in the middle of a file is not a result (a torn last line is tolerated).
    #[error("{path}, line {line}: not a result line ({reason}); fix or delete the line")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends `result` as one line and syncs the file to disk. A torn last line left by a crash
/// is closed first, so the new line starts on a line of its own.
pub fn append(path: &Path, result: &RunResult) -> Result<(), ResultsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path))?;
    let mut line = String::new();
    if !ends_with_newline(&mut file).map_err(io(path))? {
        line.push('\n');
    }
    // Serialising plain numbers, strings and vectors cannot fail.
    line.push_str(&serde_json::to_string(result).unwrap_or_default());
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// The results of one file, in file order. A missing file has none; a last line that does not
/// parse (a run killed while writing it) is skipped; any other bad line is an error.
pub fn read(path: &Path) -> Result<Vec<RunResult>, ResultsError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut results = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RunResult>(line) {
            Ok(r) => results.push(r),
            Err(_) if i + 1 == lines.len() || is_torn(line) => {}
            Err(e) => {
                return Err(ResultsError::BadLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(results)
}

/// A line cut short by a crash and then closed by [`append`]: a JSON object never finished.
fn is_torn(line: &str) -> bool {
    line.trim_start().starts_with('{') && !line.trim_end().ends_with('}')
}

/// The results of all `paths`, each run once: the first result of a run (in the order of the
/// files, then of their lines) wins; the others are counted in the second value.
pub fn merge(paths: &[PathBuf]) -> Result<(Vec<RunResult>, usize), ResultsError> {
    let mut seen = BTreeSet::new();
    let mut merged = Vec::new();
    let mut duplicates = 0;
    for path in paths {
        for result in read(path)? {
            let key = (
                result.dataset.clone(),
                result.variant,
                result.k,
                result.seed,
            );
            if seen.insert(key) {
                merged.push(result);
            } else {
                duplicates += 1;
            }
        }
    }
    Ok((merged, duplicates))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixture::TempDir;

    /// A result with made-up metrics (for tests of reading and reporting, not measurements).
    pub(crate) fn sample(family: Family, k: Option<u8>, seed: u64, accuracy: f64) -> RunResult {
        RunResult {
            dataset: "mnist".to_string(),
            variant: family,
            k,
            seed,
            params: 1000,
            macs: None,
            epochs_planned: 1,
            batch_size: 64,
            lr: 1e-3,
            train_examples: 10,
            test_examples: 10,
            data: "test".to_string(),
            epochs: vec![EpochRecord {
                epoch: 1,
                train_loss: 1.0,
                train_accuracy: accuracy,
                test_loss: 1.0 - accuracy,
                test_accuracy: accuracy,
                lr: 1e-3,
                seconds: 1.0,
                images_per_second: 10.0,
            }],
            test_accuracy: accuracy,
            test_loss: 1.0 - accuracy,
            wall_seconds: 1.0,
            device: "cpu".to_string(),
            commit: "unknown".to_string(),
        }
    }

    #[test]
    fn append_then_read_round_trips() {
        let dir = TempDir::new("results-round-trip");
        let path = dir.path().join("sub").join("r.jsonl");
        let a = sample(Family::Conv, None, 0, 0.9);
        let b = sample(Family::Light, Some(2), 1, 0.8);
        append(&path, &a).unwrap();
        append(&path, &b).unwrap();
        assert_eq!(read(&path).unwrap(), vec![a, b]);
        assert_eq!(read(&dir.path().join("missing.jsonl")).unwrap(), vec![]);
    }

    #[test]
    fn merge_skips_duplicates_and_a_torn_last_line() {
        let dir = TempDir::new("results-merge");
        let (one, two) = (dir.path().join("1.jsonl"), dir.path().join("2.jsonl"));
        let a = sample(Family::Conv, None, 0, 0.9);
        let b = sample(Family::Light, Some(2), 0, 0.8);
        let c = sample(Family::Light, Some(2), 1, 0.7);
        append(&one, &a).unwrap();
        append(&one, &b).unwrap();
        // A run killed while writing its line.
        let torn = serde_json::to_string(&c).unwrap();
        let mut f = OpenOptions::new().append(true).open(&one).unwrap();
        f.write_all(&torn.as_bytes()[..torn.len() / 2]).unwrap();
        drop(f);
        assert_eq!(read(&one).unwrap(), vec![a.clone(), b.clone()]);
        // The second file repeats b (with other figures: the first one read wins) and has c.
        append(&two, &sample(Family::Light, Some(2), 0, 0.1)).unwrap();
        append(&two, &c).unwrap();
        let (merged, duplicates) = merge(&[one.clone(), two]).unwrap();
        assert_eq!(merged, vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(duplicates, 1);
        // Appending after the torn line closes it: the file stays readable.
        append(&one, &c).unwrap();
        assert_eq!(read(&one).unwrap(), vec![a, b, c]);
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error() {
        let dir = TempDir::new("results-bad");
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "{\"dataset\": 3}\n").unwrap();
        append(&path, &sample(Family::Conv, None, 0, 0.9)).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 1: not a result line"), "{err}");
    }
}
