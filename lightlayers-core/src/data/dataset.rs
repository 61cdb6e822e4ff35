//! Data in memory: one split of a dataset as bytes, both splits with their origin, and the
//! cutting of an epoch into batches copied into a model's buffers.

use std::fmt;
use std::path::PathBuf;

use num_traits::Float;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::error::DataError;
use super::kind::{DatasetKind, Split};

/// One split of a dataset in memory: `len()` images of `shape()` = `[C, H, W]` bytes each,
/// channel-major (NCHW as a whole, the layout the models take), and one label per image.
///
/// Pixels stay `u8` (a quarter of the memory of `f32`) until [`Dataset::fill_batch`] scales
/// the few that a batch needs. The fields are private so that every `Dataset` upholds its
/// invariants: `images.len() == len * C*H*W`, every label `< classes()`.
#[derive(Clone)]
pub struct Dataset {
    name: String,
    kind: Option<DatasetKind>,
    split: Option<Split>,
    shape: [usize; 3],
    class_names: &'static [&'static str],
    images: Vec<u8>,
    labels: Vec<u8>,
    coarse: Option<Coarse>,
}

/// CIFAR-100's second labelling (20 superclasses), kept beside the fine labels.
#[derive(Clone)]
struct Coarse {
    labels: Vec<u8>,
    class_names: &'static [&'static str],
}

impl Dataset {
    /// Builds a dataset from raw parts, checking that they fit together.
    ///
    /// `images` holds the examples one after another, each `C*H*W` bytes in channel-major
    /// order; `labels[i]` indexes into `class_names`. Errors (never panics) with
    /// [`DataError::InvalidArgument`] if the shape has a zero or overflows, if the byte count
    /// is not `labels.len() * C*H*W`, if there are no classes or more than 256, or if a label
    /// is out of range.
    pub fn new(
        name: impl Into<String>,
        shape: [usize; 3],
        class_names: &'static [&'static str],
        images: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        let invalid = |reason: String| DataError::InvalidArgument {
            name: "dataset",
            reason: format!("{name}: {reason}"),
        };
        let image_len = shape_len(shape)
            .ok_or_else(|| invalid(format!("shape {shape:?} has a zero or overflows")))?;
        if class_names.is_empty() || class_names.len() > 256 {
            return Err(invalid(format!(
                "{} classes; u8 labels need 1 to 256",
                class_names.len()
            )));
        }
        if Some(images.len()) != labels.len().checked_mul(image_len) {
            return Err(invalid(format!(
                "{} image bytes for {} labels of {image_len} bytes each",
                images.len(),
                labels.len()
            )));
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= class_names.len())
        {
            return Err(invalid(format!(
                "label {label} of example {index} is not below {} classes",
                class_names.len()
            )));
        }
        Ok(Dataset {
            name,
            kind: None,
            split: None,
            shape,
            class_names,
            images,
            labels,
            coarse: None,
        })
    }

    /// Builds one split of a known dataset, named e.g. "MNIST train".
    pub(crate) fn of_kind(
        kind: DatasetKind,
        split: Split,
        images: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let mut set = Dataset::new(
            format!("{} {}", kind.name(), split.name()),
            kind.shape(),
            kind.class_names(),
            images,
            labels,
        )?;
        set.kind = Some(kind);
        set.split = Some(split);
        Ok(set)
    }

    /// Attaches a second, coarser labelling (CIFAR-100's superclasses).
    pub(crate) fn with_coarse_labels(
        mut self,
        labels: Vec<u8>,
        class_names: &'static [&'static str],
    ) -> Result<Self, DataError> {
        if labels.len() != self.labels.len()
            || labels.iter().any(|&l| usize::from(l) >= class_names.len())
        {
            return Err(DataError::InvalidArgument {
                name: "coarse labels",
                reason: format!(
                    "{}: need {} labels below {}",
                    self.name,
                    self.labels.len(),
                    class_names.len()
                ),
            });
        }
        self.coarse = Some(Coarse {
            labels,
            class_names,
        });
        Ok(self)
    }

    /// A name for messages, e.g. "MNIST train".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Which dataset this is, when it was loaded as one of the known four.
    pub fn kind(&self) -> Option<DatasetKind> {
        self.kind
    }

    /// Which split this is, when it was loaded as one of the known four.
    pub fn split(&self) -> Option<Split> {
        self.split
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image shape `[C, H, W]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Bytes (and, in a batch, values) per image: `C*H*W`.
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of classes; every label is below it.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Class names in label order.
    pub fn class_names(&self) -> &'static [&'static str] {
        self.class_names
    }

    /// All pixels, image after image, each channel-major.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// All labels, in example order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// CIFAR-100's coarse (superclass) labels, when this is CIFAR-100; `None` otherwise.
    pub fn coarse_labels(&self) -> Option<&[u8]> {
        self.coarse.as_ref().map(|c| c.labels.as_slice())
    }

    /// Names of the coarse classes, when there are coarse labels.
    pub fn coarse_class_names(&self) -> Option<&'static [&'static str]> {
        self.coarse.as_ref().map(|c| c.class_names)
    }

    /// The pixels of example `i` (`C*H*W` bytes, channel-major).
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing; [`Dataset::get`] is the checked form.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// The label of example `i`.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing; [`Dataset::get`] is the checked form.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Example `i` as (pixels, label), or `None` past the end.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        let label = *self.labels.get(i)?;
        let n = self.image_len();
        Some((&self.images[i * n..(i + 1) * n], label))
    }

    /// A new dataset with the examples at `indices`, in that order (repeats allowed): a range
    /// such as `0..1000` for a quick run, or `idx.iter().copied()` for a custom split.
    /// Errors with [`DataError::IndexOutOfRange`] on an index past the end.
    pub fn subset<I: IntoIterator<Item = usize>>(&self, indices: I) -> Result<Dataset, DataError> {
        let n = self.image_len();
        let indices = indices.into_iter();
        let mut images = Vec::with_capacity(indices.size_hint().0.saturating_mul(n));
        let mut labels = Vec::with_capacity(indices.size_hint().0);
        let mut coarse = self.coarse.as_ref().map(|_| Vec::new());
        for i in indices {
            let (image, label) = self.get(i).ok_or_else(|| self.out_of_range(i))?;
            images.extend_from_slice(image);
            labels.push(label);
            if let (Some(out), Some(c)) = (coarse.as_mut(), self.coarse.as_ref()) {
                out.push(c.labels[i]);
            }
        }
        Ok(Dataset {
            name: self.name.clone(),
            kind: self.kind,
            split: self.split,
            shape: self.shape,
            class_names: self.class_names,
            images,
            labels,
            coarse: self.coarse.as_ref().zip(coarse).map(|(c, labels)| Coarse {
                labels,
                class_names: c.class_names,
            }),
        })
    }

    /// Copies the examples at `indices` into a model's batch buffers: `images` receives
    /// `indices.len() * C*H*W` values in NCHW order, each pixel divided by 255 (to `[0, 1]`, as
    /// the paper does); `labels` receives the class indices.
    ///
    /// Both buffers must have exactly the batch's length; they are reused across batches so
    /// that an epoch allocates nothing. Errors (without writing) on a wrong buffer length
    /// ([`DataError::BufferSize`]) or an index past the end ([`DataError::IndexOutOfRange`]).
    pub fn fill_batch<E: Float>(
        &self,
        indices: &[usize],
        images: &mut [E],
        labels: &mut [usize],
    ) -> Result<(), DataError> {
        let n = self.image_len();
        let expected = indices.len().saturating_mul(n);
        if images.len() != expected {
            return Err(DataError::BufferSize {
                what: "image",
                expected,
                actual: images.len(),
            });
        }
        if labels.len() != indices.len() {
            return Err(DataError::BufferSize {
                what: "label",
                expected: indices.len(),
                actual: labels.len(),
            });
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(self.out_of_range(bad));
        }
        let scale = byte_scale::<E>();
        for ((&i, out), label) in indices
            .iter()
            .zip(images.chunks_exact_mut(n.max(1)))
            .zip(labels.iter_mut())
        {
            for (o, &p) in out.iter_mut().zip(self.image(i)) {
                *o = scale[usize::from(p)];
            }
            *label = usize::from(self.labels[i]);
        }
        Ok(())
    }

    fn out_of_range(&self, index: usize) -> DataError {
        DataError::IndexOutOfRange {
            dataset: self.name.clone(),
            index,
            len: self.len(),
        }
    }
}

/// `C*H*W`, or `None` when a dimension is zero or the product overflows.
fn shape_len(shape: [usize; 3]) -> Option<usize> {
    if shape.contains(&0) {
        return None;
    }
    shape[0].checked_mul(shape[1])?.checked_mul(shape[2])
}

/// `v / 255` in `E` for every byte `v`, computed exactly (integers below 256 are exact in
/// every float type) without a fallible numeric cast.
fn byte_scale<E: Float>() -> [E; 256] {
    let mut table = [E::zero(); 256];
    let mut value = E::zero();
    for slot in table.iter_mut() {
        *slot = value;
        value = value + E::one();
    }
    // `value` is now 256; one less is 255.
    let max = value - E::one();
    for slot in table.iter_mut() {
        *slot = *slot / max;
    }
    table
}

impl fmt::Debug for Dataset {
    /// A summary: printing millions of pixels would help nobody.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("len", &self.len())
            .field("shape", &self.shape)
            .field("classes", &self.classes())
            .field("coarse_labels", &self.coarse.is_some())
            .finish()
    }
}

/// Where a dataset was loaded from, so that a run can say so in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The data folder the user named; the folder that actually held the files.
    DataDir(PathBuf),
    /// Files downloaded by an earlier run, found in the cache folder.
    Cache(PathBuf),
    /// Downloaded by this run into the cache folder.
    Downloaded(PathBuf),
    /// The subset compiled into the library (MNIST and Fashion-MNIST only).
    Embedded,
}

impl fmt::Display for Origin {
    /// "data folder /x", "cache /x", "downloaded to /x" or "the embedded subset".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::DataDir(p) => write!(f, "data folder {}", p.display()),
            Origin::Cache(p) => write!(f, "cache {}", p.display()),
            Origin::Downloaded(p) => write!(f, "downloaded to {}", p.display()),
            Origin::Embedded => f.write_str("the embedded subset"),
        }
    }
}

/// The training and test splits of one dataset, and their [`Origin`].
#[derive(Clone, Debug)]
pub struct Splits {
    /// The split to train on.
    pub train: Dataset,
    /// The split to report accuracy on.
    pub test: Dataset,
    /// Where both came from.
    pub origin: Origin,
}

impl Splits {
    /// The one-line notice a trainer prints before it starts, e.g.
    /// "MNIST: 60000 train / 10000 test images from data folder /data/mnist". For the
    /// embedded subset it also says that it is one, and how to get the full set.
    pub fn notice(&self) -> String {
        let name = self
            .train
            .kind()
            .map_or_else(|| self.train.name().to_string(), |k| k.name().to_string());
        let mut line = format!(
            "{name}: {} train / {} test images from {}",
            self.train.len(),
            self.test.len(),
            self.origin
        );
        if self.origin == Origin::Embedded {
            line.push_str(if cfg!(feature = "download") {
                " (part of the dataset only: pass a data folder or allow the download for all of it)"
            } else {
                " (part of the dataset only: pass a data folder for all of it)"
            });
        }
        line
    }
}

/// How to cut `len` examples into batches: size, optional seeded shuffle, and whether to drop
/// a last partial batch. Each epoch's order depends only on (seed, epoch), so a run can be
/// repeated, or resumed at any epoch, exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batches {
    len: usize,
    batch_size: usize,
    shuffle: Option<u64>,
    drop_last: bool,
}

impl Batches {
    /// Batches of `batch_size` over `len` examples, in order, keeping the last partial batch.
    /// Errors with [`DataError::InvalidArgument`] when `batch_size` is zero.
    pub fn new(len: usize, batch_size: usize) -> Result<Self, DataError> {
        if batch_size == 0 {
            return Err(DataError::InvalidArgument {
                name: "batch size",
                reason: "must be at least 1".to_string(),
            });
        }
        Ok(Batches {
            len,
            batch_size,
            shuffle: None,
            drop_last: false,
        })
    }

    /// Shuffles every epoch with a generator seeded from `(seed, epoch)`; `None` keeps the
    /// examples in order.
    #[must_use]
    pub fn shuffle(mut self, seed: Option<u64>) -> Self {
        self.shuffle = seed;
        self
    }

    /// Drops the last batch when it would be smaller than the batch size (for models or
    /// statistics that want equal batches).
    #[must_use]
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no examples (and so no batches).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        if self.drop_last {
            self.len / self.batch_size
        } else {
            self.len.div_ceil(self.batch_size)
        }
    }

    /// The example order of `epoch` (counted from 0): `0..len`, shuffled when a seed is set.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if let Some(seed) = self.shuffle {
            order.shuffle(&mut epoch_rng(seed, epoch));
        }
        order
    }

    /// The batches of `epoch`: every example exactly once (except a dropped partial batch).
    pub fn epoch(&self, epoch: u64) -> EpochBatches {
        let mut order = self.order(epoch);
        order.truncate(
            self.num_batches()
                .saturating_mul(self.batch_size)
                .min(self.len),
        );
        EpochBatches {
            order,
            batch_size: self.batch_size,
            next: 0,
        }
    }
}

/// The generator of one epoch: the seed's and the epoch's bytes as `ChaCha` key, so that
/// neighbouring seeds or epochs give unrelated orders.
fn epoch_rng(seed: u64, epoch: u64) -> StdRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(b"llbatch\0");
    StdRng::from_seed(key)
}

/// The batches of one epoch, as vectors of example indices (see [`Batches::epoch`]).
#[derive(Clone, Debug)]
pub struct EpochBatches {
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
}

impl Iterator for EpochBatches {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        let rest = self.order.get(self.next..).filter(|r| !r.is_empty())?;
        let batch = rest[..self.batch_size.min(rest.len())].to_vec();
        self.next += batch.len();
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.order.len() - self.next.min(self.order.len())).div_ceil(self.batch_size);
        (n, Some(n))
    }
}

impl ExactSizeIterator for EpochBatches {}
impl std::iter::FusedIterator for EpochBatches {}
