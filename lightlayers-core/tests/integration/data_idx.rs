//! MNIST / Fashion-MNIST IDX files: valid ones round-trip, broken ones give the specific error
//! naming the file, in raw and gzip form, and the data-folder layouts are found.

use crate::data_support as support;

use std::fs;
use std::path::{Path, PathBuf};

use lightlayers_core::data::idx::{
    parse_images, read_images, read_labels, IMAGES_MAGIC, LABELS_MAGIC,
};
use lightlayers_core::data::{load_dir, DataError, DatasetKind, Origin, IDX_FILES};
use support::{
    assert_names, bytes, encode_images, encode_labels, gzip_best, write_images, write_labels,
    TempDir,
};

const KINDS: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];
const TRAIN: usize = 5;
const TEST: usize = 3;

/// A small valid set: pixels and labels of both splits.
struct Synthetic {
    train_pixels: Vec<u8>,
    train_labels: Vec<u8>,
    test_pixels: Vec<u8>,
    test_labels: Vec<u8>,
}

fn synthetic(seed: u32) -> Synthetic {
    Synthetic {
        train_pixels: bytes(TRAIN * 784, seed),
        train_labels: (0..TRAIN as u8).map(|i| (i * 3 + 1) % 10).collect(),
        test_pixels: bytes(TEST * 784, seed + 1),
        test_labels: (0..TEST as u8).map(|i| (i * 7 + 2) % 10).collect(),
    }
}

/// The four file paths in `dir`, with `.gz` when `gz`.
fn paths(dir: &Path, gz: bool) -> Vec<PathBuf> {
    IDX_FILES
        .iter()
        .map(|n| dir.join(if gz { format!("{n}.gz") } else { n.to_string() }))
        .collect()
}

/// Writes a valid set into `dir`; returns the four paths.
fn write_set(dir: &Path, data: &Synthetic, gz: bool) -> Vec<PathBuf> {
    let p = paths(dir, gz);
    write_images(&p[0], 28, 28, &data.train_pixels, gz).unwrap();
    write_labels(&p[1], &data.train_labels, gz).unwrap();
    write_images(&p[2], 28, 28, &data.test_pixels, gz).unwrap();
    write_labels(&p[3], &data.test_labels, gz).unwrap();
    p
}

/// Replaces a file's decompressed content, keeping its compression.
fn rewrite(path: &Path, raw: Vec<u8>, gz: bool) {
    fs::write(path, if gz { gzip_best(&raw) } else { raw }).unwrap();
}

/// Every broken-file case, for both datasets and both compressions.
fn for_each_case(mut case: impl FnMut(DatasetKind, bool, &TempDir, &[PathBuf])) {
    for kind in KINDS {
        for gz in [false, true] {
            let dir = TempDir::new("idx");
            let p = write_set(dir.path(), &synthetic(7), gz);
            case(kind, gz, &dir, &p);
        }
    }
}

#[test]
fn valid_sets_round_trip_raw_and_gzip() {
    for kind in KINDS {
        for gz in [false, true] {
            let dir = TempDir::new("idx-ok");
            let data = synthetic(1);
            write_set(dir.path(), &data, gz);
            let splits = load_dir(kind, dir.path()).unwrap();
            assert_eq!(splits.origin, Origin::DataDir(dir.path().to_path_buf()));
            let (train, test) = (&splits.train, &splits.test);
            assert_eq!(train.kind(), Some(kind));
            assert_eq!((train.len(), test.len()), (TRAIN, TEST));
            assert_eq!(train.shape(), [1, 28, 28]);
            assert_eq!(train.classes(), 10);
            assert_eq!(train.images(), &data.train_pixels[..]);
            assert_eq!(train.labels(), &data.train_labels[..]);
            assert_eq!(test.images(), &data.test_pixels[..]);
            assert_eq!(test.labels(), &data.test_labels[..]);
            assert_eq!(test.image(2), &data.test_pixels[2 * 784..3 * 784]);
            assert_eq!(test.label(1), data.test_labels[1]);
        }
    }
}

#[test]
fn gzip_is_detected_by_content_not_by_name() {
    let dir = TempDir::new("idx-swapped-names");
    let data = synthetic(2);
    let p = paths(dir.path(), false);
    // gzip content under plain names...
    fs::write(
        &p[0],
        gzip_best(&encode_images(28, 28, &data.train_pixels).unwrap()),
    )
    .unwrap();
    fs::write(
        &p[1],
        gzip_best(&encode_labels(&data.train_labels).unwrap()),
    )
    .unwrap();
    // ...and raw content under .gz names.
    let gz = paths(dir.path(), true);
    fs::write(&gz[2], encode_images(28, 28, &data.test_pixels).unwrap()).unwrap();
    fs::write(&gz[3], encode_labels(&data.test_labels).unwrap()).unwrap();
    let splits = load_dir(DatasetKind::Mnist, dir.path()).unwrap();
    assert_eq!(splits.train.images(), &data.train_pixels[..]);
    assert_eq!(splits.test.labels(), &data.test_labels[..]);
}

#[test]
fn parser_accepts_any_image_size() {
    let dir = TempDir::new("idx-any-size");
    let path = dir.join("odd-images");
    let pixels = bytes(4 * 7 * 5, 3);
    write_images(&path, 7, 5, &pixels, true).unwrap();
    let images = read_images(&path).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (4, 7, 5));
    assert_eq!(images.pixels, pixels);
    let labels_path = dir.join("odd-labels");
    write_labels(&labels_path, &[0, 200, 255], false).unwrap();
    assert_eq!(read_labels(&labels_path).unwrap(), vec![0, 200, 255]);
}

#[test]
fn truncated_payload() {
    for_each_case(|kind, gz, _dir, p| {
        let mut raw = encode_images(28, 28, &synthetic(7).test_pixels).unwrap();
        raw.truncate(raw.len() - 10);
        let full = (16 + TEST * 784) as u64;
        rewrite(&p[2], raw, gz);
        let err = load_dir(kind, p[2].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { ref path, expected_bytes, actual_bytes }
                if path == &p[2] && expected_bytes == full && actual_bytes == full - 10),
            "{err:?}"
        );
        assert_names(&err, &p[2]);
    });
}

#[test]
fn truncated_header() {
    for_each_case(|kind, gz, _dir, p| {
        rewrite(&p[1], vec![0, 0, 8, 1, 0, 0], gz);
        let err = load_dir(kind, p[1].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { ref path, expected_bytes: 8, actual_bytes: 6 } if path == &p[1]),
            "{err:?}"
        );
        assert_names(&err, &p[1]);
    });
}

#[test]
fn truncated_gzip_stream() {
    let dir = TempDir::new("idx-cut-gzip");
    let p = write_set(dir.path(), &synthetic(4), true);
    let gz = fs::read(&p[0]).unwrap();
    fs::write(&p[0], &gz[..gz.len() / 2]).unwrap();
    let err = load_dir(DatasetKind::Mnist, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::Gzip { ref path, .. } if path == &p[0]),
        "{err:?}"
    );
    assert_names(&err, &p[0]);
}

#[test]
fn bad_magic() {
    for_each_case(|kind, gz, _dir, p| {
        // A label file where the training images belong.
        rewrite(&p[0], encode_labels(&[1, 2, 3]).unwrap(), gz);
        let err = load_dir(kind, p[0].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::BadMagic { ref path, found: LABELS_MAGIC, expected: IMAGES_MAGIC, .. }
                if path == &p[0]),
            "{err:?}"
        );
        assert_names(&err, &p[0]);
        assert!(err.to_string().contains("0x00000801"), "{err}");
    });
    // Not IDX at all.
    let dir = TempDir::new("idx-not-idx");
    let p = write_set(dir.path(), &synthetic(7), false);
    fs::write(&p[3], b"<html>Not Found</html>").unwrap();
    let err = load_dir(DatasetKind::Mnist, dir.path()).unwrap_err();
    assert!(matches!(err, DataError::BadMagic { .. }), "{err:?}");
    assert_names(&err, &p[3]);
}

#[test]
fn count_mismatch() {
    for_each_case(|kind, gz, _dir, p| {
        rewrite(&p[1], encode_labels(&[1, 2, 3, 4]).unwrap(), gz);
        let err = load_dir(kind, p[1].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::CountMismatch { ref images_path, images: TRAIN, ref labels_path, labels: 4 }
                if images_path == &p[0] && labels_path == &p[1]),
            "{err:?}"
        );
        assert_names(&err, &p[0]);
        assert_names(&err, &p[1]);
    });
}

#[test]
fn label_out_of_range() {
    for_each_case(|kind, gz, _dir, p| {
        rewrite(&p[3], encode_labels(&[0, 9, 10]).unwrap(), gz);
        let err = load_dir(kind, p[3].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::LabelOutOfRange { ref path, index: 2, label: 10, classes: 10 }
                if path == &p[3]),
            "{err:?}"
        );
        assert_names(&err, &p[3]);
    });
}

#[test]
fn trailing_bytes() {
    for_each_case(|kind, gz, _dir, p| {
        let mut raw = encode_labels(&synthetic(7).train_labels).unwrap();
        raw.extend_from_slice(b"xyz");
        rewrite(&p[1], raw, gz);
        let err = load_dir(kind, p[1].parent().unwrap()).unwrap_err();
        let full = (8 + TRAIN) as u64;
        assert!(
            matches!(err, DataError::TrailingBytes { ref path, expected_bytes, actual_bytes }
                if path == &p[1] && expected_bytes == full && actual_bytes == full + 3),
            "{err:?}"
        );
        assert_names(&err, &p[1]);
    });
}

#[test]
fn empty_file() {
    for_each_case(|kind, gz, _dir, p| {
        rewrite(&p[2], Vec::new(), gz);
        let err = load_dir(kind, p[2].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::Empty { ref path } if path == &p[2]),
            "{err:?}"
        );
        assert_names(&err, &p[2]);
    });
}

#[test]
fn wrong_image_size_for_the_dataset() {
    for_each_case(|kind, gz, _dir, p| {
        rewrite(
            &p[0],
            encode_images(32, 32, &bytes(TRAIN * 1024, 9)).unwrap(),
            gz,
        );
        let err = load_dir(kind, p[0].parent().unwrap()).unwrap_err();
        assert!(
            matches!(err, DataError::BadShape { ref path, .. } if path == &p[0]),
            "{err:?}"
        );
        assert_names(&err, &p[0]);
        assert!(err.to_string().contains("32×32"), "{err}");
    });
}

#[test]
fn zero_sized_images_are_refused() {
    let dir = TempDir::new("idx-zero");
    let path = dir.join("zero");
    let mut raw = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [3u32, 0, 28] {
        raw.extend_from_slice(&d.to_be_bytes());
    }
    fs::write(&path, &raw).unwrap();
    let err = read_images(&path).unwrap_err();
    assert!(matches!(err, DataError::BadShape { .. }), "{err:?}");
    assert_names(&err, &path);
}

#[test]
fn absurd_header_is_truncated_not_a_crash() {
    let mut raw = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [u32::MAX, u32::MAX, u32::MAX] {
        raw.extend_from_slice(&d.to_be_bytes());
    }
    raw.extend_from_slice(&[0; 100]);
    let err = parse_images(raw, Path::new("huge")).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected_bytes: u64::MAX,
                actual_bytes: 116,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn layouts_subfolder_flat_and_torchvision() {
    let root = TempDir::new("idx-layout");
    let data = synthetic(5);
    // Subfolder named like the dataset.
    write_set(&root.join("fashion-mnist"), &data, true);
    let splits = load_dir(DatasetKind::FashionMnist, root.path()).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(root.join("fashion-mnist")));
    // Files directly in the folder.
    let splits = load_dir(DatasetKind::FashionMnist, &root.join("fashion-mnist")).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(root.join("fashion-mnist")));
    // torchvision's MNIST/raw.
    write_set(&root.join("MNIST").join("raw"), &data, false);
    let splits = load_dir(DatasetKind::Mnist, root.path()).unwrap();
    assert_eq!(
        splits.origin,
        Origin::DataDir(root.join("MNIST").join("raw"))
    );
    assert_eq!(splits.train.labels(), &data.train_labels[..]);
}

#[test]
fn missing_files_are_named() {
    let dir = TempDir::new("idx-incomplete");
    let p = write_set(dir.path(), &synthetic(6), true);
    fs::remove_file(&p[3]).unwrap();
    let err = load_dir(DatasetKind::Mnist, dir.path()).unwrap_err();
    match &err {
        DataError::Incomplete {
            dir: d, missing, ..
        } => {
            assert_eq!(d, dir.path());
            assert_eq!(missing, &vec!["t10k-labels-idx1-ubyte(.gz)".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    assert_names(&err, dir.path());
}

#[test]
fn absent_folder_is_not_found_listing_the_search() {
    let dir = TempDir::new("idx-absent");
    let missing = dir.join("nothing-here");
    let err = load_dir(DatasetKind::Mnist, &missing).unwrap_err();
    match &err {
        DataError::NotFound { searched, .. } => {
            assert!(searched.contains(&missing.join("mnist")), "{searched:?}");
            assert!(searched.contains(&missing), "{searched:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_names(&err, &missing);
}
