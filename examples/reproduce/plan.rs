//! What a sweep trains: the rows of a dataset's paper table (optionally narrowed to some
//! families and ranks), each once per seed.

use std::fmt;

use lightlayers::data::DatasetKind;
use serde::{Deserialize, Serialize};

use crate::common::Variant;
use crate::paper;

/// A model family: which convolution the paper's network is built from. Ordered as the
/// paper's tables list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Conv2D layers, Dense head.
    Conv,
    /// SeparableConv2D layers, Dense head.
    Separable,
    /// LightConv2D layers of rank k, LightDense head.
    Light,
}

impl Family {
    /// The name the paper's tables use.
    pub fn paper_name(self) -> &'static str {
        match self {
            Family::Conv => "Conv2D",
            Family::Separable => "SeparableConv2D",
            Family::Light => "LightLayers",
        }
    }
}

impl From<Variant> for Family {
    fn from(v: Variant) -> Self {
        match v {
            Variant::Conv => Family::Conv,
            Variant::Separable => Family::Separable,
            Variant::Light => Family::Light,
        }
    }
}

/// One model of a table: a dataset, a family and (LightLayers only) a rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Row {
    /// The dataset, in [`DatasetKind::ALL`] order.
    pub dataset: DatasetOrder,
    /// The family.
    pub family: Family,
    /// The rank (LightLayers rows only).
    pub k: Option<u8>,
}

/// A [`DatasetKind`] that sorts in the paper's order (MNIST, Fashion-MNIST, CIFAR-10,
/// CIFAR-100), so rows sort as the tables list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatasetOrder(pub DatasetKind);

impl DatasetOrder {
    fn index(self) -> usize {
        DatasetKind::ALL
            .iter()
            .position(|d| *d == self.0)
            .unwrap_or(usize::MAX)
    }
}

impl PartialOrd for DatasetOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DatasetOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.index().cmp(&other.index())
    }
}

impl Row {
    /// A row of `dataset`'s table.
    pub fn new(dataset: DatasetKind, family: Family, k: Option<u8>) -> Self {
        Row {
            dataset: DatasetOrder(dataset),
            family,
            k,
        }
    }

    /// The dataset.
    pub fn dataset(&self) -> DatasetKind {
        self.dataset.0
    }

    /// "Conv2D", "SeparableConv2D" or "LightLayers k=3", as the paper's tables name rows.
    pub fn label(&self) -> String {
        match self.k {
            Some(k) => format!("{} k={k}", self.family.paper_name()),
            None => self.family.paper_name().to_string(),
        }
    }

    /// A file-name-safe identifier: "conv", "separable", "light-k3".
    pub fn slug(&self) -> String {
        match self.k {
            Some(k) => format!("light-k{k}"),
            None => match self.family {
                Family::Conv => "conv".to_string(),
                Family::Separable => "separable".to_string(),
                Family::Light => "light".to_string(),
            },
        }
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.dataset().name(), self.label())
    }
}

/// One training run: a row and a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Run {
    /// The model.
    pub row: Row,
    /// Seed of the initial weights and the shuffle order.
    pub seed: u64,
}

impl Run {
    /// A folder name unique to the run within a work folder: "mnist-light-k3-seed1".
    pub fn slug(&self) -> String {
        format!(
            "{}-{}-seed{}",
            self.row.dataset().key(),
            self.row.slug(),
            self.seed
        )
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, seed {}", self.row, self.seed)
    }
}

/// Which of a table's rows to train.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Families to keep; empty keeps all.
    pub families: Vec<Family>,
    /// LightLayers ranks to keep; empty keeps the table's.
    pub ks: Vec<u8>,
}

/// Why a selection names no row of the table.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// A `--k` the table does not have.
    #[error("{dataset}'s table has LightLayers rows for k = {available}, not k = {k}")]
    UnknownK {
        /// The dataset.
        dataset: &'static str,
        /// The rank asked for.
        k: u8,
        /// The ranks the table has.
        available: String,
    },
    /// Nothing left to train.
    #[error("the selection leaves no row of the {dataset} table to train")]
    Empty {
        /// The dataset.
        dataset: &'static str,
    },
    /// No seed given.
    #[error("give at least one seed")]
    NoSeeds,
}

/// The rows of `dataset`'s paper table that `selection` keeps, in the table's order.
pub fn rows(dataset: DatasetKind, selection: &Selection) -> Result<Vec<Row>, PlanError> {
    let table = paper::table(dataset);
    let table_ks: Vec<u8> = table.iter().filter_map(|r| r.k).collect();
    for &k in &selection.ks {
        if !table_ks.contains(&k) {
            return Err(PlanError::UnknownK {
                dataset: dataset.name(),
                k,
                available: table_ks
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let rows: Vec<Row> = table
        .iter()
        .filter(|r| selection.families.is_empty() || selection.families.contains(&r.family))
        .filter(|r| match r.k {
            Some(k) => selection.ks.is_empty() || selection.ks.contains(&k),
            None => true,
        })
        .map(|r| Row::new(dataset, r.family, r.k))
        .collect();
    if rows.is_empty() {
        return Err(PlanError::Empty {
            dataset: dataset.name(),
        });
    }
    Ok(rows)
}

/// Every (row, seed) run, row-major in table order, seeds in the order given.
pub fn runs(rows: &[Row], seeds: &[u64]) -> Result<Vec<Run>, PlanError> {
    if seeds.is_empty() {
        return Err(PlanError::NoSeeds);
    }
    Ok(rows
        .iter()
        .flat_map(|&row| seeds.iter().map(move |&seed| Run { row, seed }))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_papers_rows() {
        let all = Selection::default();
        let count = |d| rows(d, &all).map(|r| r.len());
        assert_eq!(count(DatasetKind::Mnist), Ok(6));
        assert_eq!(count(DatasetKind::FashionMnist), Ok(8));
        assert_eq!(count(DatasetKind::Cifar10), Ok(7));
        assert_eq!(count(DatasetKind::Cifar100), Ok(7));
    }

    #[test]
    fn selection_narrows_families_and_ranks() {
        let selection = Selection {
            families: vec![Family::Conv, Family::Light],
            ks: vec![1, 3],
        };
        let labels: Vec<String> = rows(DatasetKind::Mnist, &selection)
            .unwrap()
            .iter()
            .map(Row::label)
            .collect();
        assert_eq!(labels, ["Conv2D", "LightLayers k=1", "LightLayers k=3"]);
    }

    #[test]
    fn a_rank_outside_the_table_is_an_error() {
        let selection = Selection {
            families: vec![],
            ks: vec![6],
        };
        let err = rows(DatasetKind::Mnist, &selection).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MNIST's table has LightLayers rows for k = 1, 2, 3, 4, not k = 6"
        );
        assert_eq!(
            rows(
                DatasetKind::Cifar10,
                &Selection {
                    families: vec![Family::Separable],
                    ks: vec![]
                }
            )
            .map(|r| r.len()),
            Ok(1)
        );
    }

    #[test]
    fn runs_cross_rows_with_seeds() {
        let rows = rows(DatasetKind::Cifar100, &Selection::default()).unwrap();
        let runs = runs(&rows, &[0, 1, 2]).unwrap();
        assert_eq!(runs.len(), 21);
        assert_eq!(runs[4].slug(), "cifar100-separable-seed1");
        assert_eq!(runs[20].slug(), "cifar100-light-k5-seed2");
        assert_eq!(super::runs(&rows, &[]), Err(PlanError::NoSeeds));
    }
}
