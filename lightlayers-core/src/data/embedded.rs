//! The subsets of MNIST and Fashion-MNIST compiled into the library, so that the quick start
//! trains with no network and no data folder.
//!
//! Each is the first 10,000 training and the first 2,000 test examples of the official files,
//! unchanged, as gzip IDX files (about 1.9 MB for MNIST, 5.2 MB for Fashion-MNIST); see
//! `lightlayers-core/embedded/README.md` for licenses, and
//! `scripts/make_embedded_subset.py`, which made them.

use std::path::PathBuf;

use rayon::prelude::*;

use super::dataset::{Origin, Splits};
use super::error::DataError;
use super::idx::{idx_splits, IDX_FILES};
use super::kind::DatasetKind;
use super::source::{gunzip, hex};

/// Training examples in each embedded subset.
pub const TRAIN_LEN: usize = 10_000;
/// Test examples in each embedded subset.
pub const TEST_LEN: usize = 2_000;

macro_rules! embed {
    ($set:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/embedded/",
            $set,
            "/",
            $file,
            ".gz"
        ))
    };
}

/// The compressed files, in [`IDX_FILES`] order.
const MNIST: [&[u8]; 4] = [
    embed!("mnist", "train-images-idx3-ubyte"),
    embed!("mnist", "train-labels-idx1-ubyte"),
    embed!("mnist", "t10k-images-idx3-ubyte"),
    embed!("mnist", "t10k-labels-idx1-ubyte"),
];
const FASHION_MNIST: [&[u8]; 4] = [
    embed!("fashion-mnist", "train-images-idx3-ubyte"),
    embed!("fashion-mnist", "train-labels-idx1-ubyte"),
    embed!("fashion-mnist", "t10k-images-idx3-ubyte"),
    embed!("fashion-mnist", "t10k-labels-idx1-ubyte"),
];

/// SHA-256 of the decompressed embedded MNIST files, in [`IDX_FILES`] order (also in
/// `embedded/SHA256SUMS`).
pub const MNIST_SHA256: [[u8; 32]; 4] = [
    hex("2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1"),
    hex("651e38e2ac0632f5113ec18f1df4977117f953197819034009971a6675a0df78"),
    hex("3f6bd66dee48df299584c67669bceee490faa25f931496bd7473b42106d7daed"),
    hex("7b098e5f6a3065807cebeabf36fb1724a8aff19f2673ac08b4923e0e8c715bce"),
];
/// SHA-256 of the decompressed embedded Fashion-MNIST files, in [`IDX_FILES`] order.
pub const FASHION_MNIST_SHA256: [[u8; 32]; 4] = [
    hex("ed2e37ed5a3a57d212141a69fe0a0de5a7126ffba14ac3f7e76f5f52cc04b1f0"),
    hex("a69f2dad024ca220a8c4d85f621fdf929042d40c444abde2868903e9220ad517"),
    hex("862035b0a96959b614c9574f4c2b0ae9584ca234813e8d6d7adb7838b12ca46b"),
    hex("aa3f574d30afaf0d4d9da084a6f8541771e20693d6a97fae6e9a4953fca8f078"),
];

/// The embedded files of `kind`, decompressed, in [`IDX_FILES`] order, each with the name
/// errors would give it (`embedded:mnist/train-images-idx3-ubyte.gz`). Errors with
/// [`DataError::NotEmbedded`] for CIFAR.
pub fn raw_files(kind: DatasetKind) -> Result<Vec<(PathBuf, Vec<u8>)>, DataError> {
    let files = match kind {
        DatasetKind::Mnist => MNIST,
        DatasetKind::FashionMnist => FASHION_MNIST,
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => {
            return Err(DataError::NotEmbedded {
                dataset: kind.name(),
            })
        }
    };
    files
        .par_iter()
        .zip(IDX_FILES.par_iter())
        .map(|(bytes, name)| {
            let path = PathBuf::from(format!("embedded:{}/{name}.gz", kind.folder()));
            gunzip(bytes, &path).map(|raw| (path, raw))
        })
        .collect()
}

/// Loads the embedded subset of MNIST or Fashion-MNIST ([`TRAIN_LEN`] training and
/// [`TEST_LEN`] test examples), with [`Origin::Embedded`]. Errors with
/// [`DataError::NotEmbedded`] for CIFAR.
pub fn load(kind: DatasetKind) -> Result<Splits, DataError> {
    let (train, test) = idx_splits(kind, raw_files(kind)?)?;
    Ok(Splits {
        train,
        test,
        origin: Origin::Embedded,
    })
}
