//! The IDX format of MNIST and Fashion-MNIST: reading (raw or gzip, validated byte for byte),
//! and the digests of the official files, which recognise them wherever they come from.
//!
//! An IDX file is a big-endian header — magic `00 00 08 NDIM` (unsigned bytes, NDIM
//! dimensions), then NDIM `u32` sizes — followed by exactly the product of the sizes in bytes.
//! Images are `N×rows×cols` (magic `0x00000803`), labels `N` (magic `0x00000801`).

use std::path::{Path, PathBuf};

use super::dataset::Dataset;
use super::error::DataError;
use super::kind::{DatasetKind, Split};
use super::source::{hex, read_maybe_gz};

/// The four IDX files of MNIST and Fashion-MNIST, decompressed, in the order
/// train images, train labels, test images, test labels.
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// SHA-256 of the decompressed official MNIST files, in [`IDX_FILES`] order.
const MNIST_PAYLOADS: [[u8; 32]; 4] = [
    hex("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    hex("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    hex("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    hex("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// SHA-256 of the decompressed official Fashion-MNIST files, in [`IDX_FILES`] order.
const FASHION_PAYLOADS: [[u8; 32]; 4] = [
    hex("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    hex("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    hex("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    hex("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
];

/// The SHA-256 of the official decompressed IDX files of MNIST or Fashion-MNIST, in
/// [`IDX_FILES`] order; none for CIFAR.
pub(crate) fn official_payloads(kind: DatasetKind) -> &'static [[u8; 32]] {
    match kind {
        DatasetKind::Mnist => &MNIST_PAYLOADS,
        DatasetKind::FashionMnist => &FASHION_PAYLOADS,
        DatasetKind::Cifar10 | DatasetKind::Cifar100 => &[],
    }
}

/// Which official IDX file has this decompressed SHA-256, if any: the dataset and the
/// position in [`IDX_FILES`].
pub(crate) fn identify_payload(sha256: &[u8; 32]) -> Option<(DatasetKind, usize)> {
    [DatasetKind::Mnist, DatasetKind::FashionMnist]
        .into_iter()
        .find_map(|kind| {
            let i = official_payloads(kind).iter().position(|d| d == sha256)?;
            Some((kind, i))
        })
}

/// Magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Header bytes before the pixels: magic + count + rows + cols.
const IMAGES_HEADER: usize = 16;
/// Header bytes before the labels: magic + count.
const LABELS_HEADER: usize = 8;

/// The content of an IDX image file: `count` images of `rows×cols` bytes, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of each image.
    pub rows: usize,
    /// Width of each image.
    pub cols: usize,
    /// `count*rows*cols` bytes, image after image.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for IdxImages {
    /// The dimensions only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdxImages({}×{}×{})", self.count, self.rows, self.cols)
    }
}

/// Reads and validates an IDX image file, raw or gzip (detected by content).
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    parse_images(read_maybe_gz(path)?, path)
}

/// Reads and validates an IDX label file, raw or gzip (detected by content).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    parse_labels(read_maybe_gz(path)?, path)
}

/// Parses decompressed IDX image bytes (any `rows×cols`, at least 1×1). `path` names the
/// file in errors: empty, bad magic, truncated header or payload, trailing bytes.
pub fn parse_images(mut bytes: Vec<u8>, path: &Path) -> Result<IdxImages, DataError> {
    let dims = parse_header(&bytes, path, IMAGES_MAGIC, "IDX image file")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::BadShape {
            path: path.to_path_buf(),
            found: format!("{rows}×{cols}"),
            expected: "at least 1×1".to_string(),
        });
    }
    bytes.drain(..IMAGES_HEADER);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes,
    })
}

/// Parses decompressed IDX label bytes. `path` names the file in errors.
pub fn parse_labels(mut bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    parse_header(&bytes, path, LABELS_MAGIC, "IDX label file")?;
    bytes.drain(..LABELS_HEADER);
    Ok(bytes)
}

/// Checks magic and exact length; returns the dimensions.
fn parse_header(
    bytes: &[u8],
    path: &Path,
    magic: u32,
    what: &'static str,
) -> Result<Vec<usize>, DataError> {
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    let truncated = |expected: u128| DataError::Truncated {
        path: path.to_path_buf(),
        expected_bytes: u64::try_from(expected).unwrap_or(u64::MAX),
        actual_bytes: bytes.len() as u64,
    };
    if bytes.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let Some(found) = read_u32(bytes, 0) else {
        return Err(truncated(header as u128));
    };
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
            what,
        });
    }
    let dims = (0..ndim)
        .map(|d| read_u32(bytes, 4 + 4 * d).map(|v| v as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| truncated(header as u128))?;
    // In u128 so that no header, however large its claims, can overflow.
    let expected = dims
        .iter()
        .fold(1u128, |acc, &d| acc * d as u128)
        .saturating_add(header as u128);
    let actual = bytes.len() as u128;
    if actual < expected {
        return Err(truncated(expected));
    }
    if actual > expected {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected_bytes: u64::try_from(expected).unwrap_or(u64::MAX),
            actual_bytes: bytes.len() as u64,
        });
    }
    Ok(dims)
}

/// The big-endian `u32` at `at`, if the bytes reach that far.
fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// One split of MNIST or Fashion-MNIST from its parsed image and label files: checks that
/// the images are the dataset's 28×28, that both files hold the same number of examples, and
/// that every label is a valid class.
fn to_dataset(
    kind: DatasetKind,
    split: Split,
    images: IdxImages,
    images_path: &Path,
    labels: Vec<u8>,
    labels_path: &Path,
) -> Result<Dataset, DataError> {
    let [c, h, w] = kind.shape();
    if c != 1 || images.rows != h || images.cols != w {
        return Err(DataError::BadShape {
            path: images_path.to_path_buf(),
            found: format!("{}×{}", images.rows, images.cols),
            expected: format!("{h}×{w} for {kind}"),
        });
    }
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.count,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    check_labels(&labels, kind.classes(), labels_path)?;
    Dataset::of_kind(kind, split, images.pixels, labels)
}

/// Builds both splits from the four decompressed IDX files, in
/// [`IDX_FILES`] order, each with the path that names it in errors.
pub(crate) fn idx_splits(
    kind: DatasetKind,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> Result<(Dataset, Dataset), DataError> {
    let mut files = files.into_iter();
    let mut split = |split: Split| -> Result<Dataset, DataError> {
        let (Some((images_path, images)), Some((labels_path, labels))) =
            (files.next(), files.next())
        else {
            return Err(DataError::InvalidArgument {
                name: "IDX files",
                reason: format!("{kind} needs four files"),
            });
        };
        let images = parse_images(images, &images_path)?;
        let labels = parse_labels(labels, &labels_path)?;
        to_dataset(kind, split, images, &images_path, labels, &labels_path)
    };
    let train = split(Split::Train)?;
    let test = split(Split::Test)?;
    Ok((train, test))
}

/// Errors on the first label that is not below `classes`.
pub(crate) fn check_labels(labels: &[u8], classes: usize, path: &Path) -> Result<(), DataError> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: u32::from(labels[index]),
            classes,
        }),
        None => Ok(()),
    }
}
