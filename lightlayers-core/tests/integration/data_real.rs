//! The real MNIST and Fashion-MNIST files (skipped with a note where the shared copy is
//! absent) and the embedded subsets.

use crate::data_support as support;

use lightlayers_core::data::embedded::{self, FASHION_MNIST_SHA256, MNIST_SHA256};
use lightlayers_core::data::{
    load, load_dir, sha256, to_hex, DataError, DatasetKind, LoadOptions, Origin, IDX_FILES,
};
use support::{assert_names, shared_data};

#[test]
fn real_mnist_loads_from_its_folder() {
    let Some(shared) = shared_data() else { return };
    let dir = shared.join("mnist");
    let splits = load_dir(DatasetKind::Mnist, &dir).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(dir));
    assert_eq!((splits.train.len(), splits.test.len()), (60_000, 10_000));
    assert_eq!(splits.train.label(0), 5);
    assert_eq!(splits.test.label(0), 7);
    assert_eq!(splits.train.shape(), [1, 28, 28]);
    let again = load(DatasetKind::Mnist, &LoadOptions::from_dir(&shared)).unwrap();
    assert_eq!(again.origin, Origin::DataDir(shared.join("mnist")));
    assert_eq!(again.train.labels(), splits.train.labels());
    assert!(
        splits.notice().contains("60000 train / 10000 test"),
        "{}",
        splits.notice()
    );
}

#[test]
fn real_fashion_mnist_loads_from_the_parent_folder() {
    let Some(shared) = shared_data() else { return };
    let splits = load_dir(DatasetKind::FashionMnist, &shared).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(shared.join("fashion-mnist")));
    assert_eq!((splits.train.len(), splits.test.len()), (60_000, 10_000));
    assert_eq!(
        splits.train.class_names()[usize::from(splits.train.label(0))],
        "Ankle boot"
    );
    assert_eq!(splits.test.label(0), 9);
}

#[test]
fn mnist_files_given_as_fashion_mnist_are_refused() {
    let Some(shared) = shared_data() else { return };
    let dir = shared.join("mnist");
    let err = load_dir(DatasetKind::FashionMnist, &dir).unwrap_err();
    assert!(matches!(err, DataError::WrongFile { .. }), "{err:?}");
    assert_names(&err, &dir);
    assert!(
        err.to_string().contains("MNIST train-images-idx3-ubyte"),
        "{err}"
    );
}

#[test]
fn embedded_subsets_load() {
    for kind in [DatasetKind::Mnist, DatasetKind::FashionMnist] {
        let splits = embedded::load(kind).unwrap();
        assert_eq!(splits.origin, Origin::Embedded);
        assert_eq!((splits.train.len(), splits.test.len()), (10_000, 2_000));
        assert_eq!(splits.train.kind(), Some(kind));
        assert!(
            splits.notice().contains("embedded subset"),
            "{}",
            splits.notice()
        );
    }
    let mnist = embedded::load(DatasetKind::Mnist).unwrap();
    assert_eq!((mnist.train.label(0), mnist.test.label(0)), (5, 7));
}

#[test]
fn embedded_files_are_the_documented_ones() {
    let sums = include_str!("../../embedded/SHA256SUMS");
    for (kind, table) in [
        (DatasetKind::Mnist, MNIST_SHA256),
        (DatasetKind::FashionMnist, FASHION_MNIST_SHA256),
    ] {
        let files = embedded::raw_files(kind).unwrap();
        for ((i, (path, raw)), name) in files.iter().enumerate().zip(IDX_FILES) {
            let digest = sha256(raw);
            assert_eq!(digest, table[i], "{}", path.display());
            let line = format!("{}  {}/{name}", to_hex(&digest), kind.folder());
            assert!(sums.contains(&line), "SHA256SUMS lacks {line}");
        }
    }
}

#[test]
fn embedded_subsets_are_the_first_examples_of_the_real_sets() {
    let Some(shared) = shared_data() else { return };
    for kind in [DatasetKind::Mnist, DatasetKind::FashionMnist] {
        let real = load_dir(kind, &shared).unwrap();
        let small = embedded::load(kind).unwrap();
        assert_eq!(small.train.images(), &real.train.images()[..10_000 * 784]);
        assert_eq!(small.train.labels(), &real.train.labels()[..10_000]);
        assert_eq!(small.test.images(), &real.test.images()[..2_000 * 784]);
        assert_eq!(small.test.labels(), &real.test.labels()[..2_000]);
    }
}

#[test]
fn cifar_has_no_embedded_subset() {
    for kind in [DatasetKind::Cifar10, DatasetKind::Cifar100] {
        let err = embedded::load(kind).unwrap_err();
        assert!(matches!(err, DataError::NotEmbedded { .. }), "{err:?}");
        assert!(err.to_string().contains(kind.name()), "{err}");
    }
}
