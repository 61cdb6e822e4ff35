//! Splitting an epoch into batches of example indices, in order or shuffled reproducibly.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::error::DataError;

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
