//! One split of a dataset, held in memory as bytes, and the copy into a model's batch.

use std::fmt;

use num_traits::Float;

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
pub(crate) fn shape_len(shape: [usize; 3]) -> Option<usize> {
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
