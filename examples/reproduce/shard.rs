//! `--shard i/n`: a deterministic share of a sweep's runs, so that n machines (a Slurm job
//! array, a Kubernetes Indexed Job) run a sweep with nothing but the binary and its arguments.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0-based, as `$SLURM_ARRAY_TASK_ID` with `--array=0-(n-1)` and
/// Kubernetes' `$JOB_COMPLETION_INDEX` count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, in `0..count`.
    pub index: usize,
    /// How many shards share the sweep.
    pub count: usize,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// The items of `plan` this shard runs: every `count`-th from position `index`. Round
    /// robin over the table order spreads each row's seeds, and the cheap and costly families,
    /// over the shards; it depends only on the plan, which every shard computes alike from
    /// the same arguments.
    pub fn select<T: Copy>(self, plan: &[T]) -> Vec<T> {
        plan.iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, &run)| run)
            .collect()
    }

    /// Whether this is the whole sweep.
    pub fn is_all(self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// "i/n" with 0 ≤ i < n.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("expected i/n with 0 ≤ i < n (shards count from 0), got \"{s}\"");
        let (i, n) = s.trim().split_once('/').ok_or_else(usage)?;
        let index: usize = i.trim().parse().map_err(|_| usage())?;
        let count: usize = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_run_exactly_once() {
        for len in [0usize, 1, 7, 21, 24] {
            let plan: Vec<usize> = (0..len).collect();
            for count in 1..=9 {
                let mut seen = vec![0usize; len];
                for index in 0..count {
                    for run in (Shard { index, count }).select(&plan) {
                        seen[run] += 1;
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "len {len}, {count} shards");
            }
        }
    }

    #[test]
    fn shares_differ_by_at_most_one_run() {
        let plan: Vec<usize> = (0..22).collect();
        let sizes: Vec<usize> = (0..4)
            .map(|index| Shard { index, count: 4 }.select(&plan).len())
            .collect();
        assert_eq!(sizes, [6, 6, 5, 5]);
    }

    #[test]
    fn parses_i_of_n() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("0/1".parse(), Ok(Shard::ALL));
        for bad in ["3/3", "1/0", "1", "a/2", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
