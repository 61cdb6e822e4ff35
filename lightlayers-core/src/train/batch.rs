//! Turning a list of example indices into the tensors of one step.

use dfdx::prelude::*;

use super::error::TrainError;
use crate::data::Dataset;
use crate::{Backend, Element, Images, Network};

/// One batch on the device: images scaled to `[0, 1]`, labels one-hot, and the labels as
/// indices (for accuracy, on the host).
pub(crate) struct Batch<N: Network, E: Element, D: Backend<E>> {
    pub images: Images<N, E, D>,
    pub one_hot: Tensor<(usize, N::Classes), E, D>,
    pub labels: Vec<usize>,
}

/// Copies the examples at `indices` of `dataset` to `device` (pixels / 255 through
/// [`Dataset::fill_batch`]).
pub(crate) fn load_batch<N: Network, E: Element, D: Backend<E>>(
    device: &D,
    dataset: &Dataset,
    indices: &[usize],
) -> Result<Batch<N, E, D>, TrainError> {
    let n = indices.len();
    let mut pixels = vec![E::zero(); n * dataset.image_len()];
    let mut labels = vec![0usize; n];
    dataset.fill_batch(indices, &mut pixels, &mut labels)?;
    let mut one_hot = vec![E::zero(); n * N::CLASSES];
    for (row, &label) in one_hot.chunks_exact_mut(N::CLASSES).zip(&labels) {
        // `check_fits` made sure that every label is below N::CLASSES.
        if let Some(slot) = row.get_mut(label) {
            *slot = E::one();
        }
    }
    let images = device
        .try_tensor_from_vec(
            pixels,
            (
                n,
                Default::default(),
                Default::default(),
                Default::default(),
            ),
        )
        .map_err(TrainError::device)?;
    let one_hot = device
        .try_tensor_from_vec(one_hot, (n, Default::default()))
        .map_err(TrainError::device)?;
    Ok(Batch {
        images,
        one_hot,
        labels,
    })
}

/// Errors unless `dataset` has `N`'s image shape and at most its number of classes, and is
/// not empty.
pub(crate) fn check_fits<N: Network>(dataset: &Dataset) -> Result<(), TrainError> {
    let mismatch = |reason: String| TrainError::DatasetMismatch {
        dataset: dataset.name().to_string(),
        network: N::NAME,
        reason,
    };
    if dataset.shape() != N::INPUT_SHAPE {
        return Err(mismatch(format!(
            "images of shape {:?}, the network takes {:?}",
            dataset.shape(),
            N::INPUT_SHAPE
        )));
    }
    if dataset.classes() > N::CLASSES {
        return Err(mismatch(format!(
            "{} classes, the network outputs {}",
            dataset.classes(),
            N::CLASSES
        )));
    }
    if dataset.is_empty() {
        return Err(mismatch("the dataset is empty".to_string()));
    }
    Ok(())
}

/// Cross-entropy of `logits` against one-hot `targets`, averaged over the batch: dfdx's
/// `cross_entropy_with_logits_loss` (the same ops, so the same numbers), but returning device
/// errors instead of panicking.
pub(crate) fn cross_entropy<C: Dim, E: Element, D: Backend<E>, T: Tape<E, D>>(
    logits: Tensor<(usize, C), E, D, T>,
    targets: Tensor<(usize, C), E, D>,
) -> Result<Tensor<Rank0, E, D, T>, D::Err> {
    let classes = logits.shape().1.size();
    let inv = E::of(1.0 / classes as f64);
    logits
        .try_log_softmax::<Axis<1>>()?
        .try_mul(targets)?
        .try_mean()?
        .try_negate()?
        .try_div(inv)
}

/// Correct predictions (arg-max of each row of `scores`, first on ties, as NumPy) among
/// `labels`.
pub(crate) fn count_correct<E: Element>(scores: &[E], labels: &[usize]) -> usize {
    let classes = scores.len() / labels.len().max(1);
    if classes == 0 {
        return 0;
    }
    scores
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, &label)| {
            let mut best = 0;
            for (i, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = i;
                }
            }
            best == label
        })
        .count()
}

/// The value of a scalar tensor, on the host, as `f64` (NaN if the device returned nothing).
pub(crate) fn scalar<E: Element, D: Backend<E>, T>(t: &Tensor<Rank0, E, D, T>) -> f64 {
    t.as_vec().first().map_or(f64::NAN, |v| v.to_f64_lossless())
}
