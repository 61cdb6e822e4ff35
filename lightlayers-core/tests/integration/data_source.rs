//! The selection order of `load`: data folder (never a silent fallback), cache, download,
//! embedded subset, else a `NotFound` that says how to get the data.

use crate::data_support as support;

#[cfg(feature = "download")]
use lightlayers_core::data::Mirror;
use lightlayers_core::data::{load, DataError, DatasetKind, LoadOptions, Origin, IDX_FILES};
use support::{assert_names, bytes, write_images, write_labels, TempDir};

/// Options with a private cache folder, no download and (were one allowed) no reachable host.
fn options(cache: &TempDir) -> LoadOptions {
    #[allow(unused_mut)]
    let mut options = LoadOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..LoadOptions::default()
    };
    #[cfg(feature = "download")]
    {
        options.download_config.mirror = Mirror::at("http://127.0.0.1:9");
        options.download_config.progress = false;
    }
    options
}

/// A small valid (but not official) MNIST-like set in `dir`.
fn write_small_set(dir: &std::path::Path) {
    let p = |i: usize| dir.join(format!("{}.gz", IDX_FILES[i]));
    write_images(&p(0), 28, 28, &bytes(4 * 784, 1), true).unwrap();
    write_labels(&p(1), &[1, 2, 3, 4], true).unwrap();
    write_images(&p(2), 28, 28, &bytes(2 * 784, 2), true).unwrap();
    write_labels(&p(3), &[5, 6], true).unwrap();
}

#[test]
fn without_data_falls_back_to_the_embedded_subset() {
    let cache = TempDir::new("src-embedded");
    for kind in [DatasetKind::Mnist, DatasetKind::FashionMnist] {
        let splits = load(kind, &options(&cache)).unwrap();
        assert_eq!(splits.origin, Origin::Embedded);
        assert_eq!(splits.train.len(), 10_000);
    }
}

#[test]
fn cifar_without_data_says_how_to_get_it() {
    let cache = TempDir::new("src-cifar");
    for (kind, archive) in [
        (DatasetKind::Cifar10, "cifar-10-binary.tar.gz"),
        (DatasetKind::Cifar100, "cifar-100-binary.tar.gz"),
    ] {
        let err = load(kind, &options(&cache)).unwrap_err();
        match &err {
            DataError::NotFound { searched, .. } => {
                assert_eq!(searched, &vec![cache.join(kind.folder())])
            }
            other => panic!("{other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(archive) && msg.contains(kind.name()), "{msg}");
    }
}

#[test]
fn embedded_fallback_can_be_refused() {
    let cache = TempDir::new("src-no-embedded");
    let mut opts = options(&cache);
    opts.embedded = false;
    let err = load(DatasetKind::Mnist, &opts).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
}

#[test]
fn a_named_data_folder_is_used_and_never_silently_replaced() {
    let cache = TempDir::new("src-cache");
    let data = TempDir::new("src-data");
    let mut opts = options(&cache);

    // Missing folder: an error, not the embedded subset.
    opts.data_dir = Some(data.join("absent"));
    let err = load(DatasetKind::Mnist, &opts).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err:?}");
    assert_names(&err, &data.join("absent"));

    // A valid custom set: used as is.
    write_small_set(&data.join("mnist"));
    opts.data_dir = Some(data.path().to_path_buf());
    let splits = load(DatasetKind::Mnist, &opts).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(data.join("mnist")));
    assert_eq!(splits.train.labels(), &[1, 2, 3, 4]);

    // A broken file: an error naming it, not the embedded subset.
    let broken = data.join("mnist").join(format!("{}.gz", IDX_FILES[3]));
    std::fs::write(&broken, b"").unwrap();
    let err = load(DatasetKind::Mnist, &opts).unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }), "{err:?}");
    assert_names(&err, &broken);
}

#[test]
fn the_cache_must_hold_the_official_files() {
    let cache = TempDir::new("src-strict-cache");
    write_small_set(&cache.join("mnist"));
    let err = load(DatasetKind::Mnist, &options(&cache)).unwrap_err();
    match &err {
        DataError::CorruptCache { path, problem } => {
            assert!(path.starts_with(cache.join("mnist")), "{err:?}");
            assert!(
                matches!(**problem, DataError::ChecksumMismatch { .. }),
                "{err:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_names(&err, &cache.join("mnist"));
    // The message says what to do about it.
    assert!(err.to_string().contains("delete it"), "{err}");
}

#[test]
fn an_incomplete_cache_is_ignored_without_download() {
    let cache = TempDir::new("src-partial-cache");
    write_small_set(&cache.join("mnist"));
    std::fs::remove_file(cache.join("mnist").join(format!("{}.gz", IDX_FILES[0]))).unwrap();
    let splits = load(DatasetKind::Mnist, &options(&cache)).unwrap();
    assert_eq!(splits.origin, Origin::Embedded);
}

#[test]
fn origins_print_one_line() {
    assert_eq!(Origin::Embedded.to_string(), "the embedded subset");
    assert_eq!(
        Origin::DataDir("/d/mnist".into()).to_string(),
        "data folder /d/mnist"
    );
    assert_eq!(Origin::Cache("/c".into()).to_string(), "cache /c");
    assert_eq!(
        Origin::Downloaded("/c".into()).to_string(),
        "downloaded to /c"
    );
}

#[test]
#[cfg(feature = "download")]
fn mirrors_lay_out_files_by_dataset_key() {
    let m = Mirror::at("http://host/data/");
    assert_eq!(
        m.bases(DatasetKind::Mnist),
        &["http://host/data/mnist/".to_string()]
    );
    assert_eq!(
        m.bases(DatasetKind::Cifar100),
        &["http://host/data/cifar100/".to_string()]
    );
    assert_eq!(Mirror::join("http://h/a/", "/f.gz"), "http://h/a/f.gz");
    let official = Mirror::official();
    assert_eq!(official.mnist.len(), 2);
    assert!(official.mnist[0].starts_with("https://ossci-datasets.s3.amazonaws.com/mnist"));
    assert!(official.cifar10[0].starts_with("https://www.cs.toronto.edu/~kriz"));
}
