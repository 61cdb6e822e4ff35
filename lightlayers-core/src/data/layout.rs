//! Where a dataset's files may sit inside a folder, and finding them.

use std::path::{Path, PathBuf};

use super::cifar::{
    CIFAR100_TEST_FILE, CIFAR100_TRAIN_FILE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES,
};
use super::error::DataError;
use super::kind::DatasetKind;
use super::remote::IDX_FILES;

/// The files a dataset needs, by their plain names: MNIST and Fashion-MNIST, the four
/// [`IDX_FILES`] (each may also be found with a `.gz` suffix); CIFAR-10, the five training
/// batches then `test_batch.bin`; CIFAR-100, `train.bin` then `test.bin`.
pub fn required_files(kind: DatasetKind) -> Vec<&'static str> {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => IDX_FILES.to_vec(),
        DatasetKind::Cifar10 => {
            let mut files = CIFAR10_TRAIN_FILES.to_vec();
            files.push(CIFAR10_TEST_FILE);
            files
        }
        DatasetKind::Cifar100 => vec![CIFAR100_TRAIN_FILE, CIFAR100_TEST_FILE],
    }
}

/// The folders, in the order searched, that may hold a dataset's files under `root`: the
/// dataset's own [`folder`](DatasetKind::folder) first (`root/mnist`, `root/cifar-10-batches-bin`,
/// ...), then `root` itself, then torchvision's layout (`root/MNIST/raw`,
/// `root/FashionMNIST/raw`) for MNIST-like sets.
pub fn candidate_dirs(kind: DatasetKind, root: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![root.join(kind.folder()), root.to_path_buf()];
    match kind {
        DatasetKind::Mnist => dirs.push(root.join("MNIST").join("raw")),
        DatasetKind::FashionMnist => dirs.push(root.join("FashionMNIST").join("raw")),
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => {}
    }
    dirs
}

/// A complete set of a dataset's files, in [`required_files`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSet {
    /// The folder holding them.
    pub dir: PathBuf,
    /// The files, each `name` or (for IDX) `name.gz`, whichever exists (`.gz` preferred).
    pub files: Vec<PathBuf>,
}

/// The path of a required file in `dir`, if it exists as `name` or (IDX) `name.gz`.
fn find_file(kind: DatasetKind, dir: &Path, name: &str) -> Option<PathBuf> {
    let mut names = Vec::with_capacity(2);
    if kind.is_idx() {
        names.push(format!("{name}.gz"));
    }
    names.push(name.to_string());
    names.into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Looks for a complete set of `kind`'s files in the given folders, in order.
///
/// Errors: [`DataError::Incomplete`] when no folder holds every file but one holds some
/// (naming what is missing: usually a half-copied folder), else [`DataError::NotFound`] listing
/// the folders searched with `hint`.
pub fn locate_in(kind: DatasetKind, dirs: &[PathBuf], hint: &str) -> Result<FileSet, DataError> {
    let required = required_files(kind);
    let mut partial: Option<(PathBuf, Vec<String>)> = None;
    for dir in dirs {
        let found: Vec<Option<PathBuf>> = required
            .iter()
            .map(|name| find_file(kind, dir, name))
            .collect();
        if found.iter().all(Option::is_some) {
            return Ok(FileSet {
                dir: dir.clone(),
                files: found.into_iter().flatten().collect(),
            });
        }
        if partial.is_none() && found.iter().any(Option::is_some) {
            let missing = required
                .iter()
                .zip(&found)
                .filter(|(_, f)| f.is_none())
                .map(|(name, _)| {
                    if kind.is_idx() {
                        format!("{name}(.gz)")
                    } else {
                        name.to_string()
                    }
                })
                .collect();
            partial = Some((dir.clone(), missing));
        }
    }
    match partial {
        Some((dir, missing)) => Err(DataError::Incomplete {
            dataset: kind.name(),
            dir,
            missing,
        }),
        None => Err(DataError::NotFound {
            dataset: kind.name(),
            searched: dirs.to_vec(),
            hint: hint.to_string(),
        }),
    }
}

/// How to get a dataset, for [`DataError::NotFound`].
pub fn hint(kind: DatasetKind) -> String {
    match kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => format!(
            "put the four {} files (optionally .gz) in a data folder, or allow the download",
            kind.name()
        ),
        DatasetKind::Cifar10 => "unpack https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz \
             (the binary version) into a data folder, or allow the download"
            .to_string(),
        DatasetKind::Cifar100 => "unpack https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz \
             (the binary version) into a data folder, or allow the download"
            .to_string(),
    }
}
