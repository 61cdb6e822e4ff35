//! Batching: order, seeded per-epoch shuffles, partial batches.

use std::collections::HashSet;

use lightlayers_core::data::{Batches, DataError};

fn all(b: &Batches, epoch: u64) -> Vec<Vec<usize>> {
    b.epoch(epoch).collect()
}

#[test]
fn no_shuffle_keeps_order_and_the_last_partial_batch() {
    let b = Batches::new(10, 4).unwrap();
    assert_eq!(
        all(&b, 0),
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
    );
    assert_eq!(all(&b, 3), all(&b, 0));
    assert_eq!(b.num_batches(), 3);
    assert_eq!(b.epoch(0).len(), 3);
}

#[test]
fn drop_last_drops_only_a_partial_batch() {
    let b = Batches::new(10, 4).unwrap().drop_last(true);
    assert_eq!(all(&b, 0), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    assert_eq!(b.num_batches(), 2);
    let exact = Batches::new(8, 4).unwrap().drop_last(true);
    assert_eq!(exact.epoch(0).count(), 2);
    let tiny = Batches::new(3, 4).unwrap().drop_last(true);
    assert_eq!(tiny.epoch(0).count(), 0);
}

#[test]
fn shuffle_is_deterministic_per_seed_and_epoch() {
    let b = Batches::new(1000, 32).unwrap().shuffle(Some(7));
    assert_eq!(all(&b, 0), all(&b, 0));
    assert_eq!(
        all(&b, 5),
        Batches::new(1000, 32)
            .unwrap()
            .shuffle(Some(7))
            .epoch(5)
            .collect::<Vec<_>>()
    );
    assert_ne!(all(&b, 0), all(&b, 1), "epochs must differ");
    let other = Batches::new(1000, 32).unwrap().shuffle(Some(8));
    assert_ne!(all(&b, 0), all(&other, 0), "seeds must differ");
    assert_ne!(
        b.order(0),
        (0..1000).collect::<Vec<_>>(),
        "must actually shuffle"
    );
}

#[test]
fn every_index_exactly_once_per_epoch() {
    for seed in [None, Some(0), Some(123)] {
        let b = Batches::new(1001, 64).unwrap().shuffle(seed);
        for epoch in 0..3 {
            let batches = all(&b, epoch);
            assert_eq!(batches.len(), 16);
            assert!(batches[..15].iter().all(|x| x.len() == 64));
            assert_eq!(batches[15].len(), 1001 - 15 * 64);
            let seen: Vec<usize> = batches.into_iter().flatten().collect();
            assert_eq!(seen.len(), 1001);
            let set: HashSet<usize> = seen.iter().copied().collect();
            assert_eq!(set.len(), 1001);
            assert!(set.iter().all(|&i| i < 1001));
        }
    }
}

#[test]
fn zero_batch_size_is_an_error_and_empty_sets_have_no_batches() {
    assert!(matches!(
        Batches::new(10, 0),
        Err(DataError::InvalidArgument { .. })
    ));
    let b = Batches::new(0, 8).unwrap().shuffle(Some(1));
    assert!(b.is_empty());
    assert_eq!(b.epoch(0).count(), 0);
    assert_eq!(b.num_batches(), 0);
}
