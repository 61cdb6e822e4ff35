//! The CIFAR-10 and CIFAR-100 binary formats: fixed-size records of label byte(s) followed by
//! a 32×32 colour image as 1024 red, 1024 green then 1024 blue bytes, each plane row-major —
//! already the channel-major layout the models take, so the pixels are copied unchanged.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::dataset::Dataset;
use super::error::DataError;
use super::idx::check_labels;
use super::kind::{DatasetKind, Split, CIFAR100_COARSE_CLASSES};
use super::source::read_maybe_gz;

/// Pixel bytes per CIFAR image: 3 channels of 32×32.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes per CIFAR-10 record: 1 label byte + the image.
pub const CIFAR10_RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Bytes per CIFAR-100 record: 1 coarse label byte + 1 fine label byte + the image.
pub const CIFAR100_RECORD_BYTES: usize = 2 + IMAGE_BYTES;

/// CIFAR-10's training files, in `cifar-10-batches-bin/`, 10,000 records each.
pub const CIFAR10_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// CIFAR-10's test file, in `cifar-10-batches-bin/`.
pub const CIFAR10_TEST_FILE: &str = "test_batch.bin";
/// CIFAR-100's training file, in `cifar-100-binary/`.
pub const CIFAR100_TRAIN_FILE: &str = "train.bin";
/// CIFAR-100's test file, in `cifar-100-binary/`.
pub const CIFAR100_TEST_FILE: &str = "test.bin";

/// The records of one CIFAR binary file, split into labels and pixels.
#[derive(Clone, PartialEq, Eq)]
pub struct CifarRecords {
    /// One label per record: CIFAR-10's class, or CIFAR-100's fine class.
    pub labels: Vec<u8>,
    /// CIFAR-100's coarse (superclass) labels; `None` for CIFAR-10.
    pub coarse_labels: Option<Vec<u8>>,
    /// `labels.len() * 3072` bytes, image after image, channel-major.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for CifarRecords {
    /// The record count only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CifarRecords({} records)", self.labels.len())
    }
}

/// Parses the bytes of a CIFAR-10 binary file, checking that they are a non-zero whole number
/// of records and that every label is below 10. `path` names the file in errors.
pub fn parse_cifar10(bytes: &[u8], path: &Path) -> Result<CifarRecords, DataError> {
    parse(bytes, path, DatasetKind::Cifar10)
}

/// Parses the bytes of a CIFAR-100 binary file, checking that they are a non-zero whole number
/// of records, every coarse label below 20 and every fine label below 100.
pub fn parse_cifar100(bytes: &[u8], path: &Path) -> Result<CifarRecords, DataError> {
    parse(bytes, path, DatasetKind::Cifar100)
}

/// Record size and label bytes per record: CIFAR-100 records carry a coarse and a fine label,
/// CIFAR-10 records one label.
fn record_layout(kind: DatasetKind) -> (usize, usize) {
    if kind == DatasetKind::Cifar100 {
        (CIFAR100_RECORD_BYTES, 2)
    } else {
        (CIFAR10_RECORD_BYTES, 1)
    }
}

fn parse(bytes: &[u8], path: &Path, kind: DatasetKind) -> Result<CifarRecords, DataError> {
    let (record, label_bytes) = record_layout(kind);
    if bytes.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(DataError::PartialRecord {
            path: path.to_path_buf(),
            actual_bytes: bytes.len() as u64,
            record_bytes: record as u64,
            format: kind.name(),
        });
    }
    let n = bytes.len() / record;
    let mut labels = Vec::with_capacity(n);
    let mut coarse = Vec::with_capacity(if label_bytes == 2 { n } else { 0 });
    let mut pixels = Vec::with_capacity(n * IMAGE_BYTES);
    for rec in bytes.chunks_exact(record) {
        let (head, image) = rec.split_at(label_bytes);
        if label_bytes == 2 {
            coarse.push(head[0]);
        }
        labels.push(head[label_bytes - 1]);
        pixels.extend_from_slice(image);
    }
    if label_bytes == 2 {
        check_labels(&coarse, CIFAR100_COARSE_CLASSES.len(), path)?;
    }
    check_labels(&labels, kind.classes(), path)?;
    Ok(CifarRecords {
        labels,
        coarse_labels: (label_bytes == 2).then_some(coarse),
        pixels,
    })
}

/// Builds one split of CIFAR-10 or CIFAR-100 from its file(s) (raw or gzip), read in parallel
/// and concatenated in the order given (CIFAR-10's train split is five files).
pub(crate) fn load_split(
    kind: DatasetKind,
    split: Split,
    paths: &[PathBuf],
) -> Result<Dataset, DataError> {
    let parts = paths
        .par_iter()
        .map(|p| parse(&read_maybe_gz(p)?, p, kind))
        .collect::<Result<Vec<_>, _>>()?;
    let n: usize = parts.iter().map(|p| p.labels.len()).sum();
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * IMAGE_BYTES);
    let mut coarse = Vec::new();
    for part in parts {
        labels.extend_from_slice(&part.labels);
        pixels.extend_from_slice(&part.pixels);
        if let Some(c) = part.coarse_labels {
            coarse.extend_from_slice(&c);
        }
    }
    let set = Dataset::of_kind(kind, split, pixels, labels)?;
    if kind == DatasetKind::Cifar100 {
        set.with_coarse_labels(coarse, CIFAR100_COARSE_CLASSES)
    } else {
        Ok(set)
    }
}
