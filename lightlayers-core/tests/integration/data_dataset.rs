//! The in-memory `Dataset`, `DatasetKind` and checksum parsing.

use std::str::FromStr;

use lightlayers_core::data::{
    DataError, Dataset, DatasetKind, CIFAR100_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES, MNIST_CLASSES,
};

const NAMES: &[&str] = &["a", "b", "c"];

fn tiny() -> Dataset {
    // Three 1×2×2 images: pixel values 0..12; labels 2, 0, 1.
    Dataset::new("tiny", [1, 2, 2], NAMES, (0..12).collect(), vec![2, 0, 1]).unwrap()
}

#[test]
fn accessors() {
    let d = tiny();
    assert_eq!(
        (d.len(), d.is_empty(), d.image_len(), d.classes()),
        (3, false, 4, 3)
    );
    assert_eq!(d.image(1), &[4, 5, 6, 7]);
    assert_eq!(d.label(2), 1);
    assert_eq!(d.get(0), Some((&[0u8, 1, 2, 3][..], 2)));
    assert_eq!(d.get(3), None);
    assert_eq!(d.kind(), None);
    assert!(format!("{d:?}").contains("len: 3"));
}

#[test]
fn fill_batch_scales_to_unit_range() {
    let d = Dataset::new(
        "edges",
        [1, 1, 3],
        NAMES,
        vec![0, 128, 255, 51, 0, 0],
        vec![0, 1],
    )
    .unwrap();
    let mut images = [0f32; 6];
    let mut labels = [0usize; 2];
    d.fill_batch(&[1, 0], &mut images, &mut labels).unwrap();
    assert_eq!(images, [0.2, 0.0, 0.0, 0.0, 128.0 / 255.0, 1.0]);
    assert_eq!(labels, [1, 0]);
    let mut images = [0f64; 3];
    let mut labels = [9usize; 1];
    d.fill_batch(&[0], &mut images, &mut labels).unwrap();
    assert_eq!(images, [0.0, 128.0 / 255.0, 1.0]);
    assert_eq!(labels, [0]);
}

#[test]
fn fill_batch_checks_its_arguments_without_writing() {
    let d = tiny();
    let mut images = [7f32; 8];
    let mut labels = [7usize; 2];
    let err = d.fill_batch(&[0, 3], &mut images, &mut labels).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::IndexOutOfRange {
                index: 3,
                len: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("tiny"), "{err}");
    assert_eq!((images, labels), ([7f32; 8], [7usize; 2]));
    let err = d
        .fill_batch(&[0], &mut images, &mut labels[..1])
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BufferSize {
                what: "image",
                expected: 4,
                actual: 8
            }
        ),
        "{err:?}"
    );
    let err = d
        .fill_batch(&[0, 1], &mut images, &mut labels[..1])
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BufferSize {
                what: "label",
                expected: 2,
                actual: 1
            }
        ),
        "{err:?}"
    );
}

#[test]
fn subsets_by_range_and_indices() {
    let d = tiny();
    let s = d.subset(1..3).unwrap();
    assert_eq!(
        (s.images(), s.labels()),
        (&[4, 5, 6, 7, 8, 9, 10, 11][..], &[0, 1][..])
    );
    let s = d.subset([2, 2, 0].iter().copied()).unwrap();
    assert_eq!(s.labels(), &[1, 1, 2]);
    assert_eq!(s.image(2), d.image(0));
    let err = d.subset(0..4).unwrap_err();
    assert!(
        matches!(err, DataError::IndexOutOfRange { index: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn new_refuses_inconsistent_parts() {
    let bad = [
        Dataset::new("x", [1, 2, 2], NAMES, vec![0; 11], vec![0, 0, 0]),
        Dataset::new("x", [0, 2, 2], NAMES, vec![], vec![]),
        Dataset::new("x", [1, 2, 2], NAMES, vec![0; 4], vec![3]),
        Dataset::new("x", [1, 2, 2], &[], vec![0; 4], vec![0]),
        Dataset::new("x", [usize::MAX, 2, 2], NAMES, vec![], vec![]),
    ];
    for r in bad {
        assert!(matches!(r, Err(DataError::InvalidArgument { .. })), "{r:?}");
    }
}

#[test]
fn kinds_parse_print_and_describe() {
    for kind in DatasetKind::ALL {
        assert_eq!(DatasetKind::from_str(kind.key()).unwrap(), kind);
        assert_eq!(kind.name().parse::<DatasetKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
        assert_eq!(kind.classes(), kind.class_names().len());
    }
    for s in [
        "MNIST",
        "fashion_mnist",
        "FashionMNIST",
        "fmnist",
        "CIFAR-10",
        "cifar_100",
    ] {
        assert!(s.parse::<DatasetKind>().is_ok(), "{s}");
    }
    let err = "imagenet".parse::<DatasetKind>().unwrap_err();
    assert!(matches!(err, DataError::UnknownDataset { .. }));
    assert!(err.to_string().contains("imagenet"));
    assert_eq!(DatasetKind::Cifar10.shape(), [3, 32, 32]);
    assert_eq!(DatasetKind::FashionMnist.shape(), [1, 28, 28]);
    assert_eq!(DatasetKind::Cifar100.folder(), "cifar-100-binary");
    assert_eq!(
        (
            MNIST_CLASSES.len(),
            FASHION_MNIST_CLASSES.len(),
            CIFAR10_CLASSES.len()
        ),
        (10, 10, 10)
    );
    assert_eq!(
        (CIFAR100_CLASSES.len(), CIFAR100_COARSE_CLASSES.len()),
        (100, 20)
    );
    let unique: std::collections::HashSet<_> = CIFAR100_CLASSES.iter().collect();
    assert_eq!(unique.len(), 100);
    assert_eq!(FASHION_MNIST_CLASSES[9], "Ankle boot");
}
