//! CIFAR-10 and CIFAR-100 binary files: valid ones round-trip (channel-major pixels, fine and
//! coarse labels), broken ones give the specific error naming the file; archives unpack.

use crate::data_support as support;

use std::fs;
use std::path::{Path, PathBuf};

use lightlayers_core::data::cifar::{
    parse_cifar10, parse_cifar100, CIFAR100_RECORD_BYTES, CIFAR10_RECORD_BYTES,
};
#[cfg(feature = "download")]
use lightlayers_core::data::unpack_tar_gz;
use lightlayers_core::data::{
    load_dir, required_files, DataError, DatasetKind, Origin, Split, CIFAR100_COARSE_CLASSES,
};
#[cfg(feature = "download")]
use support::entries;
use support::{assert_names, bytes, gzip_best, TempDir};

/// One CIFAR-10 record per (label, seed).
fn cifar10_records(labels: &[u8], seed: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        out.push(l);
        out.extend(bytes(3072, seed + i as u32));
    }
    out
}

/// One CIFAR-100 record per (coarse, fine, seed).
fn cifar100_records(labels: &[(u8, u8)], seed: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &(c, f)) in labels.iter().enumerate() {
        out.extend([c, f]);
        out.extend(bytes(3072, seed + i as u32));
    }
    out
}

/// Writes a CIFAR-10 folder: five training batches of two records, a test batch of three.
fn write_cifar10(dir: &Path) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    required_files(DatasetKind::Cifar10)
        .iter()
        .enumerate()
        .map(|(b, name)| {
            let labels: Vec<u8> = if *name == "test_batch.bin" {
                vec![9, 0, 5]
            } else {
                vec![b as u8, (b as u8 + 5) % 10]
            };
            let path = dir.join(name);
            fs::write(&path, cifar10_records(&labels, 100 * b as u32)).unwrap();
            path
        })
        .collect()
}

/// Writes a CIFAR-100 folder: four training records, two test records.
fn write_cifar100(dir: &Path) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    let train = dir.join("train.bin");
    let test = dir.join("test.bin");
    fs::write(
        &train,
        cifar100_records(&[(0, 99), (19, 0), (4, 50), (11, 3)], 1),
    )
    .unwrap();
    fs::write(&test, cifar100_records(&[(7, 42), (2, 77)], 50)).unwrap();
    vec![train, test]
}

#[test]
fn cifar10_round_trip() {
    let root = TempDir::new("cifar10-ok");
    let dir = root.join("cifar-10-batches-bin");
    write_cifar10(&dir);
    let splits = load_dir(DatasetKind::Cifar10, root.path()).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(dir.clone()));
    let (train, test) = (&splits.train, &splits.test);
    assert_eq!((train.len(), test.len()), (10, 3));
    assert_eq!(train.shape(), [3, 32, 32]);
    assert_eq!(train.split(), Some(Split::Train));
    assert_eq!(train.class_names()[0], "airplane");
    assert!(train.coarse_labels().is_none());
    // Batches concatenated in order; pixels copied unchanged (already R, G, B planes).
    assert_eq!(train.labels(), &[0, 5, 1, 6, 2, 7, 3, 8, 4, 9]);
    assert_eq!(test.labels(), &[9, 0, 5]);
    assert_eq!(train.image(0), &bytes(3072, 0)[..]);
    assert_eq!(train.image(3), &bytes(3072, 101)[..]);
    assert_eq!(test.image(2), &bytes(3072, 502)[..]);
    // Flat layout works too.
    let splits = load_dir(DatasetKind::Cifar10, &dir).unwrap();
    assert_eq!(splits.origin, Origin::DataDir(dir));
}

#[test]
fn cifar100_round_trip_with_coarse_labels() {
    let root = TempDir::new("cifar100-ok");
    write_cifar100(&root.join("cifar-100-binary"));
    let splits = load_dir(DatasetKind::Cifar100, root.path()).unwrap();
    let (train, test) = (&splits.train, &splits.test);
    assert_eq!((train.len(), test.len()), (4, 2));
    assert_eq!(train.classes(), 100);
    assert_eq!(train.labels(), &[99, 0, 50, 3]);
    assert_eq!(train.coarse_labels(), Some(&[0u8, 19, 4, 11][..]));
    assert_eq!(train.coarse_class_names(), Some(CIFAR100_COARSE_CLASSES));
    assert_eq!(train.class_names()[99], "worm");
    assert_eq!(test.labels(), &[42, 77]);
    assert_eq!(test.image(1), &bytes(3072, 51)[..]);
    // Subsets keep the coarse labels aligned.
    let sub = train.subset([3, 0]).unwrap();
    assert_eq!(sub.labels(), &[3, 99]);
    assert_eq!(sub.coarse_labels(), Some(&[11u8, 0][..]));
}

#[test]
fn gzip_compressed_batches_are_read() {
    let dir = TempDir::new("cifar-gz");
    let files = write_cifar100(dir.path());
    let raw = fs::read(&files[0]).unwrap();
    fs::write(&files[0], gzip_best(&raw)).unwrap();
    let splits = load_dir(DatasetKind::Cifar100, dir.path()).unwrap();
    assert_eq!(splits.train.len(), 4);
}

#[test]
fn truncated_file_is_a_partial_record() {
    let dir = TempDir::new("cifar-truncated");
    let files = write_cifar10(dir.path());
    let raw = fs::read(&files[2]).unwrap();
    fs::write(&files[2], &raw[..raw.len() - 100]).unwrap();
    let err = load_dir(DatasetKind::Cifar10, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::PartialRecord { ref path, actual_bytes, record_bytes, .. }
            if path == &files[2] && actual_bytes == 2 * 3073 - 100 && record_bytes == 3073),
        "{err:?}"
    );
    assert_names(&err, &files[2]);

    let dir = TempDir::new("cifar100-truncated");
    let files = write_cifar100(dir.path());
    let raw = fs::read(&files[1]).unwrap();
    fs::write(&files[1], &raw[..raw.len() - 1]).unwrap();
    let err = load_dir(DatasetKind::Cifar100, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::PartialRecord { ref path, .. } if path == &files[1]),
        "{err:?}"
    );
    assert_names(&err, &files[1]);
}

#[test]
fn trailing_bytes_are_a_partial_record() {
    let dir = TempDir::new("cifar-trailing");
    let files = write_cifar10(dir.path());
    let mut raw = fs::read(&files[5]).unwrap();
    raw.extend_from_slice(b"junk");
    fs::write(&files[5], raw).unwrap();
    let err = load_dir(DatasetKind::Cifar10, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::PartialRecord { ref path, .. } if path == &files[5]),
        "{err:?}"
    );
    assert_names(&err, &files[5]);
}

#[test]
fn wrong_format_is_a_partial_record() {
    // CIFAR-100 records given as CIFAR-10: 3074-byte records do not tile 3073.
    let dir = TempDir::new("cifar-wrong-format");
    let files = write_cifar10(dir.path());
    fs::write(&files[0], cifar100_records(&[(1, 2), (3, 4)], 0)).unwrap();
    let err = load_dir(DatasetKind::Cifar10, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::PartialRecord { ref path, .. } if path == &files[0]),
        "{err:?}"
    );
    assert!(err.to_string().contains("CIFAR-10"), "{err}");
}

#[test]
fn empty_file() {
    for kind in [DatasetKind::Cifar10, DatasetKind::Cifar100] {
        let dir = TempDir::new("cifar-empty");
        let files = if kind == DatasetKind::Cifar10 {
            write_cifar10(dir.path())
        } else {
            write_cifar100(dir.path())
        };
        fs::write(&files[1], b"").unwrap();
        let err = load_dir(kind, dir.path()).unwrap_err();
        assert!(
            matches!(err, DataError::Empty { ref path } if path == &files[1]),
            "{err:?}"
        );
        assert_names(&err, &files[1]);
    }
}

#[test]
fn label_out_of_range() {
    let dir = TempDir::new("cifar10-label");
    let files = write_cifar10(dir.path());
    fs::write(&files[4], cifar10_records(&[3, 10], 0)).unwrap();
    let err = load_dir(DatasetKind::Cifar10, dir.path()).unwrap_err();
    assert!(
        matches!(err, DataError::LabelOutOfRange { ref path, index: 1, label: 10, classes: 10 }
            if path == &files[4]),
        "{err:?}"
    );
    assert_names(&err, &files[4]);

    let dir = TempDir::new("cifar100-fine");
    let files = write_cifar100(dir.path());
    fs::write(&files[0], cifar100_records(&[(0, 0), (0, 100)], 0)).unwrap();
    let err = load_dir(DatasetKind::Cifar100, dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 100,
                classes: 100,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &files[0]);

    let dir = TempDir::new("cifar100-coarse");
    let files = write_cifar100(dir.path());
    fs::write(&files[1], cifar100_records(&[(20, 0)], 0)).unwrap();
    let err = load_dir(DatasetKind::Cifar100, dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 0,
                label: 20,
                classes: 20,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &files[1]);
}

#[test]
fn parsers_work_on_bytes() {
    let r = parse_cifar10(&cifar10_records(&[1, 2, 3], 0), Path::new("x")).unwrap();
    assert_eq!(r.labels, vec![1, 2, 3]);
    assert_eq!(r.pixels.len(), 3 * 3072);
    assert!(r.coarse_labels.is_none());
    let r = parse_cifar100(&cifar100_records(&[(5, 60)], 0), Path::new("y")).unwrap();
    assert_eq!((r.labels, r.coarse_labels), (vec![60], Some(vec![5])));
    assert_eq!(CIFAR10_RECORD_BYTES, 3073);
    assert_eq!(CIFAR100_RECORD_BYTES, 3074);
}

#[test]
fn missing_batch_is_named() {
    let dir = TempDir::new("cifar-missing");
    let files = write_cifar10(dir.path());
    fs::remove_file(&files[3]).unwrap();
    let err = load_dir(DatasetKind::Cifar10, dir.path()).unwrap_err();
    match &err {
        DataError::Incomplete { missing, .. } => {
            assert_eq!(missing, &vec!["data_batch_4.bin".to_string()])
        }
        other => panic!("{other:?}"),
    }
}

/// A `.tar.gz` holding `files` (name, content).
#[cfg(feature = "download")]
fn tar_gz(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, &data[..]).unwrap();
    }
    gzip_best(&builder.into_inner().unwrap())
}

#[test]
#[cfg(feature = "download")]
fn archive_unpacks_into_place() {
    let src = TempDir::new("cifar-archive-src");
    let files = write_cifar100(src.path());
    let mut members: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            (format!("cifar-100-binary/{name}"), fs::read(p).unwrap())
        })
        .collect();
    members.push((
        "cifar-100-binary/fine_label_names.txt".into(),
        b"apple\n".to_vec(),
    ));
    let archive = src.join("cifar-100-binary.tar.gz");
    fs::write(&archive, tar_gz(&members)).unwrap();

    let cache = TempDir::new("cifar-archive-cache");
    let dir = unpack_tar_gz(
        &archive,
        cache.path(),
        "cifar-100-binary",
        &required_files(DatasetKind::Cifar100),
    )
    .unwrap();
    assert_eq!(dir, cache.join("cifar-100-binary"));
    assert_eq!(
        entries(cache.path()),
        vec!["cifar-100-binary"],
        "temp folder left behind"
    );
    let splits = load_dir(DatasetKind::Cifar100, cache.path()).unwrap();
    assert_eq!(splits.train.labels(), &[99, 0, 50, 3]);

    // An archive without the test file: error naming it, nothing new in the cache.
    let broken = src.join("broken.tar.gz");
    fs::write(&broken, tar_gz(&members[..1])).unwrap();
    let other = TempDir::new("cifar-archive-broken");
    let err = unpack_tar_gz(
        &broken,
        other.path(),
        "cifar-100-binary",
        &required_files(DatasetKind::Cifar100),
    )
    .unwrap_err();
    assert!(matches!(err, DataError::Archive { .. }), "{err:?}");
    assert_names(&err, &broken);
    assert!(err.to_string().contains("test.bin"), "{err}");
    assert!(
        entries(other.path()).is_empty(),
        "{:?}",
        entries(other.path())
    );

    // Not an archive at all.
    let junk = src.join("junk.tar.gz");
    fs::write(&junk, b"definitely not gzip").unwrap();
    let err = unpack_tar_gz(&junk, other.path(), "cifar-100-binary", &["train.bin"]).unwrap_err();
    assert!(matches!(err, DataError::Archive { .. }), "{err:?}");
    assert!(entries(other.path()).is_empty());
}
