//! The one error type of the data module.
//!
//! Every variant names the file, folder or URL it is about and what is wrong with it, in one
//! line, so that a user who points the trainer at a broken file knows which file to fix.

use std::path::PathBuf;

/// Everything that can go wrong while finding, downloading, reading or batching a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Reading, writing, renaming or listing a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// A file starts like a gzip stream but does not decompress.
    #[error("{}: corrupt gzip stream: {source}", path.display())]
    Gzip {
        /// The compressed file.
        path: PathBuf,
        /// What the decompressor said.
        source: std::io::Error,
    },

    /// A file (after decompression) holds no bytes at all.
    #[error("{}: file is empty", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
    },

    /// An IDX file starts with the wrong magic number (wrong kind of file, or not IDX at all).
    #[error(
        "{}: not an {what}: magic number 0x{found:08x}, expected 0x{expected:08x}",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic number this kind of file must start with.
        expected: u32,
        /// What kind of file was expected, e.g. "IDX image file".
        what: &'static str,
    },

    /// A file is shorter than its header says it must be.
    #[error(
        "{}: truncated: {actual_bytes} bytes, the header promises {expected_bytes}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The length its header implies (after decompression).
        expected_bytes: u64,
        /// Its real length (after decompression).
        actual_bytes: u64,
    },

    /// A file is longer than its header says it should be.
    #[error(
        "{}: trailing data: {actual_bytes} bytes, the header promises {expected_bytes}",
        path.display()
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The length its header implies (after decompression).
        expected_bytes: u64,
        /// Its real length (after decompression).
        actual_bytes: u64,
    },

    /// A fixed-record file (CIFAR binary) does not hold a whole number of records.
    #[error(
        "{}: {actual_bytes} bytes is not a whole number of {record_bytes}-byte {format} records (truncated, or not that format)",
        path.display()
    )]
    PartialRecord {
        /// The file.
        path: PathBuf,
        /// Its real length.
        actual_bytes: u64,
        /// The size of one record.
        record_bytes: u64,
        /// The format expected, e.g. "CIFAR-10".
        format: &'static str,
    },

    /// An image file and its label file disagree on the number of examples.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// How many images it holds.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// How many labels it holds.
        labels: usize,
    },

    /// A label is not below the number of classes.
    #[error(
        "{}: label {label} of example {index} is out of range (the dataset has {classes} classes)",
        path.display()
    )]
    LabelOutOfRange {
        /// The file holding the label.
        path: PathBuf,
        /// The example's position in the file.
        index: usize,
        /// The label found.
        label: u32,
        /// The number of classes; valid labels are `0..classes`.
        classes: usize,
    },

    /// Images have a shape this dataset (or the IDX format) does not allow.
    #[error("{}: images of shape {found}, expected {expected}", path.display())]
    BadShape {
        /// The file.
        path: PathBuf,
        /// The shape found, e.g. "1×32×32" or "0 rows".
        found: String,
        /// The shape required, e.g. "1×28×28".
        expected: String,
    },

    /// A file's digest is not the published one: corrupt, tampered with, or a different file.
    #[error("{file}: {algorithm} checksum mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The URL or path of the file.
        file: String,
        /// "MD5" or "SHA-256".
        algorithm: &'static str,
        /// The published digest, lowercase hex.
        expected: String,
        /// The digest of what was received, lowercase hex.
        actual: String,
    },

    /// A file in a data folder is a known official file, but not the one its name promises
    /// (e.g. MNIST's files given as Fashion-MNIST, which uses the same names).
    #[error("{}: this is {found}, expected {expected}", path.display())]
    WrongFile {
        /// The file.
        path: PathBuf,
        /// The file that was asked for, e.g. "Fashion-MNIST train-images-idx3-ubyte".
        expected: String,
        /// The file it is, e.g. "MNIST train-images-idx3-ubyte".
        found: String,
    },

    /// A file in the cache is damaged or not the official file (a disk error, an edit, a copy
    /// from elsewhere): `problem` says how. A load that may download sets it aside and fetches
    /// it again instead.
    #[error("{problem}; it is a damaged file in the data cache: {CORRUPT_CACHE_REMEDY}")]
    CorruptCache {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        problem: Box<DataError>,
    },

    /// The server answered, but not with the file (HTTP error status, bad redirect, ...).
    #[error("download of {url} failed: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },

    /// The connection closed before the whole file arrived.
    #[error("download of {url} stopped after {actual_bytes} of {expected_bytes} bytes")]
    IncompleteDownload {
        /// The URL.
        url: String,
        /// The length the server announced.
        expected_bytes: u64,
        /// The bytes received.
        actual_bytes: u64,
    },

    /// The server could not be reached at all (offline, DNS failure, refused, timed out).
    #[error(
        "cannot reach {url}: {reason} (offline? pass a data folder, or set LIGHTLAYERS_MIRROR)"
    )]
    Unreachable {
        /// The URL.
        url: String,
        /// What the network layer said.
        reason: String,
    },

    /// A downloaded archive could not be unpacked, or lacks a file it must contain.
    #[error("{}: cannot unpack archive: {message}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The dataset's files were found in none of the places searched.
    #[error("{dataset} not found (searched {}); {hint}", list_paths(searched))]
    NotFound {
        /// The dataset's name.
        dataset: &'static str,
        /// Every folder looked in.
        searched: Vec<PathBuf>,
        /// How to get the data.
        hint: String,
    },

    /// A folder holds some of the dataset's files but not all of them.
    #[error("{dataset} in {}: missing {}", dir.display(), missing.join(", "))]
    Incomplete {
        /// The dataset's name.
        dataset: &'static str,
        /// The folder holding the other files.
        dir: PathBuf,
        /// The missing file names.
        missing: Vec<String>,
    },

    /// No embedded subset exists for this dataset (only MNIST and Fashion-MNIST are embedded).
    #[error(
        "no embedded subset of {dataset}: pass a data folder holding it, or allow the download"
    )]
    NotEmbedded {
        /// The dataset's name.
        dataset: &'static str,
    },

    /// Neither `$LIGHTLAYERS_DATA` nor a platform cache folder is available.
    #[error("no cache folder: set LIGHTLAYERS_DATA to a writable folder")]
    NoCacheDir,

    /// A dataset name that is none of the known ones.
    #[error("unknown dataset {input:?}: expected mnist, fashion-mnist, cifar10 or cifar100")]
    UnknownDataset {
        /// What was given.
        input: String,
    },

    /// An example index past the end of a dataset.
    #[error("{dataset}: index {index} out of range (the dataset has {len} examples)")]
    IndexOutOfRange {
        /// The dataset's name.
        dataset: String,
        /// The index asked for.
        index: usize,
        /// The dataset's length.
        len: usize,
    },

    /// A caller's buffer does not have the length the request needs.
    #[error("{what} buffer holds {actual} values, expected {expected}")]
    BufferSize {
        /// Which buffer, e.g. "image" or "label".
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        actual: usize,
    },

    /// An argument that cannot work, e.g. a batch size of zero.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Why it cannot work.
        reason: String,
    },
}

/// What to do about a damaged cache file, in a build that can download it again.
#[cfg(feature = "download")]
const CORRUPT_CACHE_REMEDY: &str =
    "allow the download (`--download`) to set it aside and fetch it again, or delete it";

/// What to do about a damaged cache file, in a build that cannot download.
#[cfg(not(feature = "download"))]
const CORRUPT_CACHE_REMEDY: &str =
    "delete it, or put the official file in its place (this build cannot download)";

/// Joins paths for a one-line message.
fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// The file whose content this error says is wrong (not one that could not be read): the
    /// file to set aside when it is in the cache.
    pub(crate) fn damaged_file(&self) -> Option<PathBuf> {
        match self {
            DataError::Gzip { path, .. }
            | DataError::Empty { path }
            | DataError::BadMagic { path, .. }
            | DataError::Truncated { path, .. }
            | DataError::TrailingBytes { path, .. }
            | DataError::PartialRecord { path, .. }
            | DataError::LabelOutOfRange { path, .. }
            | DataError::BadShape { path, .. }
            | DataError::WrongFile { path, .. } => Some(path.clone()),
            DataError::ChecksumMismatch { file, .. } => Some(PathBuf::from(file)),
            _ => None,
        }
    }
}
