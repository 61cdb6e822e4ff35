//! Datasets: MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100, from a data folder, the cache, a
//! verified download, or (MNIST-like only) a subset compiled into the library.
//!
//! ```no_run
//! use lightlayers_core::data::{load, Batches, DatasetKind, LoadOptions};
//!
//! let splits = load(DatasetKind::Mnist, &LoadOptions::default())?;
//! eprintln!("{}", splits.notice());
//! let train = &splits.train;
//! let batches = Batches::new(train.len(), 128)?.shuffle(Some(42));
//! let mut images = vec![0f32; 128 * train.image_len()];
//! let mut labels = vec![0usize; 128];
//! for batch in batches.epoch(0) {
//!     let n = batch.len();
//!     train.fill_batch(&batch, &mut images[..n * train.image_len()], &mut labels[..n])?;
//!     // images: n×1×28×28 in [0, 1]; labels: class indices
//! }
//! # Ok::<(), lightlayers_core::data::DataError>(())
//! ```
//!
//! Images are kept as bytes, channel-major per image (NCHW as a whole), and scaled to `[0, 1]`
//! (divided by 255) only when copied into a batch. Every problem with a file, a download or an
//! argument is a [`DataError`] that names the file and what is wrong; nothing here panics on a
//! user's input.
//!
//! Downloading (an HTTP client, tar, MD5 and the platform's cache folder) is the `download`
//! cargo feature, on by default. Without it, data comes from a data folder, from the cache
//! named by `$LIGHTLAYERS_DATA`, or from the embedded subset; `LoadOptions` then has no
//! download fields, and a build's users see a compile error rather than a download that
//! cannot happen.

pub mod cifar;
mod dataset;
pub mod embedded;
mod error;
#[cfg(feature = "download")]
mod fetch;
pub mod idx;
mod kind;
mod source;

pub use dataset::{Batches, Dataset, EpochBatches, Origin, Splits};
pub use error::DataError;
#[cfg(feature = "download")]
pub use fetch::{
    download, download_file, unpack_tar_gz, Checksum, DownloadConfig, FileDigests, Mirror,
    MIRROR_ENV,
};
pub use idx::IDX_FILES;
pub use kind::{
    DatasetKind, Split, CIFAR100_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES, MNIST_CLASSES,
};
pub use source::{
    cache_dir, load, load_dir, read_maybe_gz, required_files, sha256, to_hex, LoadOptions, DATA_ENV,
};
