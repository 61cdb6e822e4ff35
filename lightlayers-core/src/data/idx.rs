//! The IDX format of MNIST and Fashion-MNIST: reading (raw or gzip, validated byte for byte)
//! and writing (for tests, tools and the embedded subset).
//!
//! An IDX file is a big-endian header — magic `00 00 08 NDIM` (unsigned bytes, NDIM
//! dimensions), then NDIM `u32` sizes — followed by exactly the product of the sizes in bytes.
//! Images are `N×rows×cols` (magic `0x00000803`), labels `N` (magic `0x00000801`).

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::dataset::Dataset;
use super::error::DataError;
use super::files::{read_maybe_gz, write_atomic};
use super::kind::{DatasetKind, Split};

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

/// Builds one split of MNIST or Fashion-MNIST from its two IDX files (raw or gzip): checks
/// that the images are the dataset's 28×28, that both files hold the same number of
/// examples, and that every label is a valid class.
pub fn load_pair(
    kind: DatasetKind,
    split: Split,
    images_path: &Path,
    labels_path: &Path,
) -> Result<Dataset, DataError> {
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    to_dataset(kind, split, images, images_path, labels, labels_path)
}

/// Like [`load_pair`], on contents already decompressed and parsed.
pub(crate) fn to_dataset(
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
/// [`IDX_FILES`](super::remote::IDX_FILES) order, each with the path that names it in errors.
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

/// Encodes images as an IDX image file (uncompressed): `pixels` holds whole `rows×cols`
/// images. Errors if a dimension is zero or above `u32::MAX`, or if `pixels` does not hold a
/// whole number of images.
pub fn encode_images(rows: usize, cols: usize, pixels: &[u8]) -> Result<Vec<u8>, DataError> {
    let image_len = rows.checked_mul(cols).filter(|&n| n > 0);
    let count = image_len
        .filter(|&n| pixels.len().is_multiple_of(n))
        .map(|n| pixels.len() / n);
    let dims = count.and_then(|count| {
        [count, rows, cols]
            .iter()
            .map(|&d| u32::try_from(d).ok())
            .collect::<Option<Vec<u32>>>()
    });
    let Some(dims) = dims else {
        return Err(DataError::InvalidArgument {
            name: "IDX images",
            reason: format!(
                "{} bytes are not a whole number of {rows}×{cols} images (dimensions 1 to 2^32-1)",
                pixels.len()
            ),
        });
    };
    let mut out = Vec::with_capacity(IMAGES_HEADER + pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Ok(out)
}

/// Encodes labels as an IDX label file (uncompressed). Errors above `u32::MAX` labels.
pub fn encode_labels(labels: &[u8]) -> Result<Vec<u8>, DataError> {
    let count = u32::try_from(labels.len()).map_err(|_| DataError::InvalidArgument {
        name: "IDX labels",
        reason: format!("{} labels do not fit an IDX header", labels.len()),
    })?;
    let mut out = Vec::with_capacity(LABELS_HEADER + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(labels);
    Ok(out)
}

/// Compresses `bytes` with gzip at the highest level (no file name, zero timestamp, so that
/// the output depends on the input only).
pub fn gzip_best(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Writes an IDX image file atomically, gzip-compressed when `gzip` is true.
pub fn write_images(
    path: &Path,
    rows: usize,
    cols: usize,
    pixels: &[u8],
    gzip: bool,
) -> Result<(), DataError> {
    let raw = encode_images(rows, cols, pixels)?;
    write_atomic(path, &if gzip { gzip_best(&raw) } else { raw })
}

/// Writes an IDX label file atomically, gzip-compressed when `gzip` is true.
pub fn write_labels(path: &Path, labels: &[u8], gzip: bool) -> Result<(), DataError> {
    let raw = encode_labels(labels)?;
    write_atomic(path, &if gzip { gzip_best(&raw) } else { raw })
}
