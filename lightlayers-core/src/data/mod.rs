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

mod batches;
mod cache;
mod checksum;
pub mod cifar;
mod classes;
mod dataset;
mod download;
pub mod embedded;
mod error;
mod files;
pub mod idx;
mod kind;
mod layout;
mod mirror;
mod remote;
mod source;
mod splits;

pub use batches::{Batches, EpochBatches};
pub use cache::{cache_dir, DATA_ENV};
pub use checksum::{sha256, to_hex, Checksum, FileDigests, FileHasher};
pub use classes::{
    CIFAR100_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR10_CLASSES, FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
};
pub use dataset::Dataset;
pub use download::{download, download_file, unpack_tar_gz, DownloadConfig};
pub use error::DataError;
pub use files::{is_gzip, read_maybe_gz, write_atomic};
pub use kind::{DatasetKind, Split};
pub use layout::{candidate_dirs, locate_in, required_files, FileSet};
pub use mirror::{Mirror, MIRROR_ENV};
pub use remote::{identify_payload, known_payloads, remote_files, RemoteFile, IDX_FILES};
pub use source::{load, load_dir, LoadOptions};
pub use splits::{Origin, Splits};
